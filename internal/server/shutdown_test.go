package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/config"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/keystore"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/logging"
)

// TestShutdownClosesWebSockets checks that SIGTERM's shutdown closes open
// websockets with 1001 on both sides instead of dropping the connections.
func TestShutdownClosesWebSockets(t *testing.T) {
	upstreamClosed := make(chan int, 1)
	upgrader := websocket.Upgrader{Subprotocols: []string{"prefect"}}
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		_, _, _ = conn.ReadMessage() // the auth message
		_ = conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"auth_success"}`))
		for {
			if _, _, err := conn.ReadMessage(); err != nil {
				var closeErr *websocket.CloseError
				if errors.As(err, &closeErr) {
					upstreamClosed <- closeErr.Code
				}
				close(upstreamClosed)
				return
			}
		}
	}))
	defer upstream.Close()

	cfg, err := config.Load(nil, []string{
		"API_SERVICE_URL=" + upstream.URL,
		"DB_DATABASE=" + filepath.Join(t.TempDir(), "keys.db"),
	})
	if err != nil {
		t.Fatal(err)
	}
	store, err := OpenStore(context.Background(), cfg, true)
	if err != nil {
		t.Fatal(err)
	}
	secret, _ := keystore.NewSecret()
	now := time.Now().UTC().Add(-time.Minute).Truncate(time.Second)
	key := keystore.Key{UserID: "worker", Scopes: "role/worker", IssuedAt: now, ExpiresAt: now.Add(time.Hour),
		CreatedAt: now, UpdatedAt: now, CreatedBy: "test", UpdatedBy: "test"}
	if err := store.Create(context.Background(), key, secret, false); err != nil {
		t.Fatal(err)
	}

	level := logging.NewLevel(slog.LevelWarn)
	proxyServer, err := New(cfg, Options{Logger: slog.New(slog.DiscardHandler), Level: level, AuditLog: &syncBuffer{}, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- proxyServer.Serve(ctx, listener) }()

	url := "ws://" + listener.Addr().String() + "/api/events/in"
	dialer := websocket.Dialer{Subprotocols: []string{"prefect"}}
	header := http.Header{"Authorization": []string{"Bearer " + secret}}
	client, response, err := dialer.Dial(url, header)
	if err != nil {
		t.Fatalf("dial through the proxy: %v (response %v)", err, response)
	}
	defer client.Close()
	if err := client.WriteMessage(websocket.TextMessage, []byte(`{"type":"auth","token":null}`)); err != nil {
		t.Fatal(err)
	}
	if _, message, err := client.ReadMessage(); err != nil || !strings.Contains(string(message), "auth_success") {
		t.Fatalf("handshake through the proxy: %q, %v", message, err)
	}

	stop()
	_ = client.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, _, err = client.ReadMessage()
	var closeErr *websocket.CloseError
	if !errors.As(err, &closeErr) || closeErr.Code != websocket.CloseGoingAway {
		t.Errorf("client got %v, want close 1001", err)
	}
	select {
	case code := <-upstreamClosed:
		if code != websocket.CloseGoingAway {
			t.Errorf("upstream got close %d, want 1001", code)
		}
	case <-time.After(20 * time.Second):
		t.Error("upstream connection was not closed")
	}
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
}
