package proxy

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

// waitLimit keeps a broken test from hanging. It is a safety net, not a
// speed requirement.
const waitLimit = 10 * time.Second

const (
	clientKey       = "user-api-key"
	clientAuth      = `{"type":"auth","token":"user-api-key"}`
	authSuccess     = `{"type":"auth_success"}`
	upstreamSecret  = "upstream-auth-string"
	upstreamBasic   = "Basic dXBzdHJlYW0tYXV0aC1zdHJpbmc="
	checkFailReason = "API key revoked or expired"
)

// upstreamHandshake is what the fake upstream saw of one connection.
type upstreamHandshake struct {
	path        string
	rawQuery    string
	host        string
	subprotocol string
	header      http.Header
	// authMessage is the first message in prefect mode, "" in legacy mode.
	authMessage string
}

// fakeUpstream is a Prefect-like websocket server. With the prefect
// subprotocol it records the auth message and replies auth_success. Then
// it echoes data messages, except for the text commands "ping:DATA", which
// sends a ping, "close:CODE:REASON", which closes the connection, and
// "drop", which drops the TCP connection without a close frame.
type fakeUpstream struct {
	server      *httptest.Server
	connections atomic.Int32
	handshakes  chan upstreamHandshake
	pings       chan string
	pongs       chan string
	closes      chan *websocket.CloseError
}

func newFakeUpstream(t *testing.T) *fakeUpstream {
	t.Helper()
	upstream := &fakeUpstream{
		handshakes: make(chan upstreamHandshake, 16),
		pings:      make(chan string, 16),
		pongs:      make(chan string, 16),
		closes:     make(chan *websocket.CloseError, 16),
	}
	upstream.server = httptest.NewServer(http.HandlerFunc(upstream.serve))
	t.Cleanup(upstream.server.Close)
	return upstream
}

func (u *fakeUpstream) serve(w http.ResponseWriter, r *http.Request) {
	upgrader := websocket.Upgrader{Subprotocols: []string{PrefectSubprotocol}}
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer conn.Close()
	u.connections.Add(1)

	handshake := upstreamHandshake{
		path:        r.URL.Path,
		rawQuery:    r.URL.RawQuery,
		host:        r.Host,
		subprotocol: conn.Subprotocol(),
		header:      r.Header.Clone(),
	}
	if conn.Subprotocol() == PrefectSubprotocol {
		_, data, err := conn.ReadMessage()
		if err != nil {
			return
		}
		handshake.authMessage = string(data)
		if err := conn.WriteMessage(websocket.TextMessage, []byte(authSuccess)); err != nil {
			return
		}
	}
	send(u.handshakes, handshake)

	conn.SetPingHandler(func(data string) error {
		send(u.pings, data)
		return conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(waitLimit))
	})
	conn.SetPongHandler(func(data string) error {
		send(u.pongs, data)
		return nil
	})
	u.echo(conn)
}

func (u *fakeUpstream) echo(conn *websocket.Conn) {
	for {
		messageType, data, err := conn.ReadMessage()
		if err != nil {
			var closeErr *websocket.CloseError
			if errors.As(err, &closeErr) {
				send(u.closes, closeErr)
			}
			return
		}

		text := string(data)
		switch {
		case messageType == websocket.TextMessage && strings.HasPrefix(text, "ping:"):
			err = conn.WriteControl(websocket.PingMessage, []byte(strings.TrimPrefix(text, "ping:")), time.Now().Add(waitLimit))
		case messageType == websocket.TextMessage && strings.HasPrefix(text, "close:"):
			fields := strings.SplitN(text, ":", 3)
			code, _ := strconv.Atoi(fields[1])
			err = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, fields[2]), time.Now().Add(waitLimit))
		case messageType == websocket.TextMessage && text == "drop":
			return
		default:
			err = conn.WriteMessage(messageType, data)
		}
		if err != nil {
			return
		}
	}
}

// send delivers value unless the channel is full, so a fake server never
// blocks on a test that does not read what it records.
func send[T any](channel chan T, value T) {
	select {
	case channel <- value:
	default:
	}
}

func receive[T any](t *testing.T, channel <-chan T, description string) T {
	t.Helper()
	select {
	case value := <-channel:
		return value
	case <-time.After(waitLimit):
		t.Fatalf("no %s within %v", description, waitLimit)
		var zero T
		return zero
	}
}

// relayFixture is a proxy server that serves every request with one relay
// and one session, and records the summaries.
type relayFixture struct {
	proxy     *httptest.Server
	summaries chan WebSocketSummary
}

func newRelayFixture(t *testing.T, options WebSocketOptions, session WebSocketSession) *relayFixture {
	t.Helper()
	relay, err := NewWebSocketRelay(options)
	if err != nil {
		t.Fatalf("NewWebSocketRelay: %v", err)
	}

	fixture := &relayFixture{summaries: make(chan WebSocketSummary, 16)}
	session.OnEnd = func(summary WebSocketSummary) { send(fixture.summaries, summary) }
	fixture.proxy = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		relay.Serve(w, r, session)
	}))
	t.Cleanup(fixture.proxy.Close)
	return fixture
}

func targetURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	target, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return target
}

// message is one data message a test client received.
type message struct {
	messageType int
	data        string
}

// testClient reads its connection in the background, so that ping, pong
// and close frames are handled while the test writes.
type testClient struct {
	conn     *websocket.Conn
	messages chan message
	pings    chan string
	pongs    chan string
	closed   chan error
}

func dialRelay(t *testing.T, fixture *relayFixture, path string, subprotocols []string, header http.Header) *testClient {
	t.Helper()
	dialer := websocket.Dialer{Subprotocols: subprotocols, HandshakeTimeout: waitLimit}
	address := "ws" + strings.TrimPrefix(fixture.proxy.URL, "http") + path
	conn, _, err := dialer.Dial(address, header)
	if err != nil {
		t.Fatalf("dial %s: %v", address, err)
	}
	t.Cleanup(func() { conn.Close() })

	client := &testClient{
		conn:     conn,
		messages: make(chan message, 16),
		pings:    make(chan string, 16),
		pongs:    make(chan string, 16),
		closed:   make(chan error, 1),
	}
	conn.SetPingHandler(func(data string) error {
		send(client.pings, data)
		return conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(waitLimit))
	})
	conn.SetPongHandler(func(data string) error {
		send(client.pongs, data)
		return nil
	})
	go client.read()
	return client
}

func (c *testClient) read() {
	for {
		messageType, data, err := c.conn.ReadMessage()
		if err != nil {
			c.closed <- err
			return
		}
		c.messages <- message{messageType: messageType, data: string(data)}
	}
}

func (c *testClient) write(t *testing.T, messageType int, data string) {
	t.Helper()
	if err := c.conn.WriteMessage(messageType, []byte(data)); err != nil {
		t.Fatalf("client write %q: %v", data, err)
	}
}

func (c *testClient) expect(t *testing.T, messageType int, want string) {
	t.Helper()
	select {
	case got := <-c.messages:
		if got.messageType != messageType || got.data != want {
			t.Fatalf("client received type %d %q, want type %d %q", got.messageType, got.data, messageType, want)
		}
	case err := <-c.closed:
		t.Fatalf("client connection ended with %v, want message %q", err, want)
	case <-time.After(waitLimit):
		t.Fatalf("client received nothing within %v, want %q", waitLimit, want)
	}
}

// expectClose waits for the end of the connection and returns its close
// frame. Data messages that arrive first are skipped.
func (c *testClient) expectClose(t *testing.T) *websocket.CloseError {
	t.Helper()
	for {
		select {
		case <-c.messages:
		case err := <-c.closed:
			var closeErr *websocket.CloseError
			if !errors.As(err, &closeErr) {
				t.Fatalf("client connection ended with %v, want a close frame", err)
			}
			return closeErr
		case <-time.After(waitLimit):
			t.Fatalf("client connection still open after %v, want a close frame", waitLimit)
			return nil
		}
	}
}

// authenticate performs the prefect handshake as a client.
func (c *testClient) authenticate(t *testing.T) {
	t.Helper()
	c.write(t, websocket.TextMessage, clientAuth)
	c.expect(t, websocket.TextMessage, authSuccess)
}

func expectCloseFrame(t *testing.T, got *websocket.CloseError, code int, reason string) {
	t.Helper()
	if got.Code != code {
		t.Errorf("close code = %d, want %d", got.Code, code)
	}
	if got.Text != reason {
		t.Errorf("close reason = %q, want %q", got.Text, reason)
	}
}

func stringPointer(value string) *string { return &value }

func TestWebSocketHeaderAuthReplacesToken(t *testing.T) {
	tests := []struct {
		name          string
		upstreamToken *string
		wantAuth      string
	}{
		{"configured token", stringPointer(upstreamSecret), `{"type":"auth","token":"upstream-auth-string"}`},
		{"null token", nil, `{"type":"auth","token":null}`},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			upstream := newFakeUpstream(t)
			fixture := newRelayFixture(t, WebSocketOptions{
				Target:        targetURL(t, upstream.server.URL),
				UpstreamToken: test.upstreamToken,
			}, WebSocketSession{HeaderAuthenticated: true})

			client := dialRelay(t, fixture, "/api/events/in", []string{PrefectSubprotocol}, nil)
			client.authenticate(t)
			client.write(t, websocket.TextMessage, `{"event":"prefect.task-run.Completed"}`)
			client.expect(t, websocket.TextMessage, `{"event":"prefect.task-run.Completed"}`)
			handshake := receive(t, upstream.handshakes, "upstream handshake")

			if handshake.authMessage != test.wantAuth {
				t.Errorf("upstream auth message = %s, want %s", handshake.authMessage, test.wantAuth)
			}
			if strings.Contains(handshake.authMessage, clientKey) {
				t.Errorf("upstream auth message %s contains the client's token", handshake.authMessage)
			}
			if client.conn.Subprotocol() != PrefectSubprotocol {
				t.Errorf("client subprotocol = %q, want prefect", client.conn.Subprotocol())
			}
			if handshake.subprotocol != PrefectSubprotocol {
				t.Errorf("upstream subprotocol = %q, want prefect", handshake.subprotocol)
			}
		})
	}
}

func TestWebSocketUpstreamHeaders(t *testing.T) {
	upstream := newFakeUpstream(t)
	fixture := newRelayFixture(t, WebSocketOptions{
		Target:         targetURL(t, upstream.server.URL+"/base"),
		KeepClientHost: true,
		SetHeaders:     http.Header{"Authorization": {upstreamBasic}},
	}, WebSocketSession{HeaderAuthenticated: true})

	header := http.Header{}
	header.Set("Host", "prefect.example")
	header.Set("Authorization", "Bearer "+clientKey)
	header.Set("Cookie", "session="+clientKey)
	header.Set("X-Prefect-User-Id", clientKey)
	header.Set("X-Custom-Credential", clientKey)
	header.Set("User-Agent", "prefect/3.8.3 (API 0.8.4)")
	header.Set("X-Prefect-Flow-Id", "flow-1")
	header.Set("Origin", "https://elsewhere.example")
	client := dialRelay(t, fixture, "/api/events/out?backfill=true", []string{"chat", PrefectSubprotocol}, header)
	client.authenticate(t)
	got := receive(t, upstream.handshakes, "upstream handshake")

	if got.path != "/base/api/events/out" {
		t.Errorf("upstream path = %q, want /base/api/events/out", got.path)
	}
	if got.rawQuery != "backfill=true" {
		t.Errorf("upstream query = %q, want backfill=true", got.rawQuery)
	}
	if got.host != "prefect.example" {
		t.Errorf("upstream Host = %q, want prefect.example", got.host)
	}
	wantHeaders := map[string]string{
		"Authorization":          upstreamBasic,
		"User-Agent":             "prefect/3.8.3 (API 0.8.4)",
		"X-Prefect-Flow-Id":      "flow-1",
		"X-Forwarded-For":        "127.0.0.1",
		"X-Forwarded-Host":       "prefect.example",
		"X-Forwarded-Proto":      "http",
		"Sec-Websocket-Protocol": PrefectSubprotocol,
	}
	for name, want := range wantHeaders {
		if value := got.header.Get(name); value != want {
			t.Errorf("upstream %s = %q, want %q", name, value, want)
		}
	}
	for _, name := range []string{"Cookie", "X-Prefect-User-Id", "X-Custom-Credential", "Origin"} {
		if value := got.header.Get(name); value != "" {
			t.Errorf("upstream received %s = %q, want it left out", name, value)
		}
	}
	for name, values := range got.header {
		if strings.Contains(strings.Join(values, ","), clientKey) {
			t.Errorf("upstream header %s = %q contains the client's key", name, values)
		}
	}
}

func TestWebSocketTokenAuth(t *testing.T) {
	upstream := newFakeUpstream(t)
	tokens := make(chan string, 1)
	fixture := newRelayFixture(t, WebSocketOptions{
		Target:        targetURL(t, upstream.server.URL),
		UpstreamToken: stringPointer(upstreamSecret),
	}, WebSocketSession{
		AuthenticateToken: func(ctx context.Context, token string) error {
			send(tokens, token)
			return nil
		},
	})

	client := dialRelay(t, fixture, "/api/task_runs/subscriptions/scheduled", []string{PrefectSubprotocol}, nil)
	client.authenticate(t)
	client.write(t, websocket.TextMessage, `{"type":"subscribe","keys":["a"]}`)
	client.expect(t, websocket.TextMessage, `{"type":"subscribe","keys":["a"]}`)
	handshake := receive(t, upstream.handshakes, "upstream handshake")

	if token := receive(t, tokens, "AuthenticateToken call"); token != clientKey {
		t.Errorf("AuthenticateToken got %q, want %q", token, clientKey)
	}
	if want := `{"type":"auth","token":"upstream-auth-string"}`; handshake.authMessage != want {
		t.Errorf("upstream auth message = %s, want %s", handshake.authMessage, want)
	}
}

func TestWebSocketRejectedToken(t *testing.T) {
	long := strings.Repeat("key not accepted; ", 20)
	tests := []struct {
		name       string
		err        error
		wantReason string
	}{
		{"error text", errors.New("API key not found"), "API key not found"},
		{"error naming the token", errors.New("unknown key " + clientKey), "invalid token"},
		{"long error text", errors.New(long), long[:maxCloseReasonBytes]},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			upstream := newFakeUpstream(t)
			fixture := newRelayFixture(t, WebSocketOptions{Target: targetURL(t, upstream.server.URL)}, WebSocketSession{
				AuthenticateToken: func(context.Context, string) error { return test.err },
			})

			client := dialRelay(t, fixture, "/api/events/out", []string{PrefectSubprotocol}, nil)
			client.write(t, websocket.TextMessage, clientAuth)
			expectCloseFrame(t, client.expectClose(t), websocket.ClosePolicyViolation, test.wantReason)
			summary := receive(t, fixture.summaries, "summary")

			if n := upstream.connections.Load(); n != 0 {
				t.Errorf("upstream received %d connections, want 0", n)
			}
			if summary.UpstreamConnected {
				t.Error("summary.UpstreamConnected = true, want false")
			}
			if summary.ClosedBy != SideProxy || summary.CloseCode != websocket.ClosePolicyViolation {
				t.Errorf("summary closed by %s with %d, want proxy with 1008", summary.ClosedBy, summary.CloseCode)
			}
		})
	}
}

func TestWebSocketFirstMessageRejected(t *testing.T) {
	tests := []struct {
		name                string
		headerAuthenticated bool
		messageType         int
		data                string
		wantReason          string
	}{
		{"other type", false, websocket.TextMessage, `{"type":"filter","filter":{}}`, reasonExpectedAuth},
		{"other type with header auth", true, websocket.TextMessage, `{"type":"filter"}`, reasonExpectedAuth},
		{"not JSON", false, websocket.TextMessage, `auth`, reasonExpectedAuth},
		{"JSON array", false, websocket.TextMessage, `["auth"]`, reasonExpectedAuth},
		{"key in other case", false, websocket.TextMessage, `{"TYPE":"auth","token":"k"}`, reasonExpectedAuth},
		{"binary frame", false, websocket.BinaryMessage, clientAuth, reasonExpectedAuth},
		{"null token", false, websocket.TextMessage, `{"type":"auth","token":null}`, reasonNoToken},
		{"missing token", false, websocket.TextMessage, `{"type":"auth"}`, reasonNoToken},
		{"empty token", false, websocket.TextMessage, `{"type":"auth","token":""}`, reasonNoToken},
		{"number token", false, websocket.TextMessage, `{"type":"auth","token":42}`, "invalid token: not a string"},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			upstream := newFakeUpstream(t)
			var calls atomic.Int32
			fixture := newRelayFixture(t, WebSocketOptions{Target: targetURL(t, upstream.server.URL)}, WebSocketSession{
				HeaderAuthenticated: test.headerAuthenticated,
				AuthenticateToken: func(context.Context, string) error {
					calls.Add(1)
					return nil
				},
			})

			client := dialRelay(t, fixture, "/api/events/in", []string{PrefectSubprotocol}, nil)
			client.write(t, test.messageType, test.data)
			expectCloseFrame(t, client.expectClose(t), websocket.ClosePolicyViolation, test.wantReason)
			receive(t, fixture.summaries, "summary")

			if n := upstream.connections.Load(); n != 0 {
				t.Errorf("upstream received %d connections, want 0", n)
			}
			if n := calls.Load(); n != 0 {
				t.Errorf("AuthenticateToken called %d times, want 0", n)
			}
		})
	}
}

func TestWebSocketAuthTimeout(t *testing.T) {
	upstream := newFakeUpstream(t)
	fixture := newRelayFixture(t, WebSocketOptions{
		Target:      targetURL(t, upstream.server.URL),
		AuthTimeout: 50 * time.Millisecond,
	}, WebSocketSession{HeaderAuthenticated: true})

	client := dialRelay(t, fixture, "/api/events/in", []string{PrefectSubprotocol}, nil)
	expectCloseFrame(t, client.expectClose(t), websocket.ClosePolicyViolation, "timed out waiting for 'auth' message")

	if n := upstream.connections.Load(); n != 0 {
		t.Errorf("upstream received %d connections, want 0", n)
	}
}

func TestWebSocketLegacyMode(t *testing.T) {
	t.Run("header authenticated", func(t *testing.T) {
		upstream := newFakeUpstream(t)
		fixture := newRelayFixture(t, WebSocketOptions{
			Target:        targetURL(t, upstream.server.URL),
			UpstreamToken: stringPointer(upstreamSecret),
		}, WebSocketSession{HeaderAuthenticated: true})

		client := dialRelay(t, fixture, "/api/events/in", nil, nil)
		client.write(t, websocket.TextMessage, `{"event":"old-client"}`)
		client.expect(t, websocket.TextMessage, `{"event":"old-client"}`)
		handshake := receive(t, upstream.handshakes, "upstream handshake")

		if handshake.subprotocol != "" {
			t.Errorf("upstream subprotocol = %q, want none", handshake.subprotocol)
		}
		if client.conn.Subprotocol() != "" {
			t.Errorf("client subprotocol = %q, want none", client.conn.Subprotocol())
		}
	})

	t.Run("not authenticated", func(t *testing.T) {
		upstream := newFakeUpstream(t)
		fixture := newRelayFixture(t, WebSocketOptions{Target: targetURL(t, upstream.server.URL)}, WebSocketSession{
			AuthenticateToken: func(context.Context, string) error { return nil },
		})

		client := dialRelay(t, fixture, "/api/events/in", []string{"chat"}, nil)
		expectCloseFrame(t, client.expectClose(t), websocket.ClosePolicyViolation, "authentication required")
		receive(t, fixture.summaries, "summary")

		if n := upstream.connections.Load(); n != 0 {
			t.Errorf("upstream received %d connections, want 0", n)
		}
	})
}

func TestWebSocketPingPongPassThrough(t *testing.T) {
	upstream := newFakeUpstream(t)
	fixture := newRelayFixture(t, WebSocketOptions{Target: targetURL(t, upstream.server.URL)}, WebSocketSession{HeaderAuthenticated: true})
	client := dialRelay(t, fixture, "/api/events/out", []string{PrefectSubprotocol}, nil)
	client.authenticate(t)

	client.write(t, websocket.TextMessage, "ping:from-upstream")
	if got := receive(t, client.pings, "ping at the client"); got != "from-upstream" {
		t.Errorf("client received ping %q, want from-upstream", got)
	}
	if got := receive(t, upstream.pongs, "pong at the upstream"); got != "from-upstream" {
		t.Errorf("upstream received pong %q, want from-upstream", got)
	}

	if err := client.conn.WriteControl(websocket.PingMessage, []byte("from-client"), time.Now().Add(waitLimit)); err != nil {
		t.Fatalf("client ping: %v", err)
	}
	if got := receive(t, upstream.pings, "ping at the upstream"); got != "from-client" {
		t.Errorf("upstream received ping %q, want from-client", got)
	}
	if got := receive(t, client.pongs, "pong at the client"); got != "from-client" {
		t.Errorf("client received pong %q, want from-client", got)
	}
}

func TestWebSocketBinaryMessages(t *testing.T) {
	upstream := newFakeUpstream(t)
	fixture := newRelayFixture(t, WebSocketOptions{Target: targetURL(t, upstream.server.URL)}, WebSocketSession{HeaderAuthenticated: true})
	client := dialRelay(t, fixture, "/api/events/in", []string{PrefectSubprotocol}, nil)
	client.authenticate(t)

	payload := string([]byte{0, 1, 2, 0xfe, 0xff})
	client.write(t, websocket.BinaryMessage, payload)
	client.expect(t, websocket.BinaryMessage, payload)
	client.write(t, websocket.TextMessage, "text after binary")
	client.expect(t, websocket.TextMessage, "text after binary")
}

func TestWebSocketUpstreamCloseReachesClient(t *testing.T) {
	upstream := newFakeUpstream(t)
	fixture := newRelayFixture(t, WebSocketOptions{Target: targetURL(t, upstream.server.URL)}, WebSocketSession{HeaderAuthenticated: true})
	client := dialRelay(t, fixture, "/api/events/out", []string{PrefectSubprotocol}, nil)
	client.authenticate(t)

	client.write(t, websocket.TextMessage, "close:1002:Invalid filter")
	expectCloseFrame(t, client.expectClose(t), websocket.CloseProtocolError, "Invalid filter")
	summary := receive(t, fixture.summaries, "summary")

	if summary.ClosedBy != SideUpstream {
		t.Errorf("summary.ClosedBy = %q, want upstream", summary.ClosedBy)
	}
	if summary.CloseCode != websocket.CloseProtocolError || summary.CloseReason != "Invalid filter" {
		t.Errorf("summary close = %d %q, want 1002 %q", summary.CloseCode, summary.CloseReason, "Invalid filter")
	}
}

func TestWebSocketClientCloseReachesUpstream(t *testing.T) {
	upstream := newFakeUpstream(t)
	fixture := newRelayFixture(t, WebSocketOptions{Target: targetURL(t, upstream.server.URL)}, WebSocketSession{HeaderAuthenticated: true})
	client := dialRelay(t, fixture, "/api/events/in", []string{PrefectSubprotocol}, nil)
	client.authenticate(t)
	client.write(t, websocket.TextMessage, "one")
	client.expect(t, websocket.TextMessage, "one")
	client.write(t, websocket.BinaryMessage, "two!")
	client.expect(t, websocket.BinaryMessage, "two!")

	closeFrame := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "done")
	if err := client.conn.WriteControl(websocket.CloseMessage, closeFrame, time.Now().Add(waitLimit)); err != nil {
		t.Fatalf("client close: %v", err)
	}
	expectCloseFrame(t, receive(t, upstream.closes, "close at the upstream"), websocket.CloseNormalClosure, "done")
	expectCloseFrame(t, client.expectClose(t), websocket.CloseNormalClosure, "")
	summary := receive(t, fixture.summaries, "summary")

	if summary.ClosedBy != SideClient || summary.CloseCode != websocket.CloseNormalClosure || summary.CloseReason != "done" {
		t.Errorf("summary close = %s %d %q, want client 1000 %q", summary.ClosedBy, summary.CloseCode, summary.CloseReason, "done")
	}
	// The rewritten auth message counts as a message to the upstream, and
	// auth_success as one to the client.
	if summary.MessagesToUpstream != 3 || summary.MessagesToClient != 3 {
		t.Errorf("summary messages = %d to upstream, %d to client, want 3 and 3", summary.MessagesToUpstream, summary.MessagesToClient)
	}
	wantUpstreamBytes := int64(len(`{"type":"auth","token":null}`) + len("one") + len("two!"))
	if summary.BytesToUpstream != wantUpstreamBytes {
		t.Errorf("summary.BytesToUpstream = %d, want %d", summary.BytesToUpstream, wantUpstreamBytes)
	}
	if wantClientBytes := int64(len(authSuccess) + len("one") + len("two!")); summary.BytesToClient != wantClientBytes {
		t.Errorf("summary.BytesToClient = %d, want %d", summary.BytesToClient, wantClientBytes)
	}
	if !summary.UpstreamConnected || summary.Subprotocol != PrefectSubprotocol {
		t.Errorf("summary upstream connected %v, subprotocol %q, want true and prefect", summary.UpstreamConnected, summary.Subprotocol)
	}
	if summary.Started.IsZero() || summary.Duration <= 0 {
		t.Errorf("summary started %v after %v, want a start time and a positive duration", summary.Started, summary.Duration)
	}
}

func TestWebSocketLostConnection(t *testing.T) {
	t.Run("upstream drops", func(t *testing.T) {
		upstream := newFakeUpstream(t)
		fixture := newRelayFixture(t, WebSocketOptions{Target: targetURL(t, upstream.server.URL)}, WebSocketSession{HeaderAuthenticated: true})
		client := dialRelay(t, fixture, "/api/events/out", []string{PrefectSubprotocol}, nil)
		client.authenticate(t)

		client.write(t, websocket.TextMessage, "drop")
		expectCloseFrame(t, client.expectClose(t), websocket.CloseInternalServerErr, "upstream connection lost")
		summary := receive(t, fixture.summaries, "summary")

		if summary.ClosedBy != SideUpstream || summary.CloseCode != websocket.CloseAbnormalClosure {
			t.Errorf("summary close = %s %d, want upstream 1006", summary.ClosedBy, summary.CloseCode)
		}
	})

	t.Run("client drops", func(t *testing.T) {
		upstream := newFakeUpstream(t)
		fixture := newRelayFixture(t, WebSocketOptions{Target: targetURL(t, upstream.server.URL)}, WebSocketSession{HeaderAuthenticated: true})
		client := dialRelay(t, fixture, "/api/events/in", []string{PrefectSubprotocol}, nil)
		client.authenticate(t)

		client.conn.Close()
		expectCloseFrame(t, receive(t, upstream.closes, "close at the upstream"), websocket.CloseGoingAway, "client connection lost")
		summary := receive(t, fixture.summaries, "summary")

		if summary.ClosedBy != SideClient || summary.CloseCode != websocket.CloseAbnormalClosure {
			t.Errorf("summary close = %s %d, want client 1006", summary.ClosedBy, summary.CloseCode)
		}
	})
}

func TestWebSocketCheckFailureCloses(t *testing.T) {
	upstream := newFakeUpstream(t)
	var checks atomic.Int32
	fixture := newRelayFixture(t, WebSocketOptions{
		Target:        targetURL(t, upstream.server.URL),
		CheckInterval: 20 * time.Millisecond,
	}, WebSocketSession{
		HeaderAuthenticated: true,
		Check: func(ctx context.Context) error {
			if checks.Add(1) < 3 {
				return nil
			}
			return errors.New(checkFailReason)
		},
	})
	client := dialRelay(t, fixture, "/api/events/out", []string{PrefectSubprotocol}, nil)
	client.authenticate(t)

	expectCloseFrame(t, client.expectClose(t), websocket.ClosePolicyViolation, checkFailReason)
	expectCloseFrame(t, receive(t, upstream.closes, "close at the upstream"), websocket.ClosePolicyViolation, checkFailReason)
	summary := receive(t, fixture.summaries, "summary")

	if summary.ClosedBy != SideProxy || summary.CloseReason != checkFailReason {
		t.Errorf("summary close = %s %q, want proxy %q", summary.ClosedBy, summary.CloseReason, checkFailReason)
	}
	if n := checks.Load(); n != 3 {
		t.Errorf("Check ran %d times, want 3 (no check after the session ended)", n)
	}
}

func TestWebSocketMessageTooBig(t *testing.T) {
	upstream := newFakeUpstream(t)
	fixture := newRelayFixture(t, WebSocketOptions{
		Target:          targetURL(t, upstream.server.URL),
		MaxMessageBytes: 1024,
	}, WebSocketSession{HeaderAuthenticated: true})
	client := dialRelay(t, fixture, "/api/events/in", []string{PrefectSubprotocol}, nil)
	client.authenticate(t)

	client.write(t, websocket.TextMessage, strings.Repeat("x", 2048))
	expectCloseFrame(t, client.expectClose(t), websocket.CloseMessageTooBig, "")
	expectCloseFrame(t, receive(t, upstream.closes, "close at the upstream"), websocket.CloseMessageTooBig, "message larger than 1024 bytes")
}

func TestWebSocketUpstreamUnavailable(t *testing.T) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddress := "http://" + listener.Addr().String()
	listener.Close()

	forbidden := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "forbidden", http.StatusForbidden)
	}))
	defer forbidden.Close()

	tests := []struct {
		name       string
		target     string
		wantReason string
	}{
		{"nothing listening", closedAddress, "upstream unavailable"},
		{"upgrade rejected", forbidden.URL, "upstream rejected the websocket upgrade (HTTP 403)"},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			fixture := newRelayFixture(t, WebSocketOptions{Target: targetURL(t, test.target)}, WebSocketSession{HeaderAuthenticated: true})
			client := dialRelay(t, fixture, "/api/events/in", []string{PrefectSubprotocol}, nil)
			client.write(t, websocket.TextMessage, clientAuth)

			expectCloseFrame(t, client.expectClose(t), websocket.CloseInternalServerErr, test.wantReason)
			summary := receive(t, fixture.summaries, "summary")

			if summary.UpstreamConnected {
				t.Error("summary.UpstreamConnected = true, want false")
			}
		})
	}
}

func TestWebSocketContextEndCloses(t *testing.T) {
	upstream := newFakeUpstream(t)
	relay, err := NewWebSocketRelay(WebSocketOptions{Target: targetURL(t, upstream.server.URL)})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	proxyServer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		go func() {
			select {
			case <-stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		relay.Serve(w, r.WithContext(ctx), WebSocketSession{HeaderAuthenticated: true})
	}))
	defer proxyServer.Close()

	client := dialRelay(t, &relayFixture{proxy: proxyServer}, "/api/events/out", []string{PrefectSubprotocol}, nil)
	client.authenticate(t)
	close(stop)

	expectCloseFrame(t, client.expectClose(t), websocket.CloseGoingAway, "proxy closed the connection")
}

func TestWebSocketNoGoroutineLeak(t *testing.T) {
	baseline := runtime.NumGoroutine()

	func() {
		upstream := newFakeUpstream(t)
		var checks atomic.Int32
		fixture := newRelayFixture(t, WebSocketOptions{
			Target:        targetURL(t, upstream.server.URL),
			CheckInterval: 10 * time.Millisecond,
		}, WebSocketSession{
			AuthenticateToken: func(_ context.Context, token string) error {
				if token != clientKey {
					return errors.New("API key not found")
				}
				return nil
			},
			Check: func(context.Context) error {
				if checks.Add(1) > 5 {
					return errors.New(checkFailReason)
				}
				return nil
			},
		})
		defer fixture.proxy.Close()
		defer upstream.server.Close()

		// Client closes.
		client := dialRelay(t, fixture, "/api/events/in", []string{PrefectSubprotocol}, nil)
		client.authenticate(t)
		closeFrame := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
		_ = client.conn.WriteControl(websocket.CloseMessage, closeFrame, time.Now().Add(waitLimit))
		client.expectClose(t)
		client.conn.Close()
		receive(t, fixture.summaries, "summary")

		// Upstream closes.
		client = dialRelay(t, fixture, "/api/events/out", []string{PrefectSubprotocol}, nil)
		client.authenticate(t)
		client.write(t, websocket.TextMessage, "close:1002:Invalid filter")
		client.expectClose(t)
		client.conn.Close()
		receive(t, fixture.summaries, "summary")

		// Token rejected.
		client = dialRelay(t, fixture, "/api/events/out", []string{PrefectSubprotocol}, nil)
		client.write(t, websocket.TextMessage, `{"type":"auth","token":"wrong"}`)
		client.expectClose(t)
		client.conn.Close()
		receive(t, fixture.summaries, "summary")

		// Client drops its TCP connection without a close frame.
		client = dialRelay(t, fixture, "/api/events/in", []string{PrefectSubprotocol}, nil)
		client.authenticate(t)
		client.conn.Close()
		if summary := receive(t, fixture.summaries, "summary"); summary.CloseCode != websocket.CloseAbnormalClosure {
			t.Errorf("summary.CloseCode after a dropped connection = %d, want 1006", summary.CloseCode)
		}

		// Check fails.
		client = dialRelay(t, fixture, "/api/events/out", []string{PrefectSubprotocol}, nil)
		client.authenticate(t)
		client.expectClose(t)
		client.conn.Close()
		receive(t, fixture.summaries, "summary")
	}()

	// The servers' connection goroutines end shortly after the sessions, so
	// the count is polled.
	deadline := time.Now().Add(waitLimit)
	for runtime.NumGoroutine() > baseline && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > baseline {
		stacks := make([]byte, 1<<20)
		stacks = stacks[:runtime.Stack(stacks, true)]
		t.Errorf("%d goroutines after the sessions, %d before:\n%s", n, baseline, stacks)
	}
}

func TestNewWebSocketRelayRejectsOptions(t *testing.T) {
	target := &url.URL{Scheme: "http", Host: "127.0.0.1:4200"}
	tests := []struct {
		name    string
		options WebSocketOptions
	}{
		{"missing target", WebSocketOptions{}},
		{"unsupported scheme", WebSocketOptions{Target: &url.URL{Scheme: "ftp", Host: "127.0.0.1"}}},
		{"missing host", WebSocketOptions{Target: &url.URL{Scheme: "http", Path: "/api"}}},
		{"forward Authorization", WebSocketOptions{Target: target, ForwardHeaders: []string{"authorization"}}},
		{"forward Cookie", WebSocketOptions{Target: target, ForwardHeaders: []string{"Cookie"}}},
		{"forward Host", WebSocketOptions{Target: target, ForwardHeaders: []string{"Host"}}},
		{"forward Sec-WebSocket-Protocol", WebSocketOptions{Target: target, ForwardHeaders: []string{"Sec-WebSocket-Protocol"}}},
		{"set Connection", WebSocketOptions{Target: target, SetHeaders: http.Header{"Connection": {"close"}}}},
		{"set Sec-WebSocket-Key", WebSocketOptions{Target: target, SetHeaders: http.Header{"Sec-WebSocket-Key": {"x"}}}},
		{"negative timeout", WebSocketOptions{Target: target, WriteTimeout: -time.Second}},
		{"negative message limit", WebSocketOptions{Target: target, MaxMessageBytes: -1}},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			if _, err := NewWebSocketRelay(test.options); err == nil {
				t.Error("NewWebSocketRelay returned no error")
			}
		})
	}
}

func TestNewWebSocketRelayConvertsScheme(t *testing.T) {
	tests := []struct{ in, want string }{
		{"http://prefect:4200/api", "ws://prefect:4200/api"},
		{"https://user:secret@prefect:4200", "wss://prefect:4200"},
		{"ws://prefect:4200", "ws://prefect:4200"},
		{"WSS://prefect", "wss://prefect"},
	}
	for _, test := range tests {
		relay, err := NewWebSocketRelay(WebSocketOptions{Target: targetURL(t, test.in)})
		if err != nil {
			t.Fatalf("NewWebSocketRelay(%s): %v", test.in, err)
		}
		if got := relay.target.String(); got != test.want {
			t.Errorf("target for %s = %s, want %s", test.in, got, test.want)
		}
	}
}

func TestIsWebSocketUpgrade(t *testing.T) {
	tests := []struct {
		name       string
		connection string
		upgrade    string
		want       bool
	}{
		{"websocket upgrade", "Upgrade", "websocket", true},
		{"token list and case", "keep-alive, upgrade", "WebSocket", true},
		{"plain request", "keep-alive", "", false},
		{"other protocol", "Upgrade", "h2c", false},
		{"upgrade without connection", "", "websocket", false},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			request := httptest.NewRequest(http.MethodGet, "/api/events/in", nil)
			request.Header.Set("Connection", test.connection)
			request.Header.Set("Upgrade", test.upgrade)
			if got := IsWebSocketUpgrade(request); got != test.want {
				t.Errorf("IsWebSocketUpgrade = %v, want %v", got, test.want)
			}
		})
	}
}

func TestParseAuthMessage(t *testing.T) {
	tests := []struct {
		name      string
		input     string
		wantToken string
		wantErr   bool
	}{
		{"string token", `{"type":"auth","token":"abc"}`, "abc", false},
		{"extra fields", `{"token":"abc","type":"auth","client":"x"}`, "abc", false},
		{"null token", `{"type":"auth","token":null}`, "", false},
		{"missing token", `{"type":"auth"}`, "", false},
		{"duplicate type, last wins", `{"type":"filter","type":"auth","token":"abc"}`, "abc", false},
		{"other type", `{"type":"filter"}`, "", true},
		{"type not a string", `{"type":1,"token":"abc"}`, "", true},
		{"token object", `{"type":"auth","token":{"key":"abc"}}`, "", true},
		{"JSON null", `null`, "", true},
		{"truncated", `{"type":"auth","token":"ab`, "", true},
		{"empty", ``, "", true},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			token, err := parseAuthMessage([]byte(test.input))
			if (err != nil) != test.wantErr {
				t.Fatalf("parseAuthMessage error = %v, want error %v", err, test.wantErr)
			}
			if token != test.wantToken {
				t.Errorf("token = %q, want %q", token, test.wantToken)
			}
		})
	}
}

func FuzzParseAuthMessage(f *testing.F) {
	for _, seed := range []string{clientAuth, `{"type":"auth","token":null}`, `{"type":"filter"}`, `[]`, `{"type":"auth","token":1}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		token, err := parseAuthMessage(data)
		if err != nil && token != "" {
			t.Errorf("parseAuthMessage returned token %q together with error %v", token, err)
		}
		if token != "" && !bytes.Contains(data, []byte(`"auth"`)) {
			t.Errorf("parseAuthMessage returned token %q for input without an auth type: %q", token, data)
		}
	})
}

func TestTruncateCloseReason(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  int
	}{
		{"short", "API key revoked", len("API key revoked")},
		{"exact", strings.Repeat("a", maxCloseReasonBytes), maxCloseReasonBytes},
		{"ASCII over", strings.Repeat("a", 200), maxCloseReasonBytes},
		// 2-byte characters: 123 bytes would split one, so 122 remain.
		{"multibyte over", strings.Repeat("é", 100), 122},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			got := truncateCloseReason(test.input)
			if len(got) != test.want {
				t.Errorf("length = %d, want %d", len(got), test.want)
			}
			if !utf8.ValidString(got) {
				t.Errorf("result %q is not valid UTF-8", got)
			}
			if !strings.HasPrefix(test.input, got) {
				t.Errorf("result %q is not a prefix of the input", got)
			}
		})
	}
}
