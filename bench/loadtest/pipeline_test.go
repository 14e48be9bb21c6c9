package main

import (
	"bytes"
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
// keyScopes. It returns the handler and the key. Logs and the audit trail
// go to io.Discard, so their formatting is measured but no write.
func newPipeline(tb testing.TB, upstreamURL string) (http.Handler, string) {
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
		UserID: "loadtest", Scopes: keyScopes, IssuedAt: now.Add(-time.Minute), ExpiresAt: now.Add(24 * time.Hour),
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

// serveOnce sends one POST with body through handler and returns the
// recorded response.
func serveOnce(handler http.Handler, body []byte, authorization string) *httptest.ResponseRecorder {
	request := httptest.NewRequest(http.MethodPost, "http://proxy.test/", bytes.NewReader(body))
	request.Header.Set("Content-Type", "application/json")
	request.Header.Set("Authorization", authorization)
	response := httptest.NewRecorder()
	handler.ServeHTTP(response, request)
	return response
}

// BenchmarkPipeline measures one request through the bare ReverseProxy and
// through the proxy's whole pipeline (request id, authentication with a
// cached key, GraphQL parsing and authorization, audit, forwarding) in this
// process, with no client connection. Both forward over loopback to the fake
// upstream, which runs in the same process, so ns/op and allocs/op include
// the upstream's share. The difference between the two rows is the proxy's
// own cost.
func BenchmarkPipeline(b *testing.B) {
	upstream := httptest.NewServer(newUpstreamHandler())
	defer upstream.Close()
	upstreamURL := upstream.URL + "/graphql"
	target, err := url.Parse(upstreamURL)
	if err != nil {
		b.Fatal(err)
	}

	pipeline, secret := newPipeline(b, upstreamURL)
	handlers := []struct {
		name    string
		handler http.Handler
	}{
		{"bare-reverseproxy", newBareProxy(target)},
		{"prefect-auth-proxy", pipeline},
	}
	testScenarios, err := scenarios()
	if err != nil {
		b.Fatal(err)
	}
	authorization := "Bearer " + secret

	for _, s := range testScenarios {
		for _, h := range handlers {
			b.Run(s.Name+"/"+h.name, func(b *testing.B) {
				// The first request also puts the key in the cache.
				want := upstreamResponse(s.Body)
				if response := serveOnce(h.handler, s.Body, authorization); response.Code != http.StatusOK || !bytes.Equal(response.Body.Bytes(), want) {
					b.Fatalf("response = HTTP %d %.300q, want HTTP 200 with the upstream's response", response.Code, response.Body.Bytes())
				}

				b.ReportAllocs()
				b.SetBytes(int64(len(s.Body)))
				for b.Loop() {
					if response := serveOnce(h.handler, s.Body, authorization); response.Code != http.StatusOK {
						b.Fatalf("status = %d, want 200", response.Code)
					}
				}
			})
		}
	}
}
