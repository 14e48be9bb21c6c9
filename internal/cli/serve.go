package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os/signal"
	"syscall"

	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/config"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/logging"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/server"
)

// serve runs the proxy until SIGTERM or SIGINT, then drains open requests.
func serve(ctx context.Context, env Env, args []string) error {
	cfg, err := config.Load(args, env.Environ)
	if errors.Is(err, flag.ErrHelp) {
		printUsage(env.Stdout)
		return err
	}
	if err != nil {
		return &usageError{message: err.Error(), hint: "prefect-auth-proxy help"}
	}

	level := logging.NewLevel(cfg.LogLevel)
	logger := slog.New(logging.NewHandler(env.Stdout, string(cfg.LogFormat), level))
	// Start and stop lines are written whatever LOG_LEVEL is, so that the
	// effective configuration is always in the log.
	lifecycle := slog.New(logging.NewHandler(env.Stdout, string(cfg.LogFormat), slog.LevelInfo))

	lifecycle.Info("starting prefect-auth-proxy", "version", Version, "config", cfg)
	if cfg.AllowPublicAccess {
		lifecycle.Warn("ALLOW_PUBLIC_ACCESS is on: every request is forwarded without an API key")
	}

	store, err := server.OpenStore(ctx, cfg, false)
	if err != nil {
		return fmt.Errorf("start proxy: %w", err)
	}

	proxy, err := server.New(cfg, server.Options{
		Logger: logger, Lifecycle: lifecycle, Level: level, AuditLog: env.Stdout, Store: store,
	})
	if err != nil {
		store.Close()
		return err
	}

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return proxy.Run(ctx)
}
