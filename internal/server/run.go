package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/config"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/logging"
)

// Run serves the proxy, and the metrics when METRICS_ADDR is set, until ctx
// is cancelled (SIGTERM or SIGINT in the CLI). It then stops accepting
// connections and waits up to SHUTDOWN_TIMEOUT for open requests.
func (s *Server) Run(ctx context.Context) error {
	listener, err := net.Listen("tcp", s.cfg.ListenAddr())
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.cfg.ListenAddr(), err)
	}
	return s.Serve(ctx, listener)
}

// Serve is Run on a listener the caller opened.
func (s *Server) Serve(ctx context.Context, listener net.Listener) error {
	servers := []*http.Server{s.httpServer(s)}
	listeners := []net.Listener{listener}

	if s.cfg.MetricsAddr != "" {
		metricsListener, err := net.Listen("tcp", s.cfg.MetricsAddr)
		if err != nil {
			listener.Close()
			return fmt.Errorf("listen for metrics on %s: %w", s.cfg.MetricsAddr, err)
		}
		servers = append(servers, s.httpServer(s.metrics.Handler()))
		listeners = append(listeners, metricsListener)
		s.lifecycle.Info("metrics listening", "address", metricsListener.Addr().String())
	}

	s.reportKeyStore(ctx)
	go s.ResolveTenant(ctx)

	failed := make(chan error, len(servers))
	for i, server := range servers {
		go func() {
			if err := server.Serve(listeners[i]); err != nil && !errors.Is(err, http.ErrServerClosed) {
				failed <- fmt.Errorf("serve on %s: %w", listeners[i].Addr(), err)
			}
		}()
	}
	s.lifecycle.Info("proxy listening", "address", listener.Addr().String(),
		logging.KeyUpstream, s.cfg.APIServiceURL.Redacted(), "mode", s.cfg.Mode(), "env", s.cfg.Env)

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-failed:
	}
	return errors.Join(serveErr, s.shutdown(servers))
}

func (s *Server) httpServer(handler http.Handler) *http.Server {
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		// No read or write timeout: uploads and streamed responses may take
		// long, and the upstream timeout bounds the wait for a response.
		ErrorLog: slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
}

func (s *Server) shutdown(servers []*http.Server) error {
	s.lifecycle.Info("shutting down, waiting for open requests", "timeout", s.cfg.ShutdownTimeout.String())
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()

	// Shutdown neither waits for nor closes hijacked connections, so open
	// websockets are stopped first: each closes both sides with 1001.
	s.stopSockets()

	var errs []error
	for _, server := range servers {
		if err := server.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("shut down server: %w", err))
		}
	}
	s.level.Stop()
	started := time.Now()
	if err := s.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close key store: %w", err))
	}
	s.lifecycle.Info("stopped", "close_ms", time.Since(started).Milliseconds())
	return errors.Join(errs...)
}

// Config returns the server's configuration.
func (s *Server) Config() config.Config {
	return s.cfg
}
