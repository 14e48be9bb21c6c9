package metrics

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/authz"
)

func TestMetricsExposition(t *testing.T) {
	m := New(func() CacheCounters { return CacheCounters{Hits: 7, Lookups: 2} })

	m.ObserveRequest(authz.Denied(authz.ReasonScopeMissing, "mutation/x", ""), 3*time.Millisecond)
	m.ObserveOperation("mutation", authz.Denied(authz.ReasonScopeMissing, "mutation/x", ""))
	m.ObserveUpstreamError(http.StatusGatewayTimeout)

	want := `
# HELP prefect_auth_proxy_key_cache_hits_total Requests answered from a cached key.
# TYPE prefect_auth_proxy_key_cache_hits_total counter
prefect_auth_proxy_key_cache_hits_total 7
# HELP prefect_auth_proxy_requests_total Requests by decision (allowed or blocked) and reason code.
# TYPE prefect_auth_proxy_requests_total counter
prefect_auth_proxy_requests_total{decision="blocked",reason="scope-missing"} 1
# HELP prefect_auth_proxy_upstream_errors_total Requests that failed to reach the upstream, by answered status (502 or 504).
# TYPE prefect_auth_proxy_upstream_errors_total counter
prefect_auth_proxy_upstream_errors_total{status="504"} 1
`
	err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want),
		"prefect_auth_proxy_key_cache_hits_total", "prefect_auth_proxy_requests_total", "prefect_auth_proxy_upstream_errors_total")
	if err != nil {
		t.Error(err)
	}

	response := httptest.NewRecorder()
	m.Handler().ServeHTTP(response, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if !strings.Contains(response.Body.String(), `prefect_auth_proxy_graphql_operations_total{decision="blocked",operation_type="mutation",reason="scope-missing"} 1`) {
		t.Errorf("operations counter missing from exposition:\n%s", response.Body.String())
	}
}
