package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/gorilla/websocket"
)

// PrefectSubprotocol is the websocket subprotocol with which Prefect 3 clients
// announce the auth handshake: the client's first message is
// {"type":"auth","token":...} and the server replies {"type":"auth_success"}.
const PrefectSubprotocol = "prefect"

const (
	defaultWebSocketDialTimeout      = 10 * time.Second
	defaultWebSocketHandshakeTimeout = 10 * time.Second
	defaultAuthTimeout               = 10 * time.Second
	defaultWriteTimeout              = 30 * time.Second
	defaultCheckInterval             = 30 * time.Second

	// defaultMaxMessageBytes is uvicorn's default ws_max_size (16 MiB), the
	// server under Prefect, so every message that Prefect accepts also passes.
	defaultMaxMessageBytes = 16 << 20
)

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
