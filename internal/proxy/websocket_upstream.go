package proxy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"

	"github.com/gorilla/websocket"
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
