// Package postgres opens a key store on PostgreSQL through pgx and its
// database/sql adapter.
//
// The table uses timestamp (without time zone) columns holding UTC, like
// tables made for the Node.js proxy. Every session runs with TimeZone UTC,
// so timestamptz columns read and write UTC as well.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/keystore"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/keystore/sqlstore"
)

// DefaultPort is the port DSN uses when given 0.
const DefaultPort = 5432

// connectTimeout is the connect_timeout that DSN sets, in seconds.
const connectTimeout = 5

// SQLSTATE codes from the PostgreSQL documentation, appendix A.
const (
	codeUniqueViolation = "23505"
	codeUndefinedTable  = "42P01"
)

// Dialect is the PostgreSQL dialect of sqlstore.
var Dialect = sqlstore.Dialect{
	Name:                 "PostgreSQL",
	NumberedPlaceholders: true,
	CreateTable: []string{
		`CREATE TABLE IF NOT EXISTS prefect_api_keys (
  user_id varchar(128) NOT NULL,
  scopes varchar(2000) NOT NULL,
  api_key varchar(128) NOT NULL,
  key_issu_dt timestamp NOT NULL,
  key_expr_dt timestamp NOT NULL,
  creatd_dt timestamp NOT NULL,
  last_updatd_dt timestamp NOT NULL,
  creatd_by varchar(11) NOT NULL,
  last_updatd_by varchar(11) NOT NULL,
  PRIMARY KEY (user_id)
)`,
		`CREATE INDEX IF NOT EXISTS prefect_api_keys_api_key_idx ON prefect_api_keys (api_key)`,
	},
	Replace: sqlstore.ReplaceOnConflict,
	// pgx writes a time.Time into a timestamp column with its wall clock,
	// which is UTC here, and into a timestamptz column as an instant.
	TimeValue:      func(t time.Time) any { return t },
	IsDuplicate:    func(err error) bool { return hasCode(err, codeUniqueViolation) },
	IsMissingTable: func(err error) bool { return hasCode(err, codeUndefinedTable) },
}

// Open connects to the PostgreSQL database named by dsn, a URL
// (postgres://user@host:5432/db?sslmode=disable) or key=value string as pgx
// accepts them. It sets the session TimeZone to UTC and, when dsn has no
// connect_timeout, bounds the connect by opts.QueryTimeout.
func Open(ctx context.Context, dsn string, opts keystore.Options) (*sqlstore.Store, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// pgx masks the password in this error.
		return nil, fmt.Errorf("open key store: parse PostgreSQL DSN: %w", err)
	}

	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("open key store on %s: %w", describe(cfg), err)
	}
	opts = opts.WithDefaults()

	cfg.RuntimeParams["timezone"] = "UTC"
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = opts.QueryTimeout
	}

	db := stdlib.OpenDB(*cfg)

	return sqlstore.Open(ctx, db, Dialect, describe(cfg), opts)
}

// DSN builds a connection URL from the proxy's database settings. Port 0
// means DefaultPort and an empty host means localhost. Every value is
// escaped, and the URL sets a connect timeout of 5 s.
func DSN(host string, port int, user, password, database string) string {
	if host == "" {
		host = "localhost"
	}

	if port == 0 {
		port = DefaultPort
	}

	u := url.URL{
		Scheme:   "postgres",
		Host:     net.JoinHostPort(host, strconv.Itoa(port)),
		Path:     "/" + database,
		RawQuery: url.Values{"connect_timeout": {strconv.Itoa(connectTimeout)}}.Encode(),
	}

	switch {
	case password != "":
		u.User = url.UserPassword(user, password)
	case user != "":
		u.User = url.User(user)
	}

	return u.String()
}

// describe names the database for messages, without the password.
func describe(cfg *pgx.ConnConfig) string {
	return fmt.Sprintf("PostgreSQL database %q on %s", cfg.Database, net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))))
}

func hasCode(err error, code string) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && e.Code == code
}
