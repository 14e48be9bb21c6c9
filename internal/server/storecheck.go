package server

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/config"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/keystore"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/logging"
)

// probeKey is looked up by the readiness check. It is not a valid key
// format, so it never matches a row; the lookup only proves that the key
// table can be queried.
const probeKey = "readiness probe"

// checkKeyStore reports whether the key table can be queried: a database
// that is up but has no prefect_api_keys table fails.
func (s *Server) checkKeyStore(ctx context.Context) error {
	if err := s.store.Ping(ctx); err != nil {
		return err
	}
	_, err := s.store.Lookup(ctx, probeKey)
	if err == nil || errors.Is(err, keystore.ErrNotFound) {
		return nil
	}
	return fmt.Errorf("query key table: %w", err)
}

// reportKeyStore logs at start-up which key database is used and whether
// it holds keys, because a proxy started in the wrong directory silently
// creates a new, empty SQLite file.
func (s *Server) reportKeyStore(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()

	database := describeDatabase(s.cfg)
	if err := s.checkKeyStore(ctx); err != nil {
		s.lifecycle.Error("key store not usable: every request will be denied until it is", "database", database, logging.KeyError, err)
		return
	}

	keys, err := s.store.List(ctx)
	if err != nil {
		s.lifecycle.Error("list keys failed", "database", database, logging.KeyError, err)
		return
	}
	if len(keys) == 0 {
		s.lifecycle.Warn("the key store holds no API keys: create one with prefect-auth-proxy keys create", "database", database)
		return
	}
	s.lifecycle.Info("key store ready", "database", database, "keys", len(keys))
}

// describeDatabase names the key database for logs, without the password.
func describeDatabase(cfg config.Config) string {
	if cfg.DatabaseType() == config.DatabaseSQLite {
		path, err := filepath.Abs(cfg.DBDatabase)
		if err != nil {
			path = cfg.DBDatabase
		}
		return "sqlite " + path
	}
	return fmt.Sprintf("%s %s@%s:%d/%s", cfg.DatabaseType(), cfg.DBUser, cfg.DBHost, cfg.DBPort, cfg.DBDatabase)
}
