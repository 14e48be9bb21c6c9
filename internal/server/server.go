// Package server wires the proxy together: it builds the request pipeline
// from the configuration (admin endpoints, CORS, authentication, GraphQL
// authorization, audit, forwarding) and runs the listeners.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/admin"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/audit"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/authn"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/authz"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/authz/graphql"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/authz/rest"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/config"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/keystore"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/logging"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/metrics"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/prefect"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/proxy"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/scope"
)

// credentialHeaders are never forwarded: they hold the client's API key.
var credentialHeaders = []string{"Authorization", "X-Prefect-User-Id"}

// Server is the proxy's HTTP handler with everything it uses.
type Server struct {
	cfg       config.Config
	logger    *slog.Logger
	lifecycle *slog.Logger
	level     *logging.Level
	audit     *audit.Logger
	store     keystore.Store
	authn     *authn.Authenticator
	tenants   *prefect.TenantSource
	engine    proxy.Engine
	admin     *admin.Endpoints
	metrics   *metrics.Metrics
	cors      cors
	// upstreamHeaders are set on every upstream request, such as the
	// Prefect server's own Authorization.
	upstreamHeaders http.Header

	// sockets is cancelled on shutdown to close open websockets.
	sockets     context.Context
	stopSockets context.CancelFunc

	// REST mode only.
	roles        *rest.RoleTable
	publicRoutes *rest.PublicRoutes
	websocket    *proxy.WebSocketRelay
}

// Options are the parts of a Server that the caller builds: the logs and
// the key store, so that tests and the CLI can supply their own.
type Options struct {
	Logger *slog.Logger
	// Lifecycle receives start, stop and configuration lines. It is usually
	// enabled at Info even when Logger's level is higher. Default Logger.
	Lifecycle *slog.Logger
	Level     *logging.Level
	AuditLog  io.Writer
	Store     keystore.Store
}

// New builds a Server from a validated configuration.
func New(cfg config.Config, options Options) (*Server, error) {
	s := &Server{
		cfg:       cfg,
		logger:    options.Logger,
		lifecycle: options.Lifecycle,
		level:     options.Level,
		audit:     audit.New(options.AuditLog, string(cfg.LogFormat), cfg.AuditVariablesMaxBytes),
		store:     options.Store,
		cors:      newCORS(cfg.CORSAllowedOrigins),
	}

	if s.lifecycle == nil {
		s.lifecycle = s.logger
	}
	s.sockets, s.stopSockets = context.WithCancel(context.Background())

	s.authn = authn.New(options.Store, authn.Options{
		TTL:         cfg.KeyCacheTTL,
		NegativeTTL: cfg.KeyCacheNegativeTTL,
		Size:        cfg.KeyCacheSize,
		Logger:      s.logger.With(logging.KeyComponent, "authn"),
		Compile:     s.compileScopes,
	})
	s.metrics = metrics.New(s.cacheCounters)

	upstreamClient := &http.Client{Timeout: 15 * time.Second}
	tenant := prefect.Tenant{ID: cfg.TenantID, Name: cfg.TenantName, Slug: cfg.TenantSlug}
	s.tenants = prefect.NewTenantSource(tenant, cfg.APIServiceURL.String(), upstreamClient, s.logger.With(logging.KeyComponent, "tenant"))

	upstreamHeaders := upstreamAuthorization(cfg)
	s.upstreamHeaders = upstreamHeaders
	s.engine = proxy.New(proxy.Options{
		Target:                cfg.APIServiceURL,
		ResponseHeaderTimeout: cfg.UpstreamTimeout,
		KeepClientHost:        cfg.PreserveHost,
		TrustForwarded:        s.fromTrustedProxy,
		StripHeaders:          credentialHeaders,
		SetHeaders:            upstreamHeaders,
		StripResponseHeaders:  corsResponseHeaders,
		ErrorHandler:          s.upstreamError,
	})
	if cfg.Mode() == config.ModeREST {
		if err := s.buildREST(cfg, upstreamHeaders); err != nil {
			return nil, err
		}
	}

	s.admin = admin.New(admin.Options{
		Guard:            s.guardAdmin,
		Cache:            s.authn,
		Level:            options.Level,
		OverrideDuration: cfg.LogLevelOverrideDuration,
		Logger:           s.logger.With(logging.KeyComponent, "admin"),
		Checks: []admin.Check{
			{Name: "key_store", Check: s.checkKeyStore},
			{Name: "upstream", Check: s.pingUpstream(upstreamClient)},
		},
	})
	return s, nil
}

// compileScopes turns a key's scopes text into a grant once per key lookup.
// Items that do not parse grant nothing and are logged with the key's user.
func (s *Server) compileScopes(key keystore.Key) (any, error) {
	grant, problems := scope.Parse(key.Scopes)
	for _, problem := range problems {
		s.logger.Warn("scope item ignored", logging.KeyUserID, key.UserID, logging.KeyError, problem)
	}
	return grant, nil
}

func (s *Server) cacheCounters() metrics.CacheCounters {
	stats := s.authn.Stats()
	return metrics.CacheCounters{
		Hits:         stats.Hits,
		NegativeHits: stats.NegativeHits,
		Misses:       stats.Misses,
		Lookups:      stats.Lookups,
		StoreErrors:  stats.StoreErrors,
	}
}

// Metrics returns the server's Prometheus metrics.
func (s *Server) Metrics() *metrics.Metrics {
	return s.metrics
}

// ServeHTTP runs one request through the pipeline: request scope, admin
// endpoints, CORS preflight, then the API mode's authorization and
// forwarding.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	info := &requestInfo{ID: requestID(r), Client: clientAddress(r, s.cfg.TrustedProxies), Start: time.Now()}
	r = r.WithContext(withRequestInfo(r.Context(), info))
	recorder := &statusWriter{ResponseWriter: w}
	recorder.Header().Set("X-Request-Id", info.ID)
	defer s.logAccess(recorder, r, info)

	if handler := s.admin.Handler(r.Method, r.URL.Path); handler != nil {
		handler(recorder, r)
		return
	}
	if isPreflight(r) {
		s.cors.respondToPreflight(recorder, r)
		return
	}

	s.cors.setHeaders(recorder, r)
	if s.cfg.Mode() == config.ModeREST {
		s.serveREST(recorder, r)
		return
	}
	s.serveGraphQL(recorder, r)
}

// logAccess writes one debug line per request. Paths that carry a key
// (DELETE /cache/{key}) are replaced by a placeholder.
func (s *Server) logAccess(w *statusWriter, r *http.Request, info *requestInfo) {
	if !s.logger.Enabled(r.Context(), slog.LevelDebug) {
		return
	}
	path := r.URL.Path
	if admin.IsSensitivePath(path) {
		path = "/cache/<key>"
	}
	s.logger.LogAttrs(r.Context(), slog.LevelDebug, "request",
		slog.String(logging.KeyRequestID, info.ID),
		slog.String(logging.KeyClient, info.Client),
		slog.String(logging.KeyMethod, r.Method),
		slog.String(logging.KeyPath, path),
		slog.Int(logging.KeyStatus, w.status),
		slog.String(logging.KeyUserID, info.UserID),
		slog.String(logging.KeyReason, info.Reason),
		slog.Int64("bytes", w.bytes),
		slog.Float64(logging.KeyDurationMS, float64(time.Since(info.Start).Microseconds())/1000),
	)
}

// guardAdmin authenticates an admin request and checks its admin scope.
func (s *Server) guardAdmin(w http.ResponseWriter, r *http.Request, area string) (string, bool) {
	info := infoFrom(r.Context())
	credential := authn.FromRequest(r)

	identity, err := s.authn.Authenticate(r.Context(), credential)
	if err != nil {
		decision := denialOf(err)
		s.recordRequestDenial(r, decision, credential, identity.Key.UserID)
		writeAdminDenial(w, decision)
		return "", false
	}

	info.UserID = identity.Key.UserID
	grant, _ := identity.Grant.(*scope.Grant)
	item, ok := grant.AllowAdmin(area)
	if !ok {
		decision := authz.Denied(authz.ReasonScopeMissing, "admin/"+area,
			fmt.Sprintf("%s %s requires the scope \"admin/%s\" or \"admin/*\", which the API key does not have", r.Method, adminPath(r), area))
		s.recordRequestDenial(r, decision, credential, identity.Key.UserID)
		writeAdminDenial(w, decision)
		return "", false
	}

	s.audit.Record(r.Context(), audit.Event{
		Allow: true, Reason: authz.ReasonScopeGranted, Scope: item, UserID: identity.Key.UserID,
		RequestID: info.ID, Client: info.Client, Method: r.Method, Path: adminPath(r), Index: -1,
	})
	return identity.Key.UserID, true
}

func adminPath(r *http.Request) string {
	if admin.IsSensitivePath(r.URL.Path) {
		return "/cache/<key>"
	}
	return r.URL.Path
}

func writeAdminDenial(w http.ResponseWriter, decision authz.Decision) {
	status := http.StatusForbidden
	switch graphql.ErrorCode(decision.Reason) {
	case graphql.CodeUnauthenticated:
		status = http.StatusUnauthorized
	case graphql.CodeInternal:
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, map[string]any{"error": decision.Message, "reason": decision.Reason, "scope": decision.Scope})
}

// pingUpstream returns a readiness check that succeeds when the upstream
// responds without a server error: Apollo responds to a bare GET with 400,
// which still proves it is up, and Prefect 2/3 respond to GET <mount>/health.
func (s *Server) pingUpstream(client *http.Client) func(context.Context) error {
	target := s.cfg.APIServiceURL.String()
	if s.cfg.Mode() == config.ModeREST {
		target = strings.TrimSuffix(target, "/") + s.cfg.APIBasePath + "/health"
	}
	return func(ctx context.Context) error {
		request, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
		if err != nil {
			return fmt.Errorf("build upstream check: %w", err)
		}
		if len(s.upstreamHeaders) > 0 {
			request.Header = s.upstreamHeaders.Clone()
		}
		response, err := client.Do(request)
		if err != nil {
			return fmt.Errorf("reach upstream: %w", err)
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(response.Body, 64<<10))
		response.Body.Close()
		if response.StatusCode >= 500 {
			return fmt.Errorf("reach upstream: HTTP %d", response.StatusCode)
		}
		return nil
	}
}

// ResolveTenant looks the tenant up in the background at start-up, so the
// first login does not wait and misconfiguration shows in the log at once.
// It does nothing in REST mode: Prefect 2 and 3 have no tenants and no
// GraphQL endpoint, so the query would only reach the UI app and log a
// misleading warning.
func (s *Server) ResolveTenant(ctx context.Context) {
	if s.cfg.Mode() != config.ModeGraphQL {
		return
	}
	tenant, err := s.tenants.Tenant(ctx)
	if err != nil {
		s.lifecycle.Warn("tenant not resolved yet; Prefect 1 CLI logins fail until it is", logging.KeyError, err)
		return
	}
	s.lifecycle.Info("serving Prefect Cloud logins", "tenant_id", tenant.ID, "tenant_slug", tenant.Slug)
}

// Close releases the key store.
func (s *Server) Close() error {
	s.stopSockets()
	return s.store.Close()
}

func denialOf(err error) authz.Decision {
	var failure *authn.Error
	if errors.As(err, &failure) {
		return failure.Decision()
	}
	return authz.Denied(authz.ReasonKeyStoreUnavailable, "", "authentication failed: "+strings.TrimSpace(err.Error()))
}
