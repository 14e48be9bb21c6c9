package server

import (
	"net/http"
	"slices"
	"strings"
)

// Headers that the proxy's CORS responses allow and expose. Browsers send
// preflights without credentials, so the proxy responds to preflights itself and never
// authenticated.
const (
	corsAllowMethods  = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
	corsMaxAgeSeconds = "600"
	corsExposeHeaders = "X-Request-Id"
)

// corsResponseHeaders are removed from upstream responses because the proxy
// sets them itself, and a browser rejects a response that carries
// Access-Control-Allow-Origin twice.
var corsResponseHeaders = []string{
	"Access-Control-Allow-Origin",
	"Access-Control-Allow-Credentials",
	"Access-Control-Expose-Headers",
	"Access-Control-Allow-Methods",
	"Access-Control-Allow-Headers",
	"Access-Control-Max-Age",
}

// cors decides which browser origins may call the proxy.
type cors struct {
	allowAll bool
	origins  []string
}

func newCORS(origins []string) cors {
	return cors{allowAll: slices.Contains(origins, "*"), origins: origins}
}

// allowedOrigin returns the value for Access-Control-Allow-Origin, or ""
// when the request's origin is not allowed or the request has none.
func (c cors) allowedOrigin(r *http.Request) string {
	origin := r.Header.Get("Origin")
	switch {
	case origin == "":
		return ""
	case c.allowAll:
		return "*"
	case slices.Contains(c.origins, origin):
		return origin
	}
	return ""
}

// setHeaders adds the CORS headers for an actual (not preflight) request.
func (c cors) setHeaders(w http.ResponseWriter, r *http.Request) {
	origin := c.allowedOrigin(r)
	if origin == "" {
		return
	}
	header := w.Header()
	header.Set("Access-Control-Allow-Origin", origin)
	header.Set("Access-Control-Expose-Headers", corsExposeHeaders)
	if origin != "*" {
		header.Add("Vary", "Origin")
	}
}

// isPreflight reports whether r is a CORS preflight request.
func isPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Origin") != "" &&
		r.Header.Get("Access-Control-Request-Method") != ""
}

// respondToPreflight responds to a preflight. The requested headers are reflected,
// because the Prefect 1 UI sends a long, version-dependent list of them.
func (c cors) respondToPreflight(w http.ResponseWriter, r *http.Request) {
	header := w.Header()
	if origin := c.allowedOrigin(r); origin != "" {
		header.Set("Access-Control-Allow-Origin", origin)
		header.Set("Access-Control-Allow-Methods", corsAllowMethods)
		if requested := r.Header.Get("Access-Control-Request-Headers"); requested != "" {
			header.Set("Access-Control-Allow-Headers", requested)
		}
		header.Set("Access-Control-Max-Age", corsMaxAgeSeconds)
		if origin != "*" {
			header.Add("Vary", "Origin")
		}
	}
	header.Add("Vary", strings.Join([]string{"Access-Control-Request-Method", "Access-Control-Request-Headers"}, ", "))
	w.WriteHeader(http.StatusNoContent)
}
