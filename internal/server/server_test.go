package server

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/config"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/keystore"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/logging"
)

const testTenantID = "0f4c5a3e-1111-4b5a-9c1d-8c2f9a0b7e61"

// upstreamRecorder is a fake Prefect 1 Apollo server that records what it
// receives and responds to each operation with {"data":{"n":<position>}}.
type upstreamRecorder struct {
	mu       sync.Mutex
	requests []recordedRequest
}

type recordedRequest struct {
	Path   string
	Header http.Header
	Body   string
}

func (u *upstreamRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	u.mu.Lock()
	u.requests = append(u.requests, recordedRequest{Path: r.URL.Path, Header: r.Header.Clone(), Body: string(body)})
	u.mu.Unlock()

	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	if strings.Contains(string(body), "tenant { id name slug }") {
		_, _ = io.WriteString(w, `{"data":{"tenant":[{"id":"`+testTenantID+`","name":"Main","slug":"main"}]}}`)
		return
	}
	if bytes.HasPrefix(bytes.TrimSpace(body), []byte("[")) {
		var elements []json.RawMessage
		_ = json.Unmarshal(body, &elements)
		results := make([]string, len(elements))
		for i := range elements {
			results[i] = `{"data":{"n":` + string(rune('0'+i)) + `}}`
		}
		_, _ = io.WriteString(w, "["+strings.Join(results, ",")+"]")
		return
	}
	_, _ = io.WriteString(w, `{"data":{"n":0}}`)
}

// received returns the recorded requests, without the tenant lookup the
// proxy makes on its own.
func (u *upstreamRecorder) received() []recordedRequest {
	u.mu.Lock()
	defer u.mu.Unlock()
	var out []recordedRequest
	for _, request := range u.requests {
		if !strings.Contains(request.Body, "tenant { id name slug }") {
			out = append(out, request)
		}
	}
	return out
}

type harness struct {
	proxy    *httptest.Server
	server   *Server
	upstream *upstreamRecorder
	store    keystore.Store
	logs     *syncBuffer
	keys     map[string]string
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of loggers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newHarness starts an upstream, a SQLite key store with one key per entry
// of scopes (user id → scopes text) and the proxy in front of the upstream.
func newHarness(t *testing.T, environ []string, scopes map[string]string) *harness {
	t.Helper()
	upstream := &upstreamRecorder{}
	upstreamServer := httptest.NewServer(upstream)
	t.Cleanup(upstreamServer.Close)

	environ = append([]string{
		"API_SERVICE_URL=" + upstreamServer.URL + "/graphql",
		"DB_DATABASE=" + filepath.Join(t.TempDir(), "keys.db"),
		"LOG_LEVEL=debug",
		"LOG_FORMAT=json",
	}, environ...)
	return startHarness(t, environ, scopes, upstream)
}

func startHarness(t testing.TB, environ []string, scopes map[string]string, upstream *upstreamRecorder) *harness {
	t.Helper()
	cfg, err := config.Load(nil, environ)
	if err != nil {
		t.Fatalf("load config: %v", err)
	}

	ctx := context.Background()
	store, err := OpenStore(ctx, cfg, true)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	keys := map[string]string{}
	now := time.Now().UTC().Add(-time.Minute).Truncate(time.Second)
	for userID, text := range scopes {
		secret, _ := keystore.NewSecret()
		key := keystore.Key{UserID: userID, Scopes: text, IssuedAt: now, ExpiresAt: now.Add(time.Hour),
			CreatedAt: now, UpdatedAt: now, CreatedBy: "test", UpdatedBy: "test"}
		if err := store.Create(ctx, key, secret, false); err != nil {
			t.Fatalf("create key: %v", err)
		}
		keys[userID] = secret
	}

	logs := &syncBuffer{}
	level := logging.NewLevel(cfg.LogLevel)
	server, err := New(cfg, Options{
		Logger:   slog.New(logging.NewHandler(logs, "json", level)),
		Level:    level,
		AuditLog: logs,
		Store:    store,
	})
	if err != nil {
		t.Fatalf("new server: %v", err)
	}
	proxy := httptest.NewServer(server)
	t.Cleanup(func() {
		proxy.Close()
		level.Stop()
		server.Close()
		for userID, secret := range keys {
			if strings.Contains(logs.String(), secret) {
				t.Errorf("logs contain the raw key of %s", userID)
			}
		}
	})
	return &harness{proxy: proxy, server: server, upstream: upstream, store: store, logs: logs, keys: keys}
}

type answer struct {
	status int
	header http.Header
	body   string
}

func (h *harness) post(t *testing.T, path, key, contentType, body string) answer {
	t.Helper()
	request, _ := http.NewRequest(http.MethodPost, h.proxy.URL+path, strings.NewReader(body))
	if contentType != "" {
		request.Header.Set("Content-Type", contentType)
	}
	if key != "" {
		request.Header.Set("Authorization", "Bearer "+key)
	}
	return do(t, request)
}

func do(t *testing.T, request *http.Request) answer {
	t.Helper()
	response, err := http.DefaultClient.Do(request)
	if err != nil {
		t.Fatalf("%s %s: %v", request.Method, request.URL.Path, err)
	}
	defer response.Body.Close()
	body, _ := io.ReadAll(response.Body)
	return answer{status: response.StatusCode, header: response.Header, body: string(body)}
}

func errorCode(t *testing.T, body string) string {
	t.Helper()
	var result struct {
		Errors []struct {
			Extensions struct {
				Code string `json:"code"`
			} `json:"extensions"`
		} `json:"errors"`
	}
	if err := json.Unmarshal([]byte(body), &result); err != nil || len(result.Errors) == 0 {
		t.Fatalf("answer is not a GraphQL error: %s", body)
	}
	return result.Errors[0].Extensions.Code
}

const jsonType = "application/json"

func TestPartialBatchKeepsPositions(t *testing.T) {
	h := newHarness(t, nil, map[string]string{"viewer": "query/*"})

	batch := `[{"query":"query A { flow { id } }"},{"query":"mutation B { delete_flow(input: {}) { success } }"},{"query":"query C { project { id } }"}]`
	got := h.post(t, "/graphql", h.keys["viewer"], jsonType, batch)

	if got.status != http.StatusOK {
		t.Fatalf("status = %d, body %s", got.status, got.body)
	}
	var results []map[string]any
	if err := json.Unmarshal([]byte(got.body), &results); err != nil {
		t.Fatalf("answer is not an array: %s", got.body)
	}
	if len(results) != 3 {
		t.Fatalf("answer has %d results, want 3: %s", len(results), got.body)
	}
	if results[0]["data"] == nil || results[2]["data"] == nil {
		t.Errorf("allowed positions lack upstream data: %s", got.body)
	}
	if results[1]["errors"] == nil {
		t.Errorf("denied position 1 has no error: %s", got.body)
	}

	received := h.upstream.received()
	if len(received) != 1 {
		t.Fatalf("upstream got %d requests, want 1", len(received))
	}
	want := `[{"query":"query A { flow { id } }"},{"query":"query C { project { id } }"}]`
	if received[0].Body != want {
		t.Errorf("upstream body = %s\nwant %s", received[0].Body, want)
	}
}

func TestAllowedRequestForwardedUnchanged(t *testing.T) {
	h := newHarness(t, nil, map[string]string{"viewer": "query/*"})

	body := `{"query": "query {\n    flow {\n        id\n    }\n}", "variables": "null"}`
	request, _ := http.NewRequest(http.MethodPost, h.proxy.URL+"/", strings.NewReader(body))
	request.Header.Set("Content-Type", jsonType)
	request.Header.Set("Authorization", "Bearer "+h.keys["viewer"])
	request.Header.Set("X-Prefect-User-Id", h.keys["viewer"])
	request.Header.Set("X-Prefect-Agent-Id", "agent-7")
	got := do(t, request)

	if got.status != http.StatusOK {
		t.Fatalf("status = %d, body %s", got.status, got.body)
	}
	received := h.upstream.received()
	if len(received) != 1 {
		t.Fatalf("upstream got %d requests, want 1", len(received))
	}
	if received[0].Body != body {
		t.Errorf("upstream body = %q, want the original bytes", received[0].Body)
	}
	if received[0].Path != "/graphql/" {
		t.Errorf("upstream path = %q, want /graphql/", received[0].Path)
	}
	for _, name := range []string{"Authorization", "X-Prefect-User-Id"} {
		if value := received[0].Header.Get(name); value != "" {
			t.Errorf("upstream received %s", name)
		}
	}
	if received[0].Header.Get("X-Prefect-Agent-Id") != "agent-7" {
		t.Error("X-Prefect-Agent-Id was not forwarded")
	}
}

func TestDenialStatuses(t *testing.T) {
	mutation := `{"query":"mutation { create_project(input: {name: \"x\"}) { id } }"}`
	cases := []struct {
		name    string
		environ []string
		key     string
		want    int
		code    string
	}{
		{name: "scope missing, default", key: "viewer", want: http.StatusOK, code: "FORBIDDEN"},
		{name: "key missing, default", want: http.StatusOK, code: "UNAUTHENTICATED"},
		{name: "scope missing, http", environ: []string{"GRAPHQL_DENIAL_STATUS=http"}, key: "viewer", want: http.StatusForbidden, code: "FORBIDDEN"},
		{name: "key missing, http", environ: []string{"GRAPHQL_DENIAL_STATUS=http"}, want: http.StatusUnauthorized, code: "UNAUTHENTICATED"},
		{name: "key unknown", key: "pap_unknown", want: http.StatusOK, code: "UNAUTHENTICATED"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.environ, map[string]string{"viewer": "query/*"})
			key := h.keys[tc.key]
			if key == "" {
				key = tc.key
			}

			got := h.post(t, "/", key, jsonType, mutation)

			if got.status != tc.want {
				t.Errorf("status = %d, want %d", got.status, tc.want)
			}
			if code := errorCode(t, got.body); code != tc.code {
				t.Errorf("code = %s, want %s", code, tc.code)
			}
			if n := len(h.upstream.received()); n != 0 {
				t.Errorf("upstream got %d requests, want none", n)
			}
		})
	}
}

func TestMalformedRequests(t *testing.T) {
	h := newHarness(t, []string{"MAX_BODY_BYTES=1024"}, map[string]string{"viewer": "query/*, mutation/*"})
	key := h.keys["viewer"]

	cases := []struct {
		name        string
		method      string
		contentType string
		body        string
		want        int
	}{
		{name: "malformed JSON", method: http.MethodPost, contentType: jsonType, body: `{"query": `, want: http.StatusBadRequest},
		{name: "malformed GraphQL", method: http.MethodPost, contentType: jsonType, body: `{"query":"query {"}`, want: http.StatusBadRequest},
		{name: "text/plain", method: http.MethodPost, contentType: "text/plain", body: `{"query":"{ flow { id } }"}`, want: http.StatusUnsupportedMediaType},
		{name: "too large", method: http.MethodPost, contentType: jsonType, body: `{"query":"{ flow { id } }","variables":{"x":"` + strings.Repeat("a", 2000) + `"}}`, want: http.StatusRequestEntityTooLarge},
		{name: "unknown operationName", method: http.MethodPost, contentType: jsonType, body: `{"query":"query A { flow { id } }","operationName":"B"}`, want: http.StatusBadRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			request, _ := http.NewRequest(tc.method, h.proxy.URL+"/graphql", strings.NewReader(tc.body))
			request.Header.Set("Content-Type", tc.contentType)
			request.Header.Set("Authorization", "Bearer "+key)
			got := do(t, request)

			if got.status != tc.want {
				t.Errorf("status = %d, want %d (body %s)", got.status, tc.want, got.body)
			}
			errorCode(t, got.body)
		})
	}

	t.Run("mutation over GET", func(t *testing.T) {
		request, _ := http.NewRequest(http.MethodGet, h.proxy.URL+"/graphql?query="+"mutation%20%7B%20delete_flow%20%7B%20success%20%7D%20%7D", nil)
		request.Header.Set("Authorization", "Bearer "+key)
		got := do(t, request)
		if got.status != http.StatusMethodNotAllowed {
			t.Errorf("status = %d, want 405", got.status)
		}
	})

	if n := len(h.upstream.received()); n != 0 {
		t.Errorf("upstream got %d requests, want none", n)
	}
	if !strings.Contains(h.logs.String(), `"reason":"body-too-large"`) {
		t.Error("the oversized body was not logged with its reason")
	}
}

func TestCloudLoginAnsweredLocally(t *testing.T) {
	h := newHarness(t, nil, map[string]string{"agent": "mutation/get_runs_in_queue"})

	got := h.post(t, "/graphql", h.keys["agent"], jsonType, `{"query":"query { auth_info { tenant_id } }","variables":"null"}`)
	want := `{"data":{"auth_info":{"tenant_id":"` + testTenantID + `"}}}`
	if got.body != want {
		t.Errorf("auth_info answer = %s, want %s", got.body, want)
	}

	got = h.post(t, "/graphql", h.keys["agent"], jsonType, `{"query":"query ($slug: String) { tenant(where: {slug: { _eq: $slug } }) { id } }","variables":"{\"slug\": \"main\"}"}`)
	want = `{"data":{"tenant":[{"id":"` + testTenantID + `"}]}}`
	if got.body != want {
		t.Errorf("tenant answer = %s, want %s", got.body, want)
	}

	if n := len(h.upstream.received()); n != 0 {
		t.Errorf("upstream got %d requests, want none", n)
	}
}

func TestPreflightAndCORS(t *testing.T) {
	h := newHarness(t, []string{"CORS_ALLOWED_ORIGINS=http://ui.example"}, map[string]string{"viewer": "query/*"})

	request, _ := http.NewRequest(http.MethodOptions, h.proxy.URL+"/graphql", nil)
	request.Header.Set("Origin", "http://ui.example")
	request.Header.Set("Access-Control-Request-Method", "POST")
	request.Header.Set("Access-Control-Request-Headers", "content-type,x-prefect-user-id")
	got := do(t, request)
	if got.status != http.StatusNoContent {
		t.Errorf("preflight status = %d, want 204", got.status)
	}
	if got.header.Get("Access-Control-Allow-Origin") != "http://ui.example" {
		t.Errorf("preflight Allow-Origin = %q", got.header.Get("Access-Control-Allow-Origin"))
	}
	if got.header.Get("Access-Control-Allow-Headers") != "content-type,x-prefect-user-id" {
		t.Errorf("preflight Allow-Headers = %q", got.header.Get("Access-Control-Allow-Headers"))
	}

	denied, _ := http.NewRequest(http.MethodPost, h.proxy.URL+"/graphql", strings.NewReader(`{"query":"{ flow { id } }"}`))
	denied.Header.Set("Origin", "http://ui.example")
	denied.Header.Set("Content-Type", jsonType)
	denied.Header.Set("X-Prefect-User-Id", "null")
	got = do(t, denied)
	if got.header.Get("Access-Control-Allow-Origin") != "http://ui.example" {
		t.Errorf("denial lacks the CORS header the browser needs")
	}

	allowed, _ := http.NewRequest(http.MethodPost, h.proxy.URL+"/graphql", strings.NewReader(`{"query":"{ flow { id } }"}`))
	allowed.Header.Set("Origin", "http://ui.example")
	allowed.Header.Set("Content-Type", jsonType)
	allowed.Header.Set("X-Prefect-User-Id", h.keys["viewer"])
	got = do(t, allowed)
	if values := got.header.Values("Access-Control-Allow-Origin"); len(values) != 1 || values[0] != "http://ui.example" {
		t.Errorf("forwarded answer Allow-Origin = %q, want exactly the proxy's", values)
	}

	other, _ := http.NewRequest(http.MethodOptions, h.proxy.URL+"/graphql", nil)
	other.Header.Set("Origin", "http://evil.example")
	other.Header.Set("Access-Control-Request-Method", "POST")
	got = do(t, other)
	if got.header.Get("Access-Control-Allow-Origin") != "" {
		t.Error("an origin outside CORS_ALLOWED_ORIGINS was allowed")
	}
}

func TestUpstreamFailures(t *testing.T) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddress := listener.Addr().String()
	listener.Close()

	h := startHarness(t, []string{
		"API_SERVICE_URL=http://" + closedAddress + "/graphql",
		"DB_DATABASE=" + filepath.Join(t.TempDir(), "keys.db"),
		"TENANT_ID=" + testTenantID,
	}, map[string]string{"viewer": "query/*"}, nil)

	got := h.post(t, "/graphql", h.keys["viewer"], jsonType, `{"query":"{ flow { id } }"}`)
	if got.status != http.StatusBadGateway {
		t.Errorf("status = %d, want 502", got.status)
	}
	if code := errorCode(t, got.body); code != "BAD_GATEWAY" {
		t.Errorf("code = %s, want BAD_GATEWAY", code)
	}

	ready := do(t, mustRequest(t, http.MethodGet, h.proxy.URL+"/readyz", ""))
	if ready.status != http.StatusServiceUnavailable {
		t.Errorf("readyz status = %d, want 503 while the upstream is down", ready.status)
	}

	login := h.post(t, "/graphql", h.keys["viewer"], jsonType, `{"query":"query { auth_info { tenant_id } }"}`)
	if !strings.Contains(login.body, testTenantID) {
		t.Errorf("login with TENANT_ID set and the upstream down = %s", login.body)
	}
}

func TestKeyStoreDownIs503(t *testing.T) {
	h := newHarness(t, nil, map[string]string{"viewer": "query/*"})
	h.store.Close()

	got := h.post(t, "/graphql", h.keys["viewer"], jsonType, `{"query":"{ flow { id } }"}`)
	if got.status != http.StatusServiceUnavailable {
		t.Errorf("status = %d, want 503", got.status)
	}
	if n := len(h.upstream.received()); n != 0 {
		t.Errorf("upstream got %d requests, want none", n)
	}
}

func TestAdminEndpoints(t *testing.T) {
	h := newHarness(t, nil, map[string]string{"admin": "admin/*", "viewer": "query/*", "logs": "admin/logs"})

	cases := []struct {
		name   string
		method string
		path   string
		key    string
		want   int
	}{
		{name: "healthcheck is public", method: http.MethodGet, path: "/healthcheck", want: http.StatusOK},
		{name: "readyz is public", method: http.MethodGet, path: "/readyz", want: http.StatusOK},
		{name: "cache reset without key", method: http.MethodPost, path: "/cache/reset", want: http.StatusUnauthorized},
		{name: "cache reset by viewer", method: http.MethodPost, path: "/cache/reset", key: "viewer", want: http.StatusForbidden},
		{name: "cache reset by logs admin", method: http.MethodPost, path: "/cache/reset", key: "logs", want: http.StatusForbidden},
		{name: "cache reset by admin", method: http.MethodPost, path: "/cache/reset", key: "admin", want: http.StatusOK},
		{name: "log level by logs admin", method: http.MethodPost, path: "/logs/info", key: "logs", want: http.StatusOK},
		{name: "invalid log level", method: http.MethodPost, path: "/logs/loud", key: "admin", want: http.StatusBadRequest},
		{name: "forget key", method: http.MethodDelete, path: "/cache/" + h.keys["viewer"], key: "admin", want: http.StatusOK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			request := mustRequest(t, tc.method, h.proxy.URL+tc.path, "")
			if tc.key != "" {
				request.Header.Set("Authorization", "Bearer "+h.keys[tc.key])
			}
			got := do(t, request)
			if got.status != tc.want {
				t.Errorf("status = %d, want %d (body %s)", got.status, tc.want, got.body)
			}
		})
	}
	if strings.Contains(h.logs.String(), h.keys["viewer"]) {
		t.Error("DELETE /cache/{key} wrote the key to the log")
	}
}

func TestPublicAccessForwardsWithoutKey(t *testing.T) {
	h := newHarness(t, []string{"ALLOW_PUBLIC_ACCESS=true"}, nil)

	got := h.post(t, "/graphql", "", jsonType, `{"query":"mutation { delete_flow(input: {}) { success } }"}`)
	if got.status != http.StatusOK || len(h.upstream.received()) != 1 {
		t.Fatalf("status = %d, upstream requests %d: want the request forwarded", got.status, len(h.upstream.received()))
	}
	if !strings.Contains(h.logs.String(), `"reason":"public-access"`) {
		t.Error("the mutation under public access was not audited")
	}
}

func TestClientAddressTrustsOnlyConfiguredProxies(t *testing.T) {
	h := newHarness(t, []string{"TRUSTED_PROXIES=127.0.0.1/32"}, map[string]string{"viewer": "query/*"})

	request := mustRequest(t, http.MethodPost, h.proxy.URL+"/graphql", `{"query":"mutation { x }"}`)
	request.Header.Set("Content-Type", jsonType)
	request.Header.Set("X-Forwarded-For", "203.0.113.9, 127.0.0.1")
	do(t, request)

	if !strings.Contains(h.logs.String(), `"client":"203.0.113.9"`) {
		t.Errorf("audit event does not name the forwarded client:\n%s", h.logs.String())
	}
}

func mustRequest(t *testing.T, method, url, body string) *http.Request {
	t.Helper()
	request, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return request
}

func TestForgetCachedKeyByUserOrHash(t *testing.T) {
	h := newHarness(t, nil, map[string]string{"admin": "admin/*", "viewer": "query/*"})
	forget := func(target string) string {
		request := mustRequest(t, http.MethodDelete, h.proxy.URL+"/cache/"+target, "")
		request.Header.Set("Authorization", "Bearer "+h.keys["admin"])
		return do(t, request).body
	}
	useViewerKey := func() {
		h.post(t, "/graphql", h.keys["viewer"], jsonType, `{"query":"{ flow { id } }"}`)
	}

	useViewerKey()
	if body := forget("viewer"); !strings.Contains(body, `"entries":1`) {
		t.Errorf("DELETE /cache/viewer = %s, want one entry removed", body)
	}

	useViewerKey()
	if body := forget(keystore.Hash(h.keys["viewer"])); !strings.Contains(body, `"removed":true`) {
		t.Errorf("DELETE /cache/<stored hash> = %s, want the entry removed", body)
	}

	if body := forget("nobody"); !strings.Contains(body, `"removed":false`) {
		t.Errorf("DELETE /cache/nobody = %s, want nothing removed", body)
	}
}

func TestReadinessFailsWithoutKeyTable(t *testing.T) {
	h := newHarness(t, nil, nil)
	db := h.store.(interface{ DB() *sql.DB }).DB()
	if _, err := db.Exec("DROP TABLE prefect_api_keys"); err != nil {
		t.Fatal(err)
	}

	got := do(t, mustRequest(t, http.MethodGet, h.proxy.URL+"/readyz", ""))
	if got.status != http.StatusServiceUnavailable {
		t.Errorf("readyz without the key table: status %d, want 503", got.status)
	}
	if strings.Contains(got.body, "prefect_api_keys") || strings.Contains(got.body, "keys.db") {
		t.Errorf("public readyz body shows internal details: %s", got.body)
	}
}
