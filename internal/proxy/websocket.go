package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

// PrefectSubprotocol is the websocket subprotocol with which Prefect 3 clients
// announce the auth handshake: the client's first message is
// {"type":"auth","token":...} and the server replies {"type":"auth_success"}.
const PrefectSubprotocol = "prefect"

// Close reasons that Prefect's server sends for the same cases. The proxy
// uses the same text so that clients report the same messages with or
// without the proxy in front.
const (
	reasonExpectedAuth = "Expected 'auth' message"
	reasonNoToken      = "Auth required but no token provided"
)

const (
	defaultWebSocketDialTimeout      = 10 * time.Second
	defaultWebSocketHandshakeTimeout = 10 * time.Second
	defaultAuthTimeout               = 10 * time.Second
	defaultWriteTimeout              = 30 * time.Second
	defaultCheckInterval             = 30 * time.Second

	// defaultMaxMessageBytes is uvicorn's default ws_max_size (16 MiB), the
	// server under Prefect, so every message that Prefect accepts also passes.
	defaultMaxMessageBytes = 16 << 20

	// authMessageLimit bounds the first message, which arrives before the
	// client is authenticated. An auth message is a type and a token of at
	// most a few hundred bytes.
	authMessageLimit = 64 << 10

	// closeGrace bounds the wait for a peer to reply to a close frame before
	// the proxy drops the TCP connection.
	closeGrace = 5 * time.Second

	// maxCloseReasonBytes is the room for text in a close frame: a control
	// frame carries at most 125 bytes, and the close code takes 2.
	maxCloseReasonBytes = 123
)

// defaultForwardHeaders are the upgrade request headers copied upstream
// when WebSocketOptions.ForwardHeaders is nil.
var defaultForwardHeaders = []string{
	"User-Agent",
	"X-Prefect-Api-Version",
	"X-Prefect-Worker-Id",
	"X-Prefect-Worker-Name",
	"X-Prefect-Flow-Id",
	"X-Prefect-Flow-Name",
	"X-Prefect-Deployment-Id",
	"X-Prefect-Deployment-Name",
}

// WebSocketOptions configures a WebSocketRelay.
type WebSocketOptions struct {
	// Target is the upstream base URL, http, https, ws or wss. http becomes
	// ws and https becomes wss. The request path is appended to Target.Path
	// and the queries are merged, exactly as the HTTP engine does.
	Target *url.URL
	// KeepClientHost sends the client's Host header upstream instead of the
	// target's host.
	KeepClientHost bool
	// SetHeaders are set on the upstream upgrade request, for example
	// Authorization: Basic base64(auth string) for an upstream that has its
	// own auth string. Hop-by-hop and Sec-WebSocket-* headers are rejected.
	SetHeaders http.Header
	// ForwardHeaders names the client upgrade request headers copied to the
	// upstream upgrade request, by exact name. Nil means User-Agent (the
	// Prefect server parses the client version from it),
	// X-Prefect-Api-Version and the attribution headers of Prefect 3.6.17+
	// clients (X-Prefect-Worker-Id, -Worker-Name, -Flow-Id, -Flow-Name,
	// -Deployment-Id, -Deployment-Name). An empty non-nil slice copies none.
	// Credentials (Authorization, Cookie, Proxy-Authorization), Host,
	// hop-by-hop and Sec-WebSocket-* headers are rejected. There are no
	// wildcards because a custom client header may carry the user's API key.
	ForwardHeaders []string
	// UpstreamToken replaces the token of the auth message sent upstream.
	// Nil sends JSON null, which an upstream without an auth string accepts.
	// The client's token is never sent upstream, because it may be the
	// user's API key.
	UpstreamToken *string
	// CheckOrigin reports whether an upgrade request's Origin is allowed.
	// Nil allows every origin: Prefect's Python clients send no Origin and
	// Prefect's UIs open no websockets, so authorization rests on the
	// credential. The caller must check Origin itself before it sets
	// WebSocketSession.HeaderAuthenticated from a credential that a browser
	// attaches on its own (a cookie or cached Basic credentials), or another
	// site's page could open an authenticated websocket.
	CheckOrigin func(r *http.Request) bool
	// TrustForwarded reports whether the upgrade comes from a trusted proxy
	// whose X-Forwarded-* headers are passed on, as in Options.
	TrustForwarded func(r *http.Request) bool
	// HandshakeTimeout bounds writing the 101 response to the client and the
	// upstream's upgrade handshake. Default 10 s.
	HandshakeTimeout time.Duration
	// DialTimeout bounds the TCP connect to the upstream. Default 10 s.
	DialTimeout time.Duration
	// AuthTimeout bounds the wait for the client's auth message. Default 10 s.
	AuthTimeout time.Duration
	// WriteTimeout bounds writing one message or control frame to either
	// side. A peer that stops reading for longer ends the session. Default 30 s.
	WriteTimeout time.Duration
	// MaxMessageBytes is the largest data message relayed in either
	// direction. A larger one closes the session with 1009. Default 16 MiB.
	MaxMessageBytes int64
	// CheckInterval is how often WebSocketSession.Check runs. Default 30 s.
	CheckInterval time.Duration
	// Logger receives errors and session ends. Default slog.Default().
	Logger *slog.Logger
}

// WebSocketSession carries the per-connection authentication hooks, so that
// the relay needs no knowledge of keys or scopes.
type WebSocketSession struct {
	// HeaderAuthenticated reports that the upgrade request carried a valid
	// credential. The first-message token is then neither checked nor
	// forwarded, and a client without the prefect subprotocol is relayed.
	HeaderAuthenticated bool
	// AuthenticateToken checks the token of the client's auth message when
	// HeaderAuthenticated is false. Its error text becomes the 1008 close
	// reason. An error text that contains the token is replaced by
	// "invalid token", but it should not contain it in the first place.
	// Nil rejects every token.
	AuthenticateToken func(ctx context.Context, token string) error
	// Check re-validates the credential every CheckInterval while the
	// session lasts, for revocation and expiry. ctx expires after
	// CheckInterval. Any error closes both sides with 1008 and the error
	// text as the reason, so return nil for errors that should not end the
	// session. Nil disables re-checks.
	Check func(ctx context.Context) error
	// OnEnd receives the summary once the session has ended and all of its
	// goroutines have returned, for the audit trail.
	OnEnd func(summary WebSocketSummary)
}

// Side names who ended a websocket session.
type Side string

// The parties of a relayed websocket session.
const (
	SideClient   Side = "client"
	SideUpstream Side = "upstream"
	SideProxy    Side = "proxy"
)

// WebSocketSummary describes one finished websocket session.
type WebSocketSummary struct {
	// Started is when Serve was called.
	Started time.Time
	// Duration is the time from Started until both connections were closed.
	Duration time.Duration
	// Subprotocol is the subprotocol agreed with the client: "prefect" or "".
	Subprotocol string
	// UpstreamConnected reports that the client passed authentication and
	// the upstream accepted the upgrade.
	UpstreamConnected bool
	// ClosedBy is the side whose close frame, lost connection or decision
	// ended the session.
	ClosedBy Side
	// CloseCode is the close code that ended the session, 1006 for a lost
	// connection, or 0 when the upgrade itself failed.
	CloseCode int
	// CloseReason is the close frame's text, or the upgrade error.
	CloseReason string
	// MessagesToUpstream and MessagesToClient count the data messages
	// written to each side, the rewritten auth message included.
	MessagesToUpstream, MessagesToClient int64
	// BytesToUpstream and BytesToClient count those messages' payload bytes.
	BytesToUpstream, BytesToClient int64
}

// WebSocketRelay terminates a client's websocket and relays its messages to
// a websocket of its own to the upstream, both directions, text and binary,
// pings and pongs included. It is safe for concurrent use.
type WebSocketRelay struct {
	options     WebSocketOptions
	target      *url.URL
	forward     []string
	authMessage []byte
	upgrader    websocket.Upgrader
	dialer      websocket.Dialer
	logger      *slog.Logger
}

// NewWebSocketRelay validates options, fills in the defaults and returns a
// relay.
func NewWebSocketRelay(options WebSocketOptions) (*WebSocketRelay, error) {
	if err := validateWebSocketOptions(options); err != nil {
		return nil, err
	}
	options = withWebSocketDefaults(options)

	target, err := websocketURL(options.Target)
	if err != nil {
		return nil, err
	}
	forward, err := forwardHeaderNames(options.ForwardHeaders)
	if err != nil {
		return nil, err
	}
	authMessage, err := json.Marshal(authMessage{Type: "auth", Token: options.UpstreamToken})
	if err != nil {
		return nil, fmt.Errorf("encode upstream auth message: %w", err)
	}

	checkOrigin := options.CheckOrigin
	if checkOrigin == nil {
		checkOrigin = func(*http.Request) bool { return true }
	}

	return &WebSocketRelay{
		options:     options,
		target:      target,
		forward:     forward,
		authMessage: authMessage,
		upgrader: websocket.Upgrader{
			HandshakeTimeout: options.HandshakeTimeout,
			Subprotocols:     []string{PrefectSubprotocol},
			CheckOrigin:      checkOrigin,
		},
		dialer: websocket.Dialer{
			// The upstream is addressed directly, never through HTTP_PROXY.
			NetDialContext:   (&net.Dialer{Timeout: options.DialTimeout, KeepAlive: 30 * time.Second}).DialContext,
			HandshakeTimeout: options.HandshakeTimeout,
		},
		logger: options.Logger,
	}, nil
}

// IsWebSocketUpgrade reports whether r requests an upgrade to a websocket
// (Connection: upgrade and Upgrade: websocket).
func IsWebSocketUpgrade(r *http.Request) bool {
	return websocket.IsWebSocketUpgrade(r)
}

// authMessage is the first message of the prefect subprotocol.
type authMessage struct {
	Type  string  `json:"type"`
	Token *string `json:"token"`
}

func validateWebSocketOptions(options WebSocketOptions) error {
	if options.Target == nil {
		return errors.New("websocket relay: missing target URL")
	}
	durations := []struct {
		name  string
		value time.Duration
	}{
		{"HandshakeTimeout", options.HandshakeTimeout},
		{"DialTimeout", options.DialTimeout},
		{"AuthTimeout", options.AuthTimeout},
		{"WriteTimeout", options.WriteTimeout},
		{"CheckInterval", options.CheckInterval},
	}
	for _, duration := range durations {
		if duration.value < 0 {
			return fmt.Errorf("websocket relay: %s is %v, want zero (the default) or positive", duration.name, duration.value)
		}
	}
	if options.MaxMessageBytes < 0 {
		return fmt.Errorf("websocket relay: MaxMessageBytes is %d, want zero (the default) or positive", options.MaxMessageBytes)
	}
	for name := range options.SetHeaders {
		if isHandshakeHeader(http.CanonicalHeaderKey(name)) {
			return fmt.Errorf("websocket relay: SetHeaders must not contain %s, which the websocket handshake sets", name)
		}
	}
	return nil
}

func withWebSocketDefaults(options WebSocketOptions) WebSocketOptions {
	if options.HandshakeTimeout == 0 {
		options.HandshakeTimeout = defaultWebSocketHandshakeTimeout
	}
	if options.DialTimeout == 0 {
		options.DialTimeout = defaultWebSocketDialTimeout
	}
	if options.AuthTimeout == 0 {
		options.AuthTimeout = defaultAuthTimeout
	}
	if options.WriteTimeout == 0 {
		options.WriteTimeout = defaultWriteTimeout
	}
	if options.MaxMessageBytes == 0 {
		options.MaxMessageBytes = defaultMaxMessageBytes
	}
	if options.CheckInterval == 0 {
		options.CheckInterval = defaultCheckInterval
	}
	if options.Logger == nil {
		options.Logger = slog.Default()
	}
	return options
}

// websocketURL returns target with its scheme turned into ws or wss.
func websocketURL(target *url.URL) (*url.URL, error) {
	converted := *target
	switch strings.ToLower(target.Scheme) {
	case "http", "ws":
		converted.Scheme = "ws"
	case "https", "wss":
		converted.Scheme = "wss"
	default:
		return nil, fmt.Errorf("websocket relay: target scheme %q is not supported, want http, https, ws or wss", target.Scheme)
	}
	if target.Host == "" {
		return nil, fmt.Errorf("websocket relay: target URL %q has no host", target.Redacted())
	}

	// Dialers reject user information in websocket URLs. Upstream
	// credentials belong in SetHeaders.
	converted.User = nil
	return &converted, nil
}

// forwardHeaderNames returns the canonical names of the headers to copy
// upstream, or an error for a header that must never be copied.
func forwardHeaderNames(names []string) ([]string, error) {
	if names == nil {
		names = defaultForwardHeaders
	}

	canonical := make([]string, 0, len(names))
	for _, name := range names {
		key := http.CanonicalHeaderKey(name)
		switch {
		case key == "Authorization" || key == "Proxy-Authorization" || key == "Cookie":
			return nil, fmt.Errorf("websocket relay: ForwardHeaders must not contain the credential header %s", name)
		case key == "Host" || isHandshakeHeader(key):
			return nil, fmt.Errorf("websocket relay: ForwardHeaders must not contain %s, which the proxy sets itself", name)
		}
		canonical = append(canonical, key)
	}
	return canonical, nil
}

// isHandshakeHeader reports whether key, in canonical form, belongs to the
// websocket handshake or to one hop, so that copying it would break the
// upstream upgrade.
func isHandshakeHeader(key string) bool {
	switch key {
	case "Connection", "Upgrade", "Keep-Alive", "Te", "Trailer", "Transfer-Encoding", "Content-Length", "Proxy-Connection":
		return true
	}
	return strings.HasPrefix(key, "Sec-Websocket-")
}

// Serve upgrades r to a websocket, authenticates the client with session's
// hooks and relays messages to and from the upstream until either side
// closes. It returns after both connections are closed and OnEnd has run.
//
// With the prefect subprotocol, the client's first message must be an auth
// message. The upstream is dialed only after the client passed
// authentication, so an unauthenticated client never reaches it. Without
// the subprotocol (Prefect's legacy mode), only a header-authenticated
// client is relayed.
func (relay *WebSocketRelay) Serve(w http.ResponseWriter, r *http.Request, session WebSocketSession) {
	b := &bridge{
		relay:   relay,
		request: r,
		session: session,
		logger:  relay.logger.With("path", r.URL.Path, "remote_addr", r.RemoteAddr),
		summary: WebSocketSummary{Started: time.Now()},
	}
	defer b.end()

	client, err := relay.upgrader.Upgrade(w, r, nil)
	if err != nil {
		// Upgrade has already sent the client an HTTP error response.
		b.summary.ClosedBy = SideProxy
		b.summary.CloseReason = "websocket upgrade failed: " + err.Error()
		b.logger.Debug("websocket upgrade failed", "error", err)
		return
	}
	b.client = &endpoint{side: SideClient, conn: client, writeTimeout: relay.options.WriteTimeout}
	b.summary.Subprotocol = client.Subprotocol()

	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()

	b.run(ctx)
}

// bridge is the state of one relayed session.
type bridge struct {
	relay    *WebSocketRelay
	request  *http.Request
	session  WebSocketSession
	logger   *slog.Logger
	client   *endpoint
	upstream *endpoint
	summary  WebSocketSummary
}

// ending describes what ended a session: a close frame from one side, a
// lost connection, or a decision of the proxy.
type ending struct {
	closedBy Side
	code     int
	reason   string
	// source is the side whose close frame or failure ended the session,
	// nil when the proxy decided.
	source *endpoint
	// peer is the other side, which still needs a close frame. Nil when
	// the proxy decided, because then both sides get one.
	peer *endpoint
	// sourceClosed is true when source needs no close frame: the library
	// already sent one, or source's connection is gone.
	sourceClosed bool
}

func (b *bridge) run(ctx context.Context) {
	authMessage, rejection := b.admit(ctx)
	if rejection != nil {
		b.rejectClient(*rejection)
		return
	}

	if end := b.connectUpstream(ctx, authMessage); end != nil {
		b.rejectClient(*end)
		return
	}
	b.summary.UpstreamConnected = true

	b.relayMessages(ctx)
}

// end closes both connections, completes the summary and hands it to OnEnd.
func (b *bridge) end() {
	if b.client != nil {
		b.summary.MessagesToClient = b.client.messages.Load()
		b.summary.BytesToClient = b.client.bytes.Load()
		_ = b.client.conn.Close()
	}
	if b.upstream != nil {
		b.summary.MessagesToUpstream = b.upstream.messages.Load()
		b.summary.BytesToUpstream = b.upstream.bytes.Load()
		_ = b.upstream.conn.Close()
	}
	b.summary.Duration = time.Since(b.summary.Started)

	b.logger.Debug("websocket session ended",
		"closed_by", b.summary.ClosedBy,
		"close_code", b.summary.CloseCode,
		"close_reason", b.summary.CloseReason,
		"messages_to_upstream", b.summary.MessagesToUpstream,
		"messages_to_client", b.summary.MessagesToClient,
		"duration", b.summary.Duration)
	if b.session.OnEnd != nil {
		b.session.OnEnd(b.summary)
	}
}

// admit authenticates the client. It returns the auth message to send
// upstream, nil in legacy mode, or the ending that rejects the client.
func (b *bridge) admit(ctx context.Context) ([]byte, *ending) {
	if b.summary.Subprotocol != PrefectSubprotocol {
		if !b.session.HeaderAuthenticated {
			return nil, proxyEnding(websocket.ClosePolicyViolation, "authentication required")
		}
		return nil, nil
	}

	token, end := b.readAuthToken()
	if end != nil {
		return nil, end
	}
	if b.session.HeaderAuthenticated {
		return b.relay.authMessage, nil
	}

	if token == "" {
		return nil, proxyEnding(websocket.ClosePolicyViolation, reasonNoToken)
	}
	if b.session.AuthenticateToken == nil {
		return nil, proxyEnding(websocket.ClosePolicyViolation, "authentication required")
	}
	if err := b.session.AuthenticateToken(ctx, token); err != nil {
		reason := err.Error()
		if strings.Contains(reason, token) {
			// The close reason reaches the client and the audit trail, where
			// the token must never appear.
			reason = "invalid token"
		}
		b.logger.Debug("websocket token rejected", "reason", reason)
		return nil, proxyEnding(websocket.ClosePolicyViolation, reason)
	}
	return b.relay.authMessage, nil
}

// readAuthToken reads the client's first message and returns its token,
// "" for a null or missing one.
func (b *bridge) readAuthToken() (string, *ending) {
	conn := b.client.conn
	conn.SetReadLimit(authMessageLimit)
	_ = conn.SetReadDeadline(time.Now().Add(b.relay.options.AuthTimeout))

	messageType, data, err := conn.ReadMessage()
	if err != nil {
		var netErr net.Error
		if errors.As(err, &netErr) && netErr.Timeout() {
			return "", proxyEnding(websocket.ClosePolicyViolation, "timed out waiting for 'auth' message")
		}
		end := readEnding(b.client, nil, err, authMessageLimit)
		return "", &end
	}

	if messageType != websocket.TextMessage {
		return "", proxyEnding(websocket.ClosePolicyViolation, reasonExpectedAuth)
	}
	token, err := parseAuthMessage(data)
	if errors.Is(err, errNotAuthMessage) {
		return "", proxyEnding(websocket.ClosePolicyViolation, reasonExpectedAuth)
	}
	if err != nil {
		return "", proxyEnding(websocket.ClosePolicyViolation, err.Error())
	}
	return token, nil
}

// Errors of parseAuthMessage. errTokenNotString's text is the close reason.
var (
	errNotAuthMessage = errors.New("not an auth message")
	errTokenNotString = errors.New("invalid token: not a string")
)

// parseAuthMessage returns the token of a prefect-subprotocol auth message,
// "" when it is null, missing or empty. Keys match exactly, as in Prefect's
// server, and a token that is not a string is invalid.
func parseAuthMessage(data []byte) (string, error) {
	var message map[string]any
	if err := json.Unmarshal(data, &message); err != nil {
		return "", errNotAuthMessage
	}
	if messageType, _ := message["type"].(string); messageType != "auth" {
		return "", errNotAuthMessage
	}

	switch token := message["token"].(type) {
	case nil:
		return "", nil
	case string:
		return token, nil
	default:
		return "", errTokenNotString
	}
}

// connectUpstream dials the upstream and sends it authMessage unless nil.
func (b *bridge) connectUpstream(ctx context.Context, authMessage []byte) *ending {
	conn, err := b.relay.dial(ctx, b.request, b.summary.Subprotocol)
	if err != nil {
		b.logger.Warn("websocket upstream dial failed", "target", b.relay.target.Redacted(), "error", err)
		return proxyEnding(websocket.CloseInternalServerErr, dialFailureReason(err))
	}
	b.upstream = &endpoint{side: SideUpstream, conn: conn, writeTimeout: b.relay.options.WriteTimeout}
	if authMessage == nil {
		return nil
	}

	if err := b.upstream.write(websocket.TextMessage, authMessage); err != nil {
		b.logger.Warn("websocket auth message to upstream failed", "error", err)
		return proxyEnding(websocket.CloseInternalServerErr, "upstream connection failed")
	}
	return nil
}

// dial opens the upstream websocket for request r.
func (relay *WebSocketRelay) dial(ctx context.Context, r *http.Request, subprotocol string) (*websocket.Conn, error) {
	target, header := relay.upstreamRequest(r)

	dialer := relay.dialer
	if subprotocol != "" {
		dialer.Subprotocols = []string{subprotocol}
	}
	conn, response, err := dialer.DialContext(ctx, target.String(), header)
	if err != nil {
		if response != nil {
			return nil, &upgradeRejectedError{status: response.StatusCode, err: err}
		}
		return nil, fmt.Errorf("dial upstream websocket: %w", err)
	}
	return conn, nil
}

// upgradeRejectedError is an upstream's HTTP response other than 101.
type upgradeRejectedError struct {
	status int
	err    error
}

func (e *upgradeRejectedError) Error() string {
	return fmt.Sprintf("upstream rejected the websocket upgrade with HTTP %d: %v", e.status, e.err)
}

func (e *upgradeRejectedError) Unwrap() error { return e.err }

// dialFailureReason is the close reason sent to the client. It leaves out
// the upstream's address, which the client has no need to know.
func dialFailureReason(err error) string {
	var rejected *upgradeRejectedError
	if errors.As(err, &rejected) {
		return fmt.Sprintf("upstream rejected the websocket upgrade (HTTP %d)", rejected.status)
	}
	return "upstream unavailable"
}

// upstreamRequest returns the upstream URL and upgrade headers for r. The
// URL is joined with httputil's own rules, so websockets and plain requests
// reach the same upstream paths.
func (relay *WebSocketRelay) upstreamRequest(r *http.Request) (*url.URL, http.Header) {
	header := http.Header{}
	for _, name := range relay.forward {
		if values := r.Header.Values(name); len(values) > 0 {
			header[name] = values
		}
	}

	in := *r.URL
	proxyRequest := httputil.ProxyRequest{
		In:  r,
		Out: &http.Request{URL: &in, Header: header},
	}
	proxyRequest.SetURL(relay.target)
	trusted := relay.options.TrustForwarded != nil && relay.options.TrustForwarded(r)
	setForwarded(&proxyRequest, trusted)

	for name, values := range relay.options.SetHeaders {
		header[http.CanonicalHeaderKey(name)] = values
	}
	if relay.options.KeepClientHost {
		header.Set("Host", r.Host)
	}
	return proxyRequest.Out.URL, header
}

// rejectClient ends a session that never reached the relay phase.
func (b *bridge) rejectClient(end ending) {
	b.record(end)
	if end.closedBy != SideProxy || end.sourceClosed {
		return
	}
	b.logger.Debug("websocket client rejected", "close_code", end.code, "close_reason", end.reason)
	b.client.closeAndDrain(end.code, end.reason)
}

// record stores end in the summary unless an earlier ending is stored.
func (b *bridge) record(end ending) {
	if b.summary.ClosedBy != "" {
		return
	}
	b.summary.ClosedBy = end.closedBy
	b.summary.CloseCode = end.code
	b.summary.CloseReason = truncateCloseReason(end.reason)
}

// relayMessages pumps messages both ways until either side closes, a check
// fails or ctx ends.
func (b *bridge) relayMessages(ctx context.Context) {
	b.prepareRelay(b.client, b.upstream)
	b.prepareRelay(b.upstream, b.client)

	// Each pump sends exactly one ending. The buffer lets a pump finish
	// while the coordinator is busy with a check.
	endings := make(chan ending, 2)
	var pumps sync.WaitGroup
	pumps.Add(2)
	go func() {
		defer pumps.Done()
		endings <- b.pump(b.client, b.upstream)
	}()
	go func() {
		defer pumps.Done()
		endings <- b.pump(b.upstream, b.client)
	}()

	first, received := b.awaitEnding(ctx, endings)
	b.record(first)
	b.closeBoth(first)
	b.awaitPumps(endings, 2-received)
	pumps.Wait()
}

// prepareRelay sets src's limits and control-frame handlers for the relay
// phase: pings and pongs from src go to dst, and the coordinator, not the
// library, replies to close frames.
func (b *bridge) prepareRelay(src, dst *endpoint) {
	// No read deadline, because the endpoints detect a silent peer
	// themselves: Prefect's server (uvicorn defaults, set through
	// PREFECT_SERVER_API_WEBSOCKET_PING_*) pings every 20 s and closes after
	// 20 s without a pong, and those pings pass through. An idle deadline
	// below about 40 s would cut healthy sessions.
	_ = src.conn.SetReadDeadline(time.Time{})
	src.conn.SetReadLimit(b.relay.options.MaxMessageBytes)

	// A control frame that cannot be forwarded is dropped. If dst is gone,
	// its pump reports that.
	src.conn.SetPingHandler(func(data string) error {
		_ = dst.writeControl(websocket.PingMessage, []byte(data))
		return nil
	})
	src.conn.SetPongHandler(func(data string) error {
		_ = dst.writeControl(websocket.PongMessage, []byte(data))
		return nil
	})
	src.conn.SetCloseHandler(func(int, string) error { return nil })
}

// pump copies data messages from src to dst until reading or writing fails.
func (b *bridge) pump(src, dst *endpoint) ending {
	for {
		messageType, data, err := src.conn.ReadMessage()
		if err != nil {
			return readEnding(src, dst, err, b.relay.options.MaxMessageBytes)
		}
		if err := dst.write(messageType, data); err != nil {
			// dst is gone. Its own pump usually reports that first.
			return ending{closedBy: dst.side, code: websocket.CloseAbnormalClosure, source: dst, peer: src, sourceClosed: true}
		}
	}
}

// readEnding turns a read error from src into an ending. peer may be nil
// before the upstream is connected.
func readEnding(src, peer *endpoint, err error, limit int64) ending {
	var closeErr *websocket.CloseError
	switch {
	case errors.As(err, &closeErr):
		sourceClosed := closeErr.Code == websocket.CloseAbnormalClosure
		return ending{closedBy: src.side, code: closeErr.Code, reason: closeErr.Text, source: src, peer: peer, sourceClosed: sourceClosed}
	case errors.Is(err, websocket.ErrReadLimit):
		// The library has already sent src a 1009 close frame.
		reason := fmt.Sprintf("message larger than %d bytes", limit)
		return ending{closedBy: SideProxy, code: websocket.CloseMessageTooBig, reason: reason, source: src, peer: peer, sourceClosed: true}
	default:
		return ending{closedBy: src.side, code: websocket.CloseAbnormalClosure, source: src, peer: peer, sourceClosed: true}
	}
}

// awaitEnding waits for the first pump to end, a failed check or the end
// of ctx. It returns the ending and how many pump endings it consumed.
func (b *bridge) awaitEnding(ctx context.Context, endings <-chan ending) (ending, int) {
	var ticks <-chan time.Time
	if b.session.Check != nil {
		ticker := time.NewTicker(b.relay.options.CheckInterval)
		defer ticker.Stop()
		ticks = ticker.C
	}

	for {
		select {
		case end := <-endings:
			return end, 1
		case <-ctx.Done():
			return *proxyEnding(websocket.CloseGoingAway, "proxy closed the connection"), 0
		case <-ticks:
			if err := b.check(ctx); err != nil {
				b.logger.Info("websocket session closed: credential check failed", "error", err)
				return *proxyEnding(websocket.ClosePolicyViolation, err.Error()), 0
			}
		}
	}
}

func (b *bridge) check(ctx context.Context) error {
	checkCtx, cancel := context.WithTimeout(ctx, b.relay.options.CheckInterval)
	defer cancel()
	return b.session.Check(checkCtx)
}

// closeBoth sends the close frames that end calls for: a reply to the side
// that closed and the same close to the other side, or the proxy's close to
// both.
func (b *bridge) closeBoth(end ending) {
	if end.source == nil {
		_ = b.client.sendClose(end.code, end.reason)
		_ = b.upstream.sendClose(end.code, end.reason)
		return
	}

	if !end.sourceClosed {
		_ = end.source.sendClose(end.code, "")
	}
	code, reason := forwardedClose(end, end.peer.side)
	_ = end.peer.sendClose(code, reason)
}

// forwardedClose returns the close code and reason to send to side for
// end. Code 1006 only describes a lost connection and must not be sent in a
// frame.
func forwardedClose(end ending, side Side) (int, string) {
	if end.code != websocket.CloseAbnormalClosure {
		return end.code, end.reason
	}
	if side == SideClient {
		return websocket.CloseInternalServerErr, "upstream connection lost"
	}
	return websocket.CloseGoingAway, "client connection lost"
}

// awaitPumps waits for the remaining pumps, which end once their peers
// reply to the close frames. The connections of a peer that sends no reply
// within closeGrace are closed.
func (b *bridge) awaitPumps(endings <-chan ending, remaining int) {
	grace := time.NewTimer(closeGrace)
	defer grace.Stop()

	for remaining > 0 {
		select {
		case <-endings:
			remaining--
		case <-grace.C:
			_ = b.client.conn.Close()
			_ = b.upstream.conn.Close()
		}
	}
}

// proxyEnding is an ending decided by the proxy.
func proxyEnding(code int, reason string) *ending {
	return &ending{closedBy: SideProxy, code: code, reason: reason}
}

// endpoint is one of the two connections of a session. Gorilla allows one
// concurrent writer of data messages per connection, and WriteControl may
// run concurrently with it.
type endpoint struct {
	side         Side
	conn         *websocket.Conn
	writeTimeout time.Duration

	writeMu sync.Mutex
	// messages and bytes count the data messages written to this side.
	messages atomic.Int64
	bytes    atomic.Int64
}

// write sends one data message.
func (e *endpoint) write(messageType int, data []byte) error {
	e.writeMu.Lock()
	defer e.writeMu.Unlock()

	_ = e.conn.SetWriteDeadline(time.Now().Add(e.writeTimeout))
	if err := e.conn.WriteMessage(messageType, data); err != nil {
		return err
	}
	e.messages.Add(1)
	e.bytes.Add(int64(len(data)))
	return nil
}

// writeControl sends a ping, pong or close frame. It may run concurrently
// with write.
func (e *endpoint) writeControl(messageType int, data []byte) error {
	return e.conn.WriteControl(messageType, data, time.Now().Add(e.writeTimeout))
}

// sendClose sends a close frame with code and reason, the reason cut to fit.
func (e *endpoint) sendClose(code int, reason string) error {
	return e.writeControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, truncateCloseReason(reason)))
}

// closeAndDrain sends a close frame and reads until the peer replies or
// closeGrace passes, so the close frame is not lost to a TCP reset.
func (e *endpoint) closeAndDrain(code int, reason string) {
	if err := e.sendClose(code, reason); err != nil {
		return
	}

	_ = e.conn.SetReadDeadline(time.Now().Add(closeGrace))
	for {
		// The library panics after 1000 reads of a failed connection, so
		// the first error ends the loop.
		if _, _, err := e.conn.NextReader(); err != nil {
			return
		}
	}
}

// truncateCloseReason cuts reason to the room of a close frame at a UTF-8
// character boundary.
func truncateCloseReason(reason string) string {
	if len(reason) <= maxCloseReasonBytes {
		return reason
	}
	cut := maxCloseReasonBytes
	for cut > 0 && !utf8.RuneStart(reason[cut]) {
		cut--
	}
	return reason[:cut]
}
