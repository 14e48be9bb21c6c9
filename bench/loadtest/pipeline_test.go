package main

import (
	"bytes"
	"cmp"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/config"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/keystore"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/logging"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/server"
)

// newPipeline builds the proxy's whole request pipeline in this process, as
// the serve command does, on a new SQLite key store holding one key with
// scopes. upstreamURL selects the mode as API_SERVICE_URL does: GraphQL
// when its path ends in /graphql, REST otherwise. It returns the handler and
// the key. Logs and the audit trail go to io.Discard, so their formatting is
// measured but no write.
func newPipeline(tb testing.TB, upstreamURL, scopes string) (http.Handler, string) {
	tb.Helper()
	ctx := context.Background()

	cfg, err := config.Load(nil, []string{
		"API_SERVICE_URL=" + upstreamURL,
		"DB_TYPE=sqlite",
		"DB_DATABASE=" + filepath.Join(tb.TempDir(), "keys.db"),
		"LOG_LEVEL=error",
		"TENANT_ID=00000000-0000-4000-8000-000000000001",
		"TENANT_NAME=loadtest",
		"TENANT_SLUG=loadtest",
	})
	if err != nil {
		tb.Fatalf("load configuration: %v", err)
	}

	store, err := server.OpenStore(ctx, cfg, true)
	if err != nil {
		tb.Fatalf("open key store: %v", err)
	}
	secret, err := keystore.NewSecret()
	if err != nil {
		tb.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	key := keystore.Key{
		UserID: "loadtest", Scopes: scopes, IssuedAt: now.Add(-time.Minute), ExpiresAt: now.Add(24 * time.Hour),
		CreatedAt: now, UpdatedAt: now, CreatedBy: "benchmark", UpdatedBy: "benchmark",
	}
	if err := store.Create(ctx, key, secret, false); err != nil {
		store.Close()
		tb.Fatalf("create key: %v", err)
	}

	level := logging.NewLevel(slog.LevelError)
	logger := slog.New(logging.NewHandler(io.Discard, "text", level))
	pipeline, err := server.New(cfg, server.Options{Logger: logger, Level: level, AuditLog: io.Discard, Store: store})
	if err != nil {
		store.Close()
		tb.Fatalf("build server: %v", err)
	}
	tb.Cleanup(func() {
		level.Stop()
		pipeline.Close()
	})
	return pipeline, secret
}

// serveOnce sends one request of s through handler and returns the
// recorded response.
func serveOnce(handler http.Handler, s scenario, authorization string) *httptest.ResponseRecorder {
	var body io.Reader
	if s.Body != nil {
		body = bytes.NewReader(s.Body)
	}
	request := httptest.NewRequest(s.Method, "http://proxy.test"+cmp.Or(s.Path, "/"), body)
	if s.Body != nil {
		request.Header.Set("Content-Type", "application/json")
	}
	request.Header.Set("Authorization", authorization)
	response := httptest.NewRecorder()
	handler.ServeHTTP(response, request)
	return response
}

// namedHandler is a handler that BenchmarkPipeline measures, with the
// Authorization header value its requests carry.
type namedHandler struct {
	name          string
	handler       http.Handler
	authorization string
}

// newModeHandlers returns, for each API mode, the bare ReverseProxy and the
// proxy's pipeline in front of the fake upstream at upstreamRoot, in that
// order. In GraphQL mode both forward to upstreamRoot/graphql with a
// keyScopes key, in REST mode to upstreamRoot with a restKeyScopes key.
func newModeHandlers(tb testing.TB, upstreamRoot string) map[apiMode][]namedHandler {
	tb.Helper()
	handlers := make(map[apiMode][]namedHandler)
	for _, mode := range allModes {
		upstreamURL, scopes := upstreamRoot+"/graphql", keyScopes
		if mode == modeREST {
			upstreamURL, scopes = upstreamRoot, restKeyScopes
		}
		target, err := url.Parse(upstreamURL)
		if err != nil {
			tb.Fatal(err)
		}

		pipeline, secret := newPipeline(tb, upstreamURL, scopes)
		authorization := "Bearer " + secret
		handlers[mode] = []namedHandler{
			{"bare-reverseproxy", newBareProxy(target), authorization},
			{"prefect-auth-proxy", pipeline, authorization},
		}
	}
	return handlers
}

// BenchmarkPipeline measures one request through the bare ReverseProxy and
// through the proxy's whole pipeline in this process, with no client
// connection. In GraphQL mode the pipeline is request id, authentication
// with a cached key, GraphQL parsing and authorization, audit and
// forwarding. In REST mode it is request id, path cleaning, authentication
// with a cached key, the route table and role check, and forwarding. Both
// handlers forward over loopback to the fake upstream, which runs in the
// same process, so ns/op and allocs/op include the upstream's share. The
// difference between the two rows is the proxy's own cost.
func BenchmarkPipeline(b *testing.B) {
	upstream := httptest.NewServer(newUpstreamHandler())
	defer upstream.Close()
	handlers := newModeHandlers(b, upstream.URL)
	testScenarios, err := scenarios(allModes)
	if err != nil {
		b.Fatal(err)
	}

	for _, s := range testScenarios {
		for _, h := range handlers[s.Mode] {
			b.Run(s.BenchmarkName+"/"+h.name, func(b *testing.B) {
				// The first request also puts the key in the cache.
				want := upstreamResponse(s.Path, s.Body)
				if response := serveOnce(h.handler, s, h.authorization); response.Code != http.StatusOK || !bytes.Equal(response.Body.Bytes(), want) {
					b.Fatalf("response = HTTP %d %.300q, want HTTP 200 with the upstream's response", response.Code, response.Body.Bytes())
				}

				b.ReportAllocs()
				b.SetBytes(int64(len(s.Body)))
				for b.Loop() {
					if response := serveOnce(h.handler, s, h.authorization); response.Code != http.StatusOK {
						b.Fatalf("status = %d, want 200", response.Code)
					}
				}
			})
		}
	}
}
