package server

import (
	"context"
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/config"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/logging"
)

// newRESTHarness starts the proxy in REST mode in front of a recording
// upstream.
func newRESTHarness(t testing.TB, environ []string, scopes map[string]string) *harness {
	t.Helper()
	upstream := &upstreamRecorder{}
	upstreamServer := httptest.NewServer(upstream)
	t.Cleanup(upstreamServer.Close)

	environ = append([]string{
		"API_SERVICE_URL=" + upstreamServer.URL,
		"DB_DATABASE=" + filepath.Join(t.TempDir(), "keys.db"),
		"LOG_LEVEL=debug",
		"LOG_FORMAT=json",
	}, environ...)
	return startHarness(t, environ, scopes, upstream)
}

func basic(text string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(text))
}

func TestRequireKeyForUI(t *testing.T) {
	h := newRESTHarness(t, []string{"REQUIRE_KEY_FOR_UI=true"}, map[string]string{"viewer": "role/viewer"})

	anonymous := do(t, mustRequest(t, http.MethodGet, h.proxy.URL+"/runs/flow-run/1", ""))
	if anonymous.status != http.StatusUnauthorized {
		t.Errorf("UI page without a key: status %d, want 401", anonymous.status)
	}
	if !strings.HasPrefix(anonymous.header.Get("WWW-Authenticate"), "Basic ") {
		t.Errorf("UI page without a key: WWW-Authenticate = %q, want a Basic challenge", anonymous.header.Get("WWW-Authenticate"))
	}

	api := do(t, mustRequest(t, http.MethodGet, h.proxy.URL+"/api/flows/1", ""))
	if api.status != http.StatusUnauthorized || api.header.Get("WWW-Authenticate") != "" {
		t.Errorf("API without a key: status %d, WWW-Authenticate %q; want 401 without a challenge", api.status, api.header.Get("WWW-Authenticate"))
	}

	request := mustRequest(t, http.MethodGet, h.proxy.URL+"/runs/flow-run/1", "")
	request.Header.Set("Authorization", basic("viewer:"+h.keys["viewer"]))
	signedIn := do(t, request)
	if signedIn.status != http.StatusOK {
		t.Errorf("UI page with Basic user:key: status %d, want 200", signedIn.status)
	}
	received := h.upstream.received()
	if len(received) != 1 || received[0].Path != "/runs/flow-run/1" {
		t.Fatalf("upstream received %+v, want the one UI page", received)
	}
	if received[0].Header.Get("Authorization") != "" {
		t.Error("the client's credential was forwarded with the UI page")
	}
}

func TestUIIsPublicByDefault(t *testing.T) {
	h := newRESTHarness(t, nil, nil)

	for _, path := range []string{"/", "/assets/index.js", "/runs/flow-run/1", "/api/health"} {
		got := do(t, mustRequest(t, http.MethodGet, h.proxy.URL+path, ""))
		if got.status != http.StatusOK {
			t.Errorf("GET %s without a key: status %d, want 200", path, got.status)
		}
	}
	for _, path := range []string{"/api/variables/name/system-health", "/api/flows/1"} {
		got := do(t, mustRequest(t, http.MethodGet, h.proxy.URL+path, ""))
		if got.status != http.StatusUnauthorized {
			t.Errorf("GET %s without a key: status %d, want 401", path, got.status)
		}
	}
}

func TestPermittedRoutesFromJSONAndFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "routes.json")
	if err := os.WriteFile(file, []byte(`{"POST": ["api/flows/filter"]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	h := newRESTHarness(t, []string{
		`PERMITTED_ROUTES_JSON={"GET": ["api/flows/*"]}`,
		"PERMITTED_ROUTES_FILE=" + file,
	}, nil)

	cases := []struct {
		method string
		path   string
		want   int
	}{
		{http.MethodGet, "/api/flows/1", http.StatusOK},
		{http.MethodGet, "/api/flows", http.StatusOK},
		{http.MethodPost, "/api/flows/filter", http.StatusOK},
		{http.MethodPost, "/api/flows/", http.StatusUnauthorized},
		{http.MethodGet, "/api/deployments/1", http.StatusUnauthorized},
	}
	for _, tc := range cases {
		got := do(t, mustRequest(t, tc.method, h.proxy.URL+tc.path, "{}"))
		if got.status != tc.want {
			t.Errorf("%s %s: status %d, want %d", tc.method, tc.path, got.status, tc.want)
		}
	}
}

func TestInvalidPermittedRoutesStopStartUp(t *testing.T) {
	upstream := httptest.NewServer(http.NotFoundHandler())
	defer upstream.Close()

	for _, environ := range [][]string{
		{`PERMITTED_ROUTES_JSON={"GET": "api/flows/*"`},
		{"PERMITTED_ROUTES_FILE=" + filepath.Join(t.TempDir(), "missing.json")},
	} {
		environ = append(environ, "API_SERVICE_URL="+upstream.URL, "DB_DATABASE="+filepath.Join(t.TempDir(), "keys.db"))
		if _, err := newServerForTest(t, environ); err == nil {
			t.Errorf("%v: start-up succeeded, want an error", environ[0])
		}
	}
}

func TestCustomAPIBasePath(t *testing.T) {
	h := newRESTHarness(t, []string{"API_BASE_PATH=/prefect/api"}, map[string]string{"viewer": "role/viewer"})

	health := do(t, mustRequest(t, http.MethodGet, h.proxy.URL+"/prefect/api/health", ""))
	if health.status != http.StatusOK {
		t.Errorf("probe under the custom mount: status %d, want 200", health.status)
	}

	request := mustRequest(t, http.MethodPost, h.proxy.URL+"/prefect/api/deployments/1/create_flow_run", "{}")
	request.Header.Set("Authorization", "Bearer "+h.keys["viewer"])
	denied := do(t, request)
	if denied.status != http.StatusForbidden || !strings.Contains(denied.body, "/prefect/api/deployments/{id}/create_flow_run") {
		t.Errorf("viewer running a deployment: status %d, body %s; want 403 naming the route", denied.status, denied.body)
	}
}

// newServerForTest builds a Server from environ and closes it at the end.
func newServerForTest(t *testing.T, environ []string) (*Server, error) {
	t.Helper()
	cfg, err := config.Load(nil, environ)
	if err != nil {
		return nil, err
	}
	store, err := OpenStore(context.Background(), cfg, true)
	if err != nil {
		return nil, err
	}
	level := logging.NewLevel(cfg.LogLevel)
	server, err := New(cfg, Options{Logger: slog.New(slog.DiscardHandler), Level: level, AuditLog: &syncBuffer{}, Store: store})
	if err != nil {
		store.Close()
		return nil, err
	}
	t.Cleanup(func() { server.Close() })
	return server, nil
}
