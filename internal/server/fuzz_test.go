package server

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/authz/rest"
)

// FuzzForwardedPathIsAuthorized sends arbitrary request targets through the
// REST pipeline with an owner key and checks that whatever reaches the
// upstream carries exactly the path that CleanPath accepted and the
// authorizer decided on.
func FuzzForwardedPathIsAuthorized(f *testing.F) {
	for _, seed := range []string{
		"/api/flows/1", "/api/flows/../admin", "/api/%2e%2e/x", "/api//flows", "/api/flows%2fx",
		"/api/flows/%20x", "/ui-settings", "/assets/a.js", "/api/health", "/api/variables/name/a%40b",
	} {
		f.Add(seed)
	}

	f.Add("/healthcheck")
	h := newRESTHarness(f, nil, map[string]string{"owner": "role/owner"})
	var forwarded []string
	h.server.engine = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		forwarded = append(forwarded, r.URL.Path)
		w.WriteHeader(http.StatusNoContent)
	})

	f.Fuzz(func(t *testing.T, target string) {
		if !strings.HasPrefix(target, "/") || strings.ContainsAny(target, " ?#\x00\r\n\t") {
			return
		}
		request, err := http.NewRequest(http.MethodGet, "http://proxy.test"+target, nil)
		if err != nil {
			return
		}
		request.Header.Set("Authorization", "Bearer "+h.keys["owner"])
		forwarded = forwarded[:0]

		h.server.ServeHTTP(httptest.NewRecorder(), request)

		if h.server.admin.Handler(request.Method, request.URL.Path) != nil {
			return // the proxy's own endpoints, never forwarded
		}
		clean, cleanErr := rest.CleanPath(request.URL.EscapedPath())
		if cleanErr != nil {
			if len(forwarded) > 0 {
				t.Fatalf("target %q was forwarded as %q although CleanPath rejects it: %v", target, forwarded[0], cleanErr)
			}
			return
		}
		if len(forwarded) != 1 {
			t.Fatalf("target %q (clean %q) was forwarded %d times, want once with an owner key", target, clean, len(forwarded))
		}
		if forwarded[0] != clean {
			t.Fatalf("target %q: forwarded path %q, authorized path %q", target, forwarded[0], clean)
		}
	})
}
