package main_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// prefectRequest is one HTTP request that the fake Prefect 3 server
// received.
type prefectRequest struct {
	Method string
	// RequestURI is the request target exactly as it arrived, escaped path
	// and query.
	RequestURI string
	Host       string
	Header     http.Header
	Body       []byte
}

// prefectSocket is one websocket upgrade that the fake Prefect 3 server
// received, and what happened on it.
type prefectSocket struct {
	Path        string
	Host        string
	Header      http.Header
	Subprotocol string

	mu sync.Mutex
	// token is the raw JSON value of the auth message's token member,
	// empty before the auth message or in legacy mode.
	token    json.RawMessage
	received []string
	pongs    []string
	// closeCode is the code of the close frame that ended the session, or
	// 1006 when the connection was lost.
	closeCode int
	ended     chan struct{}
}

// Token returns the raw JSON token of the auth message.
func (s *prefectSocket) Token() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.token)
}

// Received returns the data messages that arrived after the auth message.
func (s *prefectSocket) Received() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.received...)
}

// CloseCode returns the code that ended the session, 0 while it is open.
func (s *prefectSocket) CloseCode() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closeCode
}

// fakePrefect imitates what the proxy relies on in a Prefect 3 server
// (3.6.22 and later): GET /ui-settings, UI files with an index.html
// fallback, API routes under /api with plausible JSON responses, and the
// websocket endpoints with the prefect subprotocol handshake. With an auth
// string it checks Authorization: Basic base64(auth string) on the API,
// except on GET /api/health and GET /api/ready, and the token of every
// websocket's auth message, as PREFECT_SERVER_API_AUTH_STRING makes the
// real server do.
type fakePrefect struct {
	server     *httptest.Server
	authString string
	upgrader   websocket.Upgrader

	mu       sync.Mutex
	requests []prefectRequest
	sockets  []*prefectSocket
}

// fakeSocketPaths are the websocket endpoints of Prefect 3 relative to the
// API mount, except the worker channel, whose path has a pool name.
var fakeSocketPaths = map[string]bool{
	"/api/events/in":                         true,
	"/api/events/out":                        true,
	"/api/logs/out":                          true,
	"/api/task_runs/subscriptions/scheduled": true,
}

func newFakePrefect(t *testing.T, authString string) *fakePrefect {
	t.Helper()
	fake := &fakePrefect{
		authString: authString,
		upgrader:   websocket.Upgrader{Subprotocols: []string{"prefect"}},
	}
	fake.server = httptest.NewServer(http.HandlerFunc(fake.serveHTTP))
	t.Cleanup(fake.server.Close)
	return fake
}

// url is the API_SERVICE_URL of the fake: the server root, which selects
// the proxy's REST mode.
func (f *fakePrefect) url() string {
	return f.server.URL
}

func (f *fakePrefect) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if websocket.IsWebSocketUpgrade(r) {
		f.serveSocket(w, r)
		return
	}

	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.requests = append(f.requests, prefectRequest{
		Method: r.Method, RequestURI: r.RequestURI, Host: r.Host, Header: r.Header.Clone(), Body: body,
	})
	f.mu.Unlock()

	path := r.URL.Path
	if !strings.HasPrefix(path, "/api/") {
		f.serveUI(w, r)
		return
	}
	if !f.authorized(r) {
		writeFakeJSON(w, http.StatusUnauthorized, map[string]string{"exception_message": "Unauthorized"})
		return
	}
	status, response := fakeAPIResponse(r.Method, path, r.URL.Query())
	if status == http.StatusNoContent {
		w.WriteHeader(status)
		return
	}
	writeFakeJSON(w, status, response)
}

// authorized checks the API's Authorization the way Prefect 3.6.22's
// middleware does: exactly "Basic base64(auth string)", and GET on exactly
// /api/health and /api/ready is exempt.
func (f *fakePrefect) authorized(r *http.Request) bool {
	if f.authString == "" {
		return true
	}
	if r.Method == http.MethodGet && (r.URL.Path == "/api/health" || r.URL.Path == "/api/ready") {
		return true
	}
	return r.Header.Get("Authorization") == basicAuthorization(f.authString)
}

// serveUI serves /ui-settings and, for every other path, index.html, as
// the UI app's SPA fallback does.
func (f *fakePrefect) serveUI(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/ui-settings" {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, "<!doctype html><title>Prefect</title><div id=app></div>")
		return
	}

	settings := []byte(`{"api_url":"http://0.0.0.0:4200/api","csrf_enabled":false,"auth":null,"flags":[]}`)
	if f.authString != "" {
		settings = bytes.Replace(settings, []byte(`"auth":null`), []byte(`"auth":"BASIC"`), 1)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Vary", "Accept-Encoding")
	if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		_, _ = w.Write(settings)
		return
	}

	// Starlette's GZipMiddleware compresses when the client accepts gzip.
	var compressed bytes.Buffer
	writer := gzip.NewWriter(&compressed)
	_, _ = writer.Write(settings)
	_ = writer.Close()
	w.Header().Set("Content-Encoding", "gzip")
	_, _ = w.Write(compressed.Bytes())
}

// fakeAPIResponse returns a status and a JSON body shaped like Prefect's for
// an API path.
func fakeAPIResponse(method, path string, query map[string][]string) (int, any) {
	last := path[strings.LastIndex(path, "/")+1:]
	switch {
	case path == "/api/health":
		return http.StatusOK, true
	case path == "/api/ready":
		return http.StatusOK, map[string]string{"message": "OK"}
	case path == "/api/admin/version":
		return http.StatusOK, "3.6.22"
	case path == "/api/version":
		return http.StatusOK, "0.8.4"
	case path == "/api/hello":
		return http.StatusOK, "👋"
	case path == "/api/csrf-token":
		client := ""
		if values := query["client"]; len(values) > 0 {
			client = values[0]
		}
		return http.StatusOK, map[string]string{"token": "csrf-token-value", "client": client, "expiration": "2030-01-01T00:00:00Z"}
	case method == http.MethodPatch || method == http.MethodDelete:
		return http.StatusNoContent, nil
	case strings.HasSuffix(path, "/set_state"):
		return http.StatusCreated, map[string]any{"status": "ACCEPT", "state": map[string]string{"type": "PENDING", "name": "Pending"}, "details": map[string]any{}}
	case last == "filter" || last == "get_scheduled_flow_runs" || last == "get_runs" || last == "history" || last == "next-runs":
		return http.StatusOK, []any{}
	case last == "count" || last == "counts":
		return http.StatusOK, 0
	case last == "paginate":
		return http.StatusOK, map[string]any{"results": []any{}, "count": 0, "limit": 10, "pages": 0, "page": 1}
	case method == http.MethodPost && strings.HasSuffix(path, "/"):
		return http.StatusCreated, map[string]string{"id": fakeCreatedID, "created": "2026-01-01T00:00:00Z"}
	case method == http.MethodPost:
		return http.StatusOK, map[string]any{}
	case method == http.MethodGet:
		return http.StatusOK, map[string]string{"id": last, "name": last + "-name", "created": "2026-01-01T00:00:00Z"}
	}
	return http.StatusNotFound, map[string]string{"detail": "Not Found"}
}

// fakeCreatedID is the id of every object the fake creates.
const fakeCreatedID = "6c0f8e52-1d3b-4f7a-9e21-0b8d4c6a2f10"

func writeFakeJSON(w http.ResponseWriter, status int, value any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(value)
}

// serveSocket runs Prefect's accept_prefect_socket handshake and then
// echoes every message, except that a {"type":"filter"} message (as
// /events/out and /logs/out clients send) gets a ping and an event.
func (f *fakePrefect) serveSocket(w http.ResponseWriter, r *http.Request) {
	socket := &prefectSocket{Path: r.URL.Path, Host: r.Host, Header: r.Header.Clone(), ended: make(chan struct{})}
	f.mu.Lock()
	f.sockets = append(f.sockets, socket)
	f.mu.Unlock()
	defer close(socket.ended)

	if !fakeSocketPaths[r.URL.Path] && !strings.HasSuffix(r.URL.Path, "/workers/connect") {
		http.NotFound(w, r)
		return
	}
	conn, err := f.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer conn.Close()
	socket.Subprotocol = conn.Subprotocol()

	if !f.acceptSocket(conn, socket) {
		return
	}
	conn.SetPongHandler(func(data string) error {
		socket.mu.Lock()
		socket.pongs = append(socket.pongs, data)
		socket.mu.Unlock()
		return nil
	})
	f.echo(conn, socket)
}

// acceptSocket reads the auth message and checks its token. Without the
// prefect subprotocol, a server with an auth string closes with 1002 and
// one without accepts in legacy mode.
func (f *fakePrefect) acceptSocket(conn *websocket.Conn, socket *prefectSocket) bool {
	if socket.Subprotocol != "prefect" {
		if f.authString != "" {
			closeFake(conn, socket, websocket.CloseProtocolError, "prefect subprotocol required")
			return false
		}
		return true
	}

	_, data, err := conn.ReadMessage()
	if err != nil {
		socket.recordEnd(err)
		return false
	}
	var auth struct {
		Type  string          `json:"type"`
		Token json.RawMessage `json:"token"`
	}
	if json.Unmarshal(data, &auth) != nil || auth.Type != "auth" {
		closeFake(conn, socket, websocket.ClosePolicyViolation, "Expected 'auth' message")
		return false
	}
	socket.mu.Lock()
	socket.token = auth.Token
	socket.mu.Unlock()

	if f.authString != "" {
		var token string
		if json.Unmarshal(auth.Token, &token) != nil || token != f.authString {
			closeFake(conn, socket, websocket.ClosePolicyViolation, "Invalid token")
			return false
		}
	}
	return conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"auth_success"}`)) == nil
}

func (f *fakePrefect) echo(conn *websocket.Conn, socket *prefectSocket) {
	for {
		messageType, data, err := conn.ReadMessage()
		if err != nil {
			socket.recordEnd(err)
			return
		}
		socket.mu.Lock()
		socket.received = append(socket.received, string(data))
		socket.mu.Unlock()

		var message struct {
			Type string `json:"type"`
		}
		_ = json.Unmarshal(data, &message)
		if message.Type != "filter" {
			_ = conn.WriteMessage(messageType, data)
			continue
		}
		_ = conn.WriteControl(websocket.PingMessage, []byte(upstreamPing), time.Now().Add(requestTimeout))
		_ = conn.WriteMessage(websocket.TextMessage, []byte(fakeEventMessage))
	}
}

// upstreamPing is the payload of the ping that the fake sends on a stream
// after the client's filter.
const upstreamPing = "upstream-ping"

// fakeEventMessage is the event that the fake pushes on a stream.
const fakeEventMessage = `{"type":"event","event":{"id":"1f2e3d4c-5b6a-4978-8a9b-0c1d2e3f4a5b",` +
	`"event":"prefect.flow-run.Running","resource":{"prefect.resource.id":"prefect.flow-run.1"}}}`

func closeFake(conn *websocket.Conn, socket *prefectSocket, code int, reason string) {
	_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(requestTimeout))
	socket.mu.Lock()
	socket.closeCode = code
	socket.mu.Unlock()
}

func (s *prefectSocket) recordEnd(err error) {
	code := websocket.CloseAbnormalClosure
	var closeErr *websocket.CloseError
	if errors.As(err, &closeErr) {
		code = closeErr.Code
	}
	s.mu.Lock()
	if s.closeCode == 0 {
		s.closeCode = code
	}
	s.mu.Unlock()
}

// activity returns how many HTTP requests and websocket upgrades the fake
// has received, so that a test can check that a rejected request added none.
func (f *fakePrefect) activity() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.requests) + len(f.sockets)
}

// withRequestID returns the HTTP requests that carried X-Request-Id id.
func (f *fakePrefect) withRequestID(id string) []prefectRequest {
	f.mu.Lock()
	defer f.mu.Unlock()

	var found []prefectRequest
	for _, request := range f.requests {
		if request.Header.Get("X-Request-Id") == id {
			found = append(found, request)
		}
	}
	return found
}

// socketCount returns the number of websocket upgrades received so far.
func (f *fakePrefect) socketCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.sockets)
}

// socketsSince returns the websocket upgrades received after the first
// before ones.
func (f *fakePrefect) socketsSince(before int) []*prefectSocket {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*prefectSocket(nil), f.sockets[before:]...)
}

// basicAuthorization returns the Authorization value "Basic base64(text)".
func basicAuthorization(text string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(text))
}

// socketClient opens websockets through the proxy as Prefect 3's clients
// do and remembers every credential it sends.
type socketClient struct {
	address  string // host:port of the proxy
	remember func(string)
	next     func() string // returns a new request id
}

// socketDial describes one websocket upgrade.
type socketDial struct {
	path string
	// authorization is the Authorization header of the upgrade, if any.
	authorization string
	host          string
	header        map[string]string
	// legacy leaves out the prefect subprotocol.
	legacy bool
}

// openSocket is a client websocket with the id of its upgrade request.
type openSocket struct {
	conn      *websocket.Conn
	requestID string
	// pings receives the payload of every ping the client reads.
	pings chan string
}

// dial sends the upgrade. It returns the HTTP response of a rejected
// upgrade with its body read, or an open socket.
func (c *socketClient) dial(t *testing.T, d socketDial) (*openSocket, *http.Response, []byte) {
	t.Helper()
	header := http.Header{}
	id := c.next()
	header.Set("X-Request-Id", id)
	for name, value := range d.header {
		header.Set(name, value)
	}
	if d.authorization != "" {
		header.Set("Authorization", d.authorization)
		c.remember(d.authorization)
	}
	if d.host != "" {
		header.Set("Host", d.host)
	}

	dialer := websocket.Dialer{HandshakeTimeout: requestTimeout}
	if !d.legacy {
		dialer.Subprotocols = []string{"prefect"}
	}
	conn, response, err := dialer.Dial("ws://"+c.address+d.path, header)
	if err != nil {
		if response == nil {
			t.Fatalf("websocket upgrade of %s (request %s): %v", d.path, id, err)
		}
		body, _ := io.ReadAll(response.Body)
		response.Body.Close()
		return nil, response, body
	}

	want := "prefect"
	if d.legacy {
		want = ""
	}
	if got := conn.Subprotocol(); got != want {
		t.Errorf("subprotocol of the 101 for %s = %q, expected %q", d.path, got, want)
	}

	socket := &openSocket{conn: conn, requestID: id, pings: make(chan string, 16)}
	conn.SetPingHandler(func(data string) error {
		select {
		case socket.pings <- data:
		default:
		}
		return conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(requestTimeout))
	})
	t.Cleanup(func() { conn.Close() })
	return socket, response, nil
}

// send writes one text message.
func (s *openSocket) send(t *testing.T, message string) {
	t.Helper()
	_ = s.conn.SetWriteDeadline(time.Now().Add(requestTimeout))
	if err := s.conn.WriteMessage(websocket.TextMessage, []byte(message)); err != nil {
		t.Fatalf("write to websocket %s: %v", s.requestID, err)
	}
}

// authenticate sends the auth message with token, or a null token when
// token is nil.
func (s *openSocket) authenticate(t *testing.T, token *string) {
	t.Helper()
	s.send(t, mustJSON(map[string]any{"type": "auth", "token": token}))
}

// read returns the next data message, or the error that ended the read.
// The deadline only stops a hung test.
func (s *openSocket) read() (string, error) {
	_ = s.conn.SetReadDeadline(time.Now().Add(requestTimeout))
	_, data, err := s.conn.ReadMessage()
	return string(data), err
}

// expectMessage reads the next data message and compares it with want.
func (s *openSocket) expectMessage(t *testing.T, want string) {
	t.Helper()
	got, err := s.read()
	if err != nil {
		t.Fatalf("websocket %s: read: %v, expected %s", s.requestID, err, want)
	}
	if got != want {
		t.Fatalf("websocket %s: received %s, expected %s", s.requestID, got, want)
	}
}

// expectClose reads until the socket closes and returns the close frame's
// code and reason.
func (s *openSocket) expectClose(t *testing.T) (int, string) {
	t.Helper()
	for {
		message, err := s.read()
		if err == nil {
			t.Logf("websocket %s: message before the close: %s", s.requestID, message)
			continue
		}
		var closeErr *websocket.CloseError
		if !errors.As(err, &closeErr) {
			t.Fatalf("websocket %s ended with %v, expected a close frame", s.requestID, err)
		}
		return closeErr.Code, closeErr.Text
	}
}

// closeNormally sends a 1000 close frame and waits for the reply.
func (s *openSocket) closeNormally() {
	deadline := time.Now().Add(requestTimeout)
	_ = s.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), deadline)
	_ = s.conn.SetReadDeadline(deadline)
	for {
		if _, _, err := s.conn.ReadMessage(); err != nil {
			break
		}
	}
	s.conn.Close()
}

// rawRequest sends a request line exactly as given over TCP, so that no
// client library cleans or escapes the target, and returns the response.
func rawRequest(t *testing.T, address, method, target string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", address, requestTimeout)
	if err != nil {
		t.Fatalf("connect to the proxy: %v", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(requestTimeout))

	var text strings.Builder
	fmt.Fprintf(&text, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n", method, target, address)
	for name, value := range header {
		fmt.Fprintf(&text, "%s: %s\r\n", name, value)
	}
	text.WriteString("\r\n")
	if _, err := io.WriteString(conn, text.String()); err != nil {
		t.Fatalf("write request: %v", err)
	}

	response, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read response to %s %q: %v", method, target, err)
	}
	defer response.Body.Close()
	body, err := io.ReadAll(response.Body)
	if err != nil {
		t.Fatalf("read response body to %s %q: %v", method, target, err)
	}
	return response, body
}
