package server

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestStatusWriterUpgradesWebSocket upgrades through the writer that
// ServeHTTP hands to every handler. gorilla/websocket asserts http.Hijacker
// on that writer, so without a Hijack method every upgrade failed with 500.
func TestStatusWriterUpgradesWebSocket(t *testing.T) {
	recorded := make(chan int, 1)
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writer := &statusWriter{ResponseWriter: w}
		defer func() { recorded <- writer.status }()

		upgrader := websocket.Upgrader{}
		conn, err := upgrader.Upgrade(writer, r, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		_ = conn.WriteMessage(websocket.TextMessage, []byte("hello"))
	}))
	defer server.Close()

	dialer := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	conn, response, err := dialer.Dial("ws"+strings.TrimPrefix(server.URL, "http"), nil)
	if err != nil {
		status := 0
		if response != nil {
			status = response.StatusCode
		}
		t.Fatalf("upgrade through statusWriter failed with HTTP %d: %v", status, err)
	}
	defer conn.Close()

	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, message, err := conn.ReadMessage()
	if err != nil || string(message) != "hello" {
		t.Errorf("read = %q, %v; expected the handler's hello", message, err)
	}
	if status := <-recorded; status != http.StatusSwitchingProtocols {
		t.Errorf("recorded status = %d, expected 101 for the access log", status)
	}
}
