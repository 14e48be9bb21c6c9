package server

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"testing"
)

// TestResolveTenantSkippedInRESTMode checks that a proxy in front of a
// Prefect 2/3 server sends it no Prefect 1 tenant query at start-up.
func TestResolveTenantSkippedInRESTMode(t *testing.T) {
	upstream := &upstreamRecorder{}
	upstreamServer := httptest.NewServer(upstream)
	t.Cleanup(upstreamServer.Close)

	h := startHarness(t, []string{
		"API_SERVICE_URL=" + upstreamServer.URL,
		"DB_DATABASE=" + filepath.Join(t.TempDir(), "keys.db"),
		"LOG_FORMAT=json",
	}, nil, upstream)
	h.server.ResolveTenant(context.Background())

	upstream.mu.Lock()
	defer upstream.mu.Unlock()
	if len(upstream.requests) != 0 {
		t.Errorf("upstream received %d requests, expected no tenant query in REST mode: %+v", len(upstream.requests), upstream.requests)
	}
}
