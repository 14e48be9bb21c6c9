package server

import (
	"context"
	"errors"
	"net/http"
	"sync"

	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/authn"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/authz"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/authz/rest"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/logging"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/proxy"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/scope"
)

// errSocketKeyInvalid closes a live socket whose key was revoked, expired
// or lost the scope for the socket's route.
var errSocketKeyInvalid = errors.New("API key revoked, expired or no longer allowed on this route")

// socketAuth is the identity of one websocket, set by the header check or
// by the first message and re-checked while the socket lives.
type socketAuth struct {
	server *Server
	r      *http.Request
	path   string

	mu       sync.Mutex
	identity authn.Identity
}

// serveWebSocket authenticates a websocket upgrade. A credential in the
// upgrade's headers is checked before the upgrade; without one, the
// client's first message {"type":"auth","token":...} carries it.
func (s *Server) serveWebSocket(w http.ResponseWriter, r *http.Request, path string) {
	auth := &socketAuth{server: s, r: r, path: path}
	session := proxy.WebSocketSession{
		AuthenticateToken: auth.authenticateToken,
		Check:             auth.check,
		OnEnd:             auth.end,
	}

	credential := authn.FromRequest(r)
	if credential.Present() || credential.Err() != nil {
		if !auth.authenticateHeader(w, credential) {
			return
		}
		session.HeaderAuthenticated = true
	}
	s.serveSocket(w, r, session)
}

// serveSocket relays a websocket until either side closes it or the proxy
// shuts down.
func (s *Server) serveSocket(w http.ResponseWriter, r *http.Request, session proxy.WebSocketSession) {
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(s.sockets, cancel)
	defer stop()

	s.websocket.Serve(w, r.WithContext(ctx), session)
}

// authenticateHeader checks the upgrade's own credential and responds with 401
// or 403 before the upgrade when it fails.
func (a *socketAuth) authenticateHeader(w http.ResponseWriter, credential authn.Credential) bool {
	s := a.server
	identity, err := s.authn.Authenticate(a.r.Context(), credential)
	if err != nil {
		status := http.StatusUnauthorized
		decision := denialOf(err)
		if decision.Reason == authz.ReasonKeyStoreUnavailable {
			status = http.StatusServiceUnavailable
		}
		s.denyREST(w, a.r, status, rest.Result{Decision: decision}, credential, identity.Key.UserID)
		return false
	}

	result := a.authorize(identity)
	if !result.Decision.Allow {
		s.denyREST(w, a.r, http.StatusForbidden, result, credential, identity.Key.UserID)
		return false
	}

	a.setIdentity(identity)
	infoFrom(a.r.Context()).UserID = identity.Key.UserID
	a.record(result, credential, identity.Key.UserID)
	return true
}

// authenticateToken checks the token of the first message: a key, or
// user_id:key as PREFECT_API_AUTH_STRING holds it.
func (a *socketAuth) authenticateToken(ctx context.Context, token string) error {
	s := a.server
	credential := authn.ParseToken(token)
	identity, err := s.authn.Authenticate(ctx, credential)
	if err != nil {
		decision := denialOf(err)
		a.record(rest.Result{Decision: decision}, credential, identity.Key.UserID)
		return errors.New(decision.Message)
	}

	result := a.authorize(identity)
	a.record(result, credential, identity.Key.UserID)
	if !result.Decision.Allow {
		return errors.New(result.Decision.Message)
	}
	a.setIdentity(identity)
	return nil
}

// check re-checks the key of a live socket through the cache, so a revoked
// key's socket closes at the latest one KEY_CACHE_TTL plus one
// WEBSOCKET_CHECK_INTERVAL later. A key store outage does not close it.
func (a *socketAuth) check(ctx context.Context) error {
	a.mu.Lock()
	identity := a.identity
	a.mu.Unlock()

	refreshed, err := a.server.authn.Revalidate(ctx, identity)
	if err != nil {
		if denialOf(err).Reason == authz.ReasonKeyStoreUnavailable {
			return nil
		}
		a.server.logger.Info("closing websocket", logging.KeyUserID, identity.Key.UserID,
			logging.KeyPath, a.path, logging.KeyReason, denialOf(err).Reason)
		return errSocketKeyInvalid
	}
	if !a.authorize(refreshed).Decision.Allow {
		return errSocketKeyInvalid
	}
	a.setIdentity(refreshed)
	return nil
}

func (a *socketAuth) authorize(identity authn.Identity) rest.Result {
	grant, _ := identity.Grant.(*scope.Grant)
	facts := rest.RequestFacts{
		Method: http.MethodGet, Path: a.path, Query: a.r.URL.Query(), Header: a.r.Header,
		APIBasePath: a.server.cfg.APIBasePath,
	}
	return rest.Authorize(facts, grant, a.server.roles)
}

func (a *socketAuth) setIdentity(identity authn.Identity) {
	a.mu.Lock()
	a.identity = identity
	a.mu.Unlock()
}

// record writes the session's audit event: every websocket session is
// audited, allowed or not.
func (a *socketAuth) record(result rest.Result, credential authn.Credential, userID string) {
	event := a.server.restEvent(a.r, result, credential, userID)
	event.Method = "WEBSOCKET"
	a.server.audit.Record(a.r.Context(), event)
	a.server.metrics.ObserveRequest(result.Decision, 0)
}

// end logs the end of a session.
func (a *socketAuth) end(summary proxy.WebSocketSummary) {
	a.mu.Lock()
	userID := a.identity.Key.UserID
	a.mu.Unlock()
	a.server.logger.Info("websocket closed", logging.KeyRequestID, infoFrom(a.r.Context()).ID,
		logging.KeyUserID, userID, logging.KeyPath, a.path, "closed_by", string(summary.ClosedBy),
		"close_code", summary.CloseCode, "close_reason", summary.CloseReason,
		"seconds", summary.Duration.Seconds(), "messages_to_upstream", summary.MessagesToUpstream,
		"messages_to_client", summary.MessagesToClient)
}
