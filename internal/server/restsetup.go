package server

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"os"

	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/authz/rest"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/config"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/logging"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/prefect"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/proxy"
)

// upstreamAuthorization returns the Authorization header sent upstream in
// place of the client's: Basic base64(UPSTREAM_AUTH_STRING), the form the
// Prefect 3 server checks, or nothing when the setting is empty.
func upstreamAuthorization(cfg config.Config) http.Header {
	if cfg.UpstreamAuthString == "" || cfg.Mode() != config.ModeREST {
		return nil
	}
	encoded := base64.StdEncoding.EncodeToString([]byte(cfg.UpstreamAuthString))
	return http.Header{"Authorization": []string{"Basic " + encoded}}
}

// buildREST prepares what REST mode adds: the role table, the public routes
// and the websocket relay.
func (s *Server) buildREST(cfg config.Config, upstreamHeaders http.Header) error {
	s.roles = prefect.RoleTable()

	texts := []string{cfg.PermittedRoutesJSON}
	if cfg.PermittedRoutesFile != "" {
		content, err := os.ReadFile(cfg.PermittedRoutesFile)
		if err != nil {
			return fmt.Errorf("read PERMITTED_ROUTES_FILE: %w", err)
		}
		texts = append(texts, string(content))
	}
	public, err := rest.ParsePublicRoutes(texts...)
	if err != nil {
		return fmt.Errorf("parse permitted routes: %w", err)
	}
	s.publicRoutes = public
	if items := public.Items(); len(items) > 0 {
		s.lifecycle.Warn("routes forwarded without a key", "routes", items)
	}

	var upstreamToken *string
	if cfg.UpstreamAuthString != "" {
		upstreamToken = &cfg.UpstreamAuthString
	}
	relay, err := proxy.NewWebSocketRelay(proxy.WebSocketOptions{
		Target:         cfg.APIServiceURL,
		KeepClientHost: cfg.PreserveHost,
		TrustForwarded: s.fromTrustedProxy,
		CheckOrigin:    s.checkSocketOrigin,
		SetHeaders:     upstreamHeaders,
		UpstreamToken:  upstreamToken,
		CheckInterval:  cfg.WebSocketCheckInterval,
		Logger:         s.logger.With(logging.KeyComponent, "websocket"),
	})
	if err != nil {
		return fmt.Errorf("build websocket relay: %w", err)
	}
	s.websocket = relay
	return nil
}

// checkSocketOrigin accepts websocket upgrades without an Origin (Prefect's
// Python clients send none) and from origins that CORS allows. With
// REQUIRE_KEY_FOR_UI, browsers attach cached Basic credentials on their
// own, so only the proxy's own origin is accepted: another site's page
// could otherwise open an authenticated socket.
func (s *Server) checkSocketOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	if s.cfg.RequireKeyForUI {
		parsed, err := url.Parse(origin)
		return err == nil && parsed.Host == r.Host
	}
	return s.cors.allowedOrigin(r) != ""
}

// fromTrustedProxy reports whether the request's direct peer is one of
// TRUSTED_PROXIES, whose X-Forwarded-* headers are believed.
func (s *Server) fromTrustedProxy(r *http.Request) bool {
	host := r.RemoteAddr
	if address, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		return isTrusted(address.Addr(), s.cfg.TrustedProxies)
	}
	address, err := netip.ParseAddr(host)
	return err == nil && isTrusted(address, s.cfg.TrustedProxies)
}
