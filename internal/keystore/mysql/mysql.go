// Package mysql opens a key store on MySQL or MariaDB with
// github.com/go-sql-driver/mysql.
//
// Tables made for the Node.js proxy use DATETIME columns and the latin1
// character set. DATETIME has no time zone, so Open makes the driver read
// and write UTC and sets the session time_zone to UTC for TIMESTAMP columns.
package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/keystore"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/keystore/sqlstore"
)

// DefaultPort is the port DSN uses when given 0.
const DefaultPort = 3306

// Timeouts that DSN sets. Queries are also bounded by their context, so the
// read and write timeouts only close a connection that stopped responding.
const (
	dialTimeout = 5 * time.Second
	ioTimeout   = 30 * time.Second
)

// Server error numbers from the MySQL error reference, which MariaDB shares.
const (
	errDuplicateEntry = 1062 // ER_DUP_ENTRY
	errNoSuchTable    = 1146 // ER_NO_SUCH_TABLE
)

// Dialect is the MySQL and MariaDB dialect of sqlstore.
//
// The table it creates differs from the Node.js proxy's in two ways: it uses
// utf8mb4 with a binary collation, so user ids are not limited to latin1 and
// api_key comparisons are exact, and it has an index on api_key.
var Dialect = sqlstore.Dialect{
	Name: "MySQL",
	CreateTable: []string{
		"CREATE TABLE IF NOT EXISTS `prefect_api_keys` (\n" +
			"  `user_id` varchar(128) NOT NULL,\n" +
			"  `scopes` varchar(2000) NOT NULL,\n" +
			"  `api_key` varchar(128) NOT NULL,\n" +
			"  `key_issu_dt` datetime NOT NULL,\n" +
			"  `key_expr_dt` datetime NOT NULL,\n" +
			"  `creatd_dt` datetime NOT NULL,\n" +
			"  `last_updatd_dt` datetime NOT NULL,\n" +
			"  `creatd_by` varchar(11) NOT NULL,\n" +
			"  `last_updatd_by` varchar(11) NOT NULL,\n" +
			"  PRIMARY KEY (`user_id`),\n" +
			"  KEY `prefect_api_keys_api_key_idx` (`api_key`)\n" +
			") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
	},
	// REPLACE deletes the old row and inserts the new one. It works on
	// every MySQL and MariaDB version, unlike the VALUES() function of
	// ON DUPLICATE KEY UPDATE, which MySQL 8.0.20 deprecated.
	Replace:        "REPLACE INTO " + keystore.Table + " (" + sqlstore.Columns + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
	TimeValue:      func(t time.Time) any { return t },
	IsDuplicate:    func(err error) bool { return hasNumber(err, errDuplicateEntry) },
	IsMissingTable: func(err error) bool { return hasNumber(err, errNoSuchTable) },
}

// Open connects to the MySQL or MariaDB database named by dsn, in the
// driver's form (user:password@tcp(host:3306)/db?parseTime=true). It
// overrides dsn with parseTime=true, loc=UTC, time_zone='+00:00' and
// clientFoundRows=true (so an UPDATE that changes nothing still counts the
// row), and, when dsn has no timeout, bounds the connect by
// opts.QueryTimeout.
func Open(ctx context.Context, dsn string, opts keystore.Options) (*sqlstore.Store, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("open key store: parse MySQL DSN: %w", err)
	}

	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("open key store on %s: %w", describe(cfg), err)
	}
	opts = opts.WithDefaults()

	cfg.ParseTime = true
	cfg.Loc = time.UTC
	cfg.ClientFoundRows = true
	if cfg.Params == nil {
		cfg.Params = make(map[string]string)
	}
	cfg.Params["time_zone"] = "'+00:00'"
	if cfg.Timeout == 0 {
		cfg.Timeout = opts.QueryTimeout
	}

	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("open key store on %s: %w", describe(cfg), err)
	}

	return sqlstore.Open(ctx, sql.OpenDB(connector), Dialect, describe(cfg), opts)
}

// DSN builds a driver DSN from the proxy's database settings. Port 0 means
// DefaultPort and an empty host means 127.0.0.1, the driver's default. It
// sets parseTime=true, loc=UTC, a 5 s dial timeout and 30 s read and write
// timeouts.
func DSN(host string, port int, user, password, database string) string {
	if host == "" {
		host = "127.0.0.1"
	}

	if port == 0 {
		port = DefaultPort
	}

	cfg := mysql.NewConfig()
	cfg.User = user
	cfg.Passwd = password
	cfg.Net = "tcp"
	cfg.Addr = net.JoinHostPort(host, strconv.Itoa(port))
	cfg.DBName = database
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	cfg.Timeout = dialTimeout
	cfg.ReadTimeout = ioTimeout
	cfg.WriteTimeout = ioTimeout

	return cfg.FormatDSN()
}

// describe names the database for messages, without the password.
func describe(cfg *mysql.Config) string {
	return fmt.Sprintf("MySQL database %q on %s", cfg.DBName, cfg.Addr)
}

func hasNumber(err error, number uint16) bool {
	var e *mysql.MySQLError
	return errors.As(err, &e) && e.Number == number
}
