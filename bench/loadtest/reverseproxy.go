package main

import (
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"
)

// newBareProxy returns the baseline forwarder: an httputil.ReverseProxy
// whose Rewrite hook only calls SetURL. It has no authentication, no
// authorization, no header stripping, no X-Forwarded-* headers and no audit,
// so the gap between it and the real proxy is what those cost.
//
// The transport and FlushInterval repeat the values that internal/proxy.New
// uses with default options and the default UPSTREAM_TIMEOUT of 60 s. Keep
// them in step with that function, or the comparison measures transport
// tuning instead of the proxy's own work.
//
// The handler turns on full duplex for each request. Without it, Go's
// HTTP/1 server (net/http in Go 1.26) drains and closes the inbound request
// body when the response headers are written. When the upstream responds
// before the transport has made its final read of the streamed body, that
// read fails and the transport closes the upstream connection, cutting the
// response: about 1 % of UI batch requests on one wrk connection failed that
// way in this load test. The proxy reads the whole body before forwarding,
// so it does not take this path.
func newBareProxy(target *url.URL) http.Handler {
	transport := &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          512,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		ExpectContinueTimeout: time.Second,
	}

	reverse := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
		},
		Transport:     transport,
		FlushInterval: -1,
	}

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// An error means the connection is not HTTP/1, where full duplex is
		// always on.
		_ = http.NewResponseController(w).EnableFullDuplex()
		reverse.ServeHTTP(w, r)
	})
}
