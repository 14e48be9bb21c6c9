// Package proxy forwards authorized requests to the Prefect API.
//
// The forwarding engine sits behind the small Engine interface so that a
// faster implementation can replace httputil.ReverseProxy later, chosen by
// measurement, without touching authorization code.
package proxy

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"
)

// Engine forwards a request whose decision has been made. ServeHTTP streams
// the upstream's response to w.
type Engine interface {
	http.Handler
}

// Options configures the ReverseProxy engine.
type Options struct {
	// Target is the upstream URL. Its path is joined with the request path,
	// so target http://apollo:4200/graphql and request / give /graphql/.
	Target *url.URL
	// ResponseHeaderTimeout bounds the wait for the upstream's response
	// headers. Zero means no limit.
	ResponseHeaderTimeout time.Duration
	// DialTimeout bounds connecting to the upstream. Default 10 s.
	DialTimeout time.Duration
	// MaxIdleConnsPerHost is the size of the keep-alive pool. Default 256.
	MaxIdleConnsPerHost int
	// KeepClientHost sends the client's Host header upstream instead of the
	// target's host.
	KeepClientHost bool
	// StripHeaders are removed from every forwarded request, in addition to
	// the hop-by-hop headers ReverseProxy removes.
	StripHeaders []string
	// SetHeaders are set on every forwarded request after stripping, for
	// example the upstream's own Authorization.
	SetHeaders http.Header
	// StripResponseHeaders are removed from upstream responses, for example
	// CORS headers that the proxy sets itself.
	StripResponseHeaders []string
	// TrustForwarded reports whether a request comes from a trusted proxy,
	// whose X-Forwarded-For chain and X-Forwarded-Host and -Proto are passed
	// on instead of being replaced. Nil trusts no proxy.
	TrustForwarded func(r *http.Request) bool
	// ErrorHandler writes the response when the upstream cannot be reached or
	// times out. status is 502 or 504.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, status int, err error)
}

// New returns an Engine built on httputil.ReverseProxy with a pooled,
// keep-alive transport.
func New(options Options) Engine {
	dialTimeout := options.DialTimeout
	if dialTimeout == 0 {
		dialTimeout = 10 * time.Second
	}
	idlePerHost := options.MaxIdleConnsPerHost
	if idlePerHost == 0 {
		idlePerHost = 256
	}

	transport := &http.Transport{
		Proxy:                 nil, // The upstream is addressed directly, never through HTTP_PROXY.
		DialContext:           (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          idlePerHost * 2,
		MaxIdleConnsPerHost:   idlePerHost,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   dialTimeout,
		ResponseHeaderTimeout: options.ResponseHeaderTimeout,
		ExpectContinueTimeout: time.Second,
	}

	strip := make([]string, len(options.StripHeaders))
	for i, name := range options.StripHeaders {
		strip[i] = http.CanonicalHeaderKey(name)
	}

	reverse := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			rewrite(pr, options, strip)
		},
		Transport: transport,
		// -1 flushes after every write, so streamed responses (log downloads,
		// server-sent events) reach the client without waiting.
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			handleError(w, r, err, options.ErrorHandler)
		},
	}
	if len(options.StripResponseHeaders) > 0 {
		reverse.ModifyResponse = func(resp *http.Response) error {
			for _, name := range options.StripResponseHeaders {
				resp.Header.Del(name)
			}
			return nil
		}
	}
	return fullDuplex{reverse}
}

// fullDuplex lets the upstream's response start while the request body is
// still being forwarded. Without it Go's HTTP/1 server closes the request
// body when the response headers are written, and an upstream that responds
// before reading the whole body gets a truncated request.
type fullDuplex struct {
	next http.Handler
}

func (f fullDuplex) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// HTTP/2 connections are full duplex already and return an error here.
	_ = http.NewResponseController(w).EnableFullDuplex()
	f.next.ServeHTTP(w, r)
}

func rewrite(pr *httputil.ProxyRequest, options Options, strip []string) {
	pr.SetURL(options.Target)
	if options.KeepClientHost {
		pr.Out.Host = pr.In.Host
	}
	setForwarded(pr, options.TrustForwarded != nil && options.TrustForwarded(pr.In))

	for _, name := range strip {
		pr.Out.Header.Del(name)
	}
	for name, values := range options.SetHeaders {
		pr.Out.Header[name] = values
	}
}

// setForwarded sets X-Forwarded-For, -Host and -Proto. For a trusted proxy
// the client's chain is extended and its Host and Proto are kept, so the
// upstream gets the scheme and host the browser used. For other peers
// they describe the direct connection only.
func setForwarded(pr *httputil.ProxyRequest, trusted bool) {
	if !trusted {
		pr.SetXForwarded()
		return
	}

	if chain := pr.In.Header.Values("X-Forwarded-For"); len(chain) > 0 {
		pr.Out.Header["X-Forwarded-For"] = chain
	}
	pr.SetXForwarded()
	for _, name := range []string{"X-Forwarded-Host", "X-Forwarded-Proto"} {
		if value := pr.In.Header.Get(name); value != "" {
			pr.Out.Header.Set(name, value)
		}
	}
}

func handleError(w http.ResponseWriter, r *http.Request, err error, handler func(http.ResponseWriter, *http.Request, int, error)) {
	status := http.StatusBadGateway
	if isTimeout(err) {
		status = http.StatusGatewayTimeout
	}
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		// The client went away, so no response can be delivered.
		status = 499
	}
	if handler == nil {
		http.Error(w, http.StatusText(status), status)
		return
	}
	handler(w, r, status, err)
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return true
	}
	return strings.Contains(err.Error(), "timeout awaiting response headers")
}
