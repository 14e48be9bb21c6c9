package server

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/audit"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/authn"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/authz"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/authz/rest"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/logging"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/prefect"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/proxy"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/scope"
)

// attributionHeaders are the Prefect 3.6.17+ client headers that name the
// worker, flow and deployment behind a request. The audit trail records
// them when present.
var attributionHeaders = []string{"X-Prefect-Worker-Name", "X-Prefect-Deployment-Name", "X-Prefect-Flow-Name"}

// serveREST authorizes a Prefect 2/3 REST, UI or websocket request and
// forwards what its key allows.
func (s *Server) serveREST(w http.ResponseWriter, r *http.Request) {
	path, err := rest.CleanPath(r.URL.EscapedPath())
	if err != nil {
		s.denyREST(w, r, http.StatusBadRequest, rest.Result{Decision: pathDecision(err)}, authn.Credential{}, "")
		return
	}
	// The upstream receives exactly the path that is authorized.
	r.URL.Path = path
	r.URL.RawPath = ""

	base := s.cfg.APIBasePath
	isAPI := rest.IsAPIPath(path, base)
	public := (!isAPI && !s.cfg.RequireKeyForUI) || rest.IsPublicRoute(r.Method, path, base) ||
		s.publicRoutes.Match(r.Method, path) || s.cfg.AllowPublicAccess
	if public {
		s.forwardPublicREST(w, r, path, isAPI)
		return
	}

	if proxy.IsWebSocketUpgrade(r) {
		s.serveWebSocket(w, r, path)
		return
	}

	credential := authn.FromRequest(r)
	identity, err := s.authn.Authenticate(r.Context(), credential)
	if err != nil {
		status := http.StatusUnauthorized
		decision := denialOf(err)
		if decision.Reason == authz.ReasonKeyStoreUnavailable {
			status = http.StatusServiceUnavailable
		}
		if !isAPI {
			// Outside the API mount a browser may show its own login
			// prompt, which lets the Prefect 2 UI work with a key.
			w.Header().Set("WWW-Authenticate", `Basic realm="Prefect", charset="UTF-8"`)
		}
		s.denyREST(w, r, status, rest.Result{Decision: decision}, credential, identity.Key.UserID)
		return
	}
	infoFrom(r.Context()).UserID = identity.Key.UserID

	facts, ok := s.restFacts(w, r, path)
	if !ok {
		return
	}
	grant, _ := identity.Grant.(*scope.Grant)
	result := rest.Authorize(facts, grant, s.roles)
	if !result.Decision.Allow {
		s.denyREST(w, r, http.StatusForbidden, result, credential, identity.Key.UserID)
		return
	}

	s.recordREST(r, result, credential, identity.Key.UserID)
	if !isAPI && isUISettings(r, path) {
		s.serveUISettings(w, r)
		return
	}
	s.engine.ServeHTTP(w, r)
}

// restFacts gathers what the REST authorizer reads. The body is buffered
// only for the few routes whose rule reads it.
func (s *Server) restFacts(w http.ResponseWriter, r *http.Request, path string) (rest.RequestFacts, bool) {
	facts := rest.RequestFacts{
		Method: r.Method, Path: path, Query: r.URL.Query(), Header: r.Header, APIBasePath: s.cfg.APIBasePath,
	}
	if !rest.NeedsBody(r.Method, path, s.cfg.APIBasePath) {
		return facts, true
	}

	body, err := readLimited(w, r, s.cfg.MaxBodyBytes)
	if err != nil {
		status, decision := bodyDecision(err, s.cfg.MaxBodyBytes)
		s.denyREST(w, r, status, rest.Result{Decision: decision}, authn.FromRequest(r), infoFrom(r.Context()).UserID)
		return facts, false
	}
	facts.Body = body
	setBody(r, body)
	return facts, true
}

// forwardPublicREST forwards a request that needs no key: UI files, the
// health probes, PERMITTED_ROUTES and everything under
// ALLOW_PUBLIC_ACCESS. /ui-settings is rewritten on the way back.
func (s *Server) forwardPublicREST(w http.ResponseWriter, r *http.Request, path string, isAPI bool) {
	info := infoFrom(r.Context())
	info.Reason = string(authz.ReasonPublicRoute)
	if s.cfg.AllowPublicAccess {
		info.Reason = string(authz.ReasonPublicAccess)
		if isWrite(r.Method) {
			result := rest.Result{Decision: authz.Allowed(authz.ReasonPublicAccess, ""), Write: true}
			s.recordREST(r, result, authn.Credential{}, "")
		}
	}
	s.metrics.ObserveRequest(authz.Allowed(authz.Reason(info.Reason), ""), time.Since(info.Start))

	if !isAPI && isUISettings(r, path) {
		s.serveUISettings(w, r)
		return
	}
	if isAPI && proxy.IsWebSocketUpgrade(r) {
		s.serveSocket(w, r, proxy.WebSocketSession{HeaderAuthenticated: true})
		return
	}
	s.engine.ServeHTTP(w, r)
}

// isWrite reports whether a method may change state. Reading POST routes
// (filters, counts) are recognized by the route table; this coarse test is
// only for ALLOW_PUBLIC_ACCESS, where no table lookup is made.
func isWrite(method string) bool {
	return method != http.MethodGet && method != http.MethodHead && method != http.MethodOptions
}

// recordREST audits an allowed REST request when it writes.
func (s *Server) recordREST(r *http.Request, result rest.Result, credential authn.Credential, userID string) {
	info := infoFrom(r.Context())
	info.Reason = string(result.Decision.Reason)
	s.metrics.ObserveRequest(result.Decision, time.Since(info.Start))
	if result.Decision.Allow && !result.Write {
		return
	}
	s.audit.Record(r.Context(), s.restEvent(r, result, credential, userID))
}

func (s *Server) restEvent(r *http.Request, result rest.Result, credential authn.Credential, userID string) audit.Event {
	info := infoFrom(r.Context())
	event := audit.Event{
		Allow: result.Decision.Allow, Reason: result.Decision.Reason, Scope: result.Decision.Scope,
		Message: result.Decision.Message, UserID: userID, RequestID: info.ID, Client: info.Client,
		Method: r.Method, Path: r.URL.Path, Route: result.Route, Index: -1,
	}
	if userID == "" && credential.Present() {
		event.KeyPrefix = credential.KeyPrefix()
	}
	for _, name := range attributionHeaders {
		if value := r.Header.Get(name); value != "" {
			if event.Headers == nil {
				event.Headers = map[string]string{}
			}
			event.Headers[strings.ToLower(strings.ReplaceAll(name, "-", "_"))] = audit.Truncate(value, 200)
		}
	}
	return event
}

// denyREST responds to a refused REST request as Prefect's own errors look, so
// both UIs show the detail: 401 for authentication, 403 for authorization.
// The body never contains "Invalid CSRF token" (the Prefect client would
// retry) and the response never carries Prefect-Maintenance (it would retry
// forever).
func (s *Server) denyREST(w http.ResponseWriter, r *http.Request, status int, result rest.Result, credential authn.Credential, userID string) {
	info := infoFrom(r.Context())
	info.Reason = string(result.Decision.Reason)
	s.metrics.ObserveRequest(result.Decision, time.Since(info.Start))
	s.audit.Record(r.Context(), s.restEvent(r, result, credential, userID))
	s.logger.Info("request denied", logging.KeyRequestID, info.ID, logging.KeyClient, info.Client,
		logging.KeyReason, result.Decision.Reason, logging.KeyUserID, userID)

	message := result.Decision.Message
	if message == "" {
		message = string(result.Decision.Reason)
	}
	writeJSON(w, status, map[string]string{
		"detail":            message,
		"exception_message": message,
		"reason":            string(result.Decision.Reason),
		"scope":             result.Decision.Scope,
	})
}

func pathDecision(err error) authz.Decision {
	if pathErr, ok := err.(*rest.PathError); ok {
		return pathErr.Decision()
	}
	return authz.Denied(authz.ReasonPathInvalid, "", fmt.Sprintf("invalid request path: %v", err))
}

// isUISettings reports whether a UI request is the UI's settings document,
// which lives at <UI base>/ui-settings.
func isUISettings(r *http.Request, path string) bool {
	return r.Method == http.MethodGet && (path == "/ui-settings" || strings.HasSuffix(path, "/ui-settings"))
}

// serveUISettings forwards GET /ui-settings and rewrites the response so that
// the UIs show their login form and call the proxy's API URL.
func (s *Server) serveUISettings(w http.ResponseWriter, r *http.Request) {
	r.Header.Set("Accept-Encoding", "identity")
	buffer := newBufferWriter(1 << 20)
	s.engine.ServeHTTP(buffer, r)

	if buffer.status != http.StatusOK || buffer.overflow {
		buffer.copyTo(w)
		return
	}

	rewritten, err := prefect.RewriteUISettings(buffer.body.Bytes(), buffer.header.Get("Content-Encoding"), s.publicAPIURL(r))
	if err != nil {
		s.logger.Warn("ui-settings passed through unchanged", logging.KeyRequestID, infoFrom(r.Context()).ID, logging.KeyError, err)
		buffer.copyTo(w)
		return
	}
	copyHeaders(w.Header(), buffer.header)
	writeRaw(w, http.StatusOK, rewritten)
}

// publicAPIURL is the API URL browsers use: PUBLIC_URL when set, otherwise
// derived from the request's scheme and host, honouring X-Forwarded-Proto
// and X-Forwarded-Host from trusted proxies.
func (s *Server) publicAPIURL(r *http.Request) string {
	base := strings.TrimSuffix(s.cfg.APIBasePath, "/")
	if s.cfg.PublicURL != nil {
		return strings.TrimSuffix(s.cfg.PublicURL.String(), "/") + base
	}

	scheme, host := "http", r.Host
	if r.TLS != nil {
		scheme = "https"
	}
	if s.fromTrustedProxy(r) {
		if proto := firstValue(r.Header.Get("X-Forwarded-Proto")); proto == "http" || proto == "https" {
			scheme = proto
		}
		if forwardedHost := firstValue(r.Header.Get("X-Forwarded-Host")); forwardedHost != "" {
			host = forwardedHost
		}
	}
	return scheme + "://" + host + base
}

func firstValue(header string) string {
	first, _, _ := strings.Cut(header, ",")
	return strings.TrimSpace(first)
}
