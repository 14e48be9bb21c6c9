package server

import (
	"context"
	"fmt"

	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/config"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/keystore"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/keystore/mysql"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/keystore/postgres"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/keystore/sqlite"
)

// OpenStore opens the key store that the configuration selects. SQLite
// files get their table created; PostgreSQL and MySQL tables are created
// only when createTable is true, because operators usually manage those
// schemas themselves.
func OpenStore(ctx context.Context, cfg config.Config, createTable bool) (keystore.Store, error) {
	options := keystore.Options{
		QueryTimeout: cfg.DBQueryTimeout,
		MaxOpenConns: cfg.DBMaxOpenConns,
		CreateTable:  createTable,
	}

	switch kind := cfg.DatabaseType(); kind {
	case config.DatabaseSQLite:
		return sqlite.Open(ctx, cfg.DBDatabase, options)
	case config.DatabasePostgres:
		dsn := postgres.DSN(cfg.DBHost, cfg.DBPort, cfg.DBUser, cfg.DBPassword, cfg.DBDatabase)
		return postgres.Open(ctx, dsn, options)
	case config.DatabaseMySQL:
		dsn := mysql.DSN(cfg.DBHost, cfg.DBPort, cfg.DBUser, cfg.DBPassword, cfg.DBDatabase)
		return mysql.Open(ctx, dsn, options)
	default:
		return nil, fmt.Errorf("open key store: unknown database type %q", kind)
	}
}
