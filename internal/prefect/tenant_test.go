package prefect

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

func tenantUpstream(t *testing.T, body string, calls *atomic.Int32) *httptest.Server {
	t.Helper()
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(server.Close)
	return server
}

func TestTenantSourceLearnsOnlyTenant(t *testing.T) {
	var calls atomic.Int32
	upstream := tenantUpstream(t, `{"data":{"tenant":[{"id":"t-1","name":"Main","slug":"main"}]}}`, &calls)
	source := NewTenantSource(Tenant{}, upstream.URL, upstream.Client(), slog.New(slog.DiscardHandler))

	for range 3 {
		tenant, err := source.Tenant(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if tenant != (Tenant{ID: "t-1", Name: "Main", Slug: "main"}) {
			t.Errorf("tenant = %+v", tenant)
		}
	}
	if calls.Load() != 1 {
		t.Errorf("upstream asked %d times, want 1", calls.Load())
	}
}

func TestTenantSourceSeveralTenants(t *testing.T) {
	var calls atomic.Int32
	upstream := tenantUpstream(t, `{"data":{"tenant":[{"id":"t-1","name":"A","slug":"a"},{"id":"t-2","name":"B","slug":"b"}]}}`, &calls)

	source := NewTenantSource(Tenant{}, upstream.URL, upstream.Client(), slog.New(slog.DiscardHandler))
	if _, err := source.Tenant(context.Background()); !errors.Is(err, ErrTenantAmbiguous) {
		t.Errorf("error = %v, want ErrTenantAmbiguous", err)
	}

	configured := NewTenantSource(Tenant{ID: "t-2", Slug: "custom"}, upstream.URL, upstream.Client(), slog.New(slog.DiscardHandler))
	tenant, err := configured.Tenant(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if tenant != (Tenant{ID: "t-2", Name: "B", Slug: "custom"}) {
		t.Errorf("tenant = %+v, want t-2 with name B and the configured slug", tenant)
	}
}

func TestTenantSourceUnreachableUpstream(t *testing.T) {
	upstream := httptest.NewServer(http.NotFoundHandler())
	address := upstream.URL
	upstream.Close()

	unset := NewTenantSource(Tenant{}, address, http.DefaultClient, slog.New(slog.DiscardHandler))
	if _, err := unset.Tenant(context.Background()); err == nil {
		t.Error("expected an error without TENANT_ID and without upstream")
	}

	configured := NewTenantSource(Tenant{ID: "t-9"}, address, http.DefaultClient, slog.New(slog.DiscardHandler))
	tenant, err := configured.Tenant(context.Background())
	if err != nil {
		t.Fatalf("a configured TENANT_ID must be enough: %v", err)
	}
	if tenant.ID != "t-9" {
		t.Errorf("tenant id = %q, want t-9", tenant.ID)
	}
}
