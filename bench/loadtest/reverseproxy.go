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
func newBareProxy(target *url.URL) *httputil.ReverseProxy {
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

	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
		},
		Transport:     transport,
		FlushInterval: -1,
	}
}
