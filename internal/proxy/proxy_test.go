package proxy

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

type recorded struct {
	path   string
	host   string
	header http.Header
	body   string
}

func newUpstream(t *testing.T, seen chan<- recorded) *httptest.Server {
	t.Helper()
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		seen <- recorded{path: r.URL.Path, host: r.Host, header: r.Header.Clone(), body: string(body)}
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"data":{}}`)
	}))
	t.Cleanup(upstream.Close)
	return upstream
}

func TestForwardJoinsPathAndStripsCredentials(t *testing.T) {
	seen := make(chan recorded, 1)
	upstream := newUpstream(t, seen)
	target, _ := url.Parse(upstream.URL + "/graphql")

	engine := New(Options{
		Target:               target,
		StripHeaders:         []string{"authorization", "X-Prefect-User-Id"},
		StripResponseHeaders: []string{"Access-Control-Allow-Origin"},
	})
	request := httptest.NewRequest(http.MethodPost, "http://proxy.example/", strings.NewReader(`{"query":"{hello}"}`))
	request.Header.Set("Authorization", "Bearer secret-key")
	request.Header.Set("X-Prefect-User-Id", "secret-key")
	request.Header.Set("X-Prefect-Agent-Id", "agent-1")
	response := httptest.NewRecorder()

	engine.ServeHTTP(response, request)
	got := <-seen

	if response.Code != http.StatusOK {
		t.Fatalf("status = %d, want 200", response.Code)
	}
	if got.path != "/graphql/" {
		t.Errorf("upstream path = %q, want /graphql/", got.path)
	}
	if got.body != `{"query":"{hello}"}` {
		t.Errorf("upstream body = %q", got.body)
	}
	for _, name := range []string{"Authorization", "X-Prefect-User-Id"} {
		if value := got.header.Get(name); value != "" {
			t.Errorf("upstream received %s = %q, want it removed", name, value)
		}
	}
	if value := got.header.Get("X-Prefect-Agent-Id"); value != "agent-1" {
		t.Errorf("X-Prefect-Agent-Id = %q, want agent-1", value)
	}
	if value := got.header.Get("X-Forwarded-Host"); value != "proxy.example" {
		t.Errorf("X-Forwarded-Host = %q, want proxy.example", value)
	}
	if value := response.Header().Get("Access-Control-Allow-Origin"); value != "" {
		t.Errorf("upstream CORS header passed through: %q", value)
	}
}

func TestForwardKeepsClientHost(t *testing.T) {
	seen := make(chan recorded, 1)
	upstream := newUpstream(t, seen)
	target, _ := url.Parse(upstream.URL)

	engine := New(Options{Target: target, KeepClientHost: true})
	engine.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "http://prefect.example/api/health", nil))
	got := <-seen

	if got.host != "prefect.example" {
		t.Errorf("upstream Host = %q, want prefect.example", got.host)
	}
	if got.path != "/api/health" {
		t.Errorf("upstream path = %q, want /api/health", got.path)
	}
}

func TestForwardUnreachableIs502(t *testing.T) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	address := listener.Addr().String()
	listener.Close()
	target, _ := url.Parse("http://" + address)

	var status int
	engine := New(Options{Target: target, ErrorHandler: func(w http.ResponseWriter, r *http.Request, code int, err error) {
		status = code
		w.WriteHeader(code)
	}})
	response := httptest.NewRecorder()
	engine.ServeHTTP(response, httptest.NewRequest(http.MethodGet, "/", nil))

	if status != http.StatusBadGateway || response.Code != http.StatusBadGateway {
		t.Errorf("status = %d (handler %d), want 502", response.Code, status)
	}
}

func TestForwardSlowUpstreamIs504(t *testing.T) {
	release := make(chan struct{})
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
	}))
	defer upstream.Close()
	defer close(release)
	target, _ := url.Parse(upstream.URL)

	var status int
	engine := New(Options{
		Target:                target,
		ResponseHeaderTimeout: 50 * time.Millisecond,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, code int, err error) {
			status = code
			w.WriteHeader(code)
		},
	})
	engine.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))

	if status != http.StatusGatewayTimeout {
		t.Errorf("status = %d, want 504", status)
	}
}

func TestForwardStreamsBeforeUpstreamEnds(t *testing.T) {
	release := make(chan struct{})
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "first chunk\n")
		w.(http.Flusher).Flush()
		<-release
		_, _ = io.WriteString(w, "second chunk\n")
	}))
	defer upstream.Close()
	target, _ := url.Parse(upstream.URL)

	proxyServer := httptest.NewServer(New(Options{Target: target}))
	defer proxyServer.Close()

	response, err := http.Get(proxyServer.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer response.Body.Close()

	buffer := make([]byte, len("first chunk\n"))
	if _, err := io.ReadFull(response.Body, buffer); err != nil {
		t.Fatalf("read first chunk while the upstream is still writing: %v", err)
	}
	close(release)
	rest, _ := io.ReadAll(response.Body)
	if string(rest) != "second chunk\n" {
		t.Errorf("rest = %q", rest)
	}
}

func TestForwardedHeadersFromTrustedProxy(t *testing.T) {
	cases := []struct {
		name      string
		trusted   bool
		wantFor   string
		wantProto string
		wantHost  string
	}{
		{name: "trusted", trusted: true, wantFor: "203.0.113.9, 192.0.2.1", wantProto: "https", wantHost: "prefect.example.com"},
		{name: "untrusted", trusted: false, wantFor: "192.0.2.1", wantProto: "http", wantHost: "proxy.internal"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			seen := make(chan recorded, 1)
			upstream := newUpstream(t, seen)
			target, _ := url.Parse(upstream.URL)
			engine := New(Options{Target: target, TrustForwarded: func(*http.Request) bool { return tc.trusted }})

			request := httptest.NewRequest(http.MethodGet, "http://proxy.internal/api/health", nil)
			request.RemoteAddr = "192.0.2.1:4000"
			request.Header.Set("X-Forwarded-For", "203.0.113.9")
			request.Header.Set("X-Forwarded-Proto", "https")
			request.Header.Set("X-Forwarded-Host", "prefect.example.com")
			engine.ServeHTTP(httptest.NewRecorder(), request)
			got := <-seen

			if value := got.header.Get("X-Forwarded-For"); value != tc.wantFor {
				t.Errorf("X-Forwarded-For = %q, want %q", value, tc.wantFor)
			}
			if value := got.header.Get("X-Forwarded-Proto"); value != tc.wantProto {
				t.Errorf("X-Forwarded-Proto = %q, want %q", value, tc.wantProto)
			}
			if value := got.header.Get("X-Forwarded-Host"); value != tc.wantHost {
				t.Errorf("X-Forwarded-Host = %q, want %q", value, tc.wantHost)
			}
		})
	}
}
