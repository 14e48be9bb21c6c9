// Package sqlite opens a key store in an SQLite file with modernc.org/sqlite,
// which needs no cgo.
//
// Datetimes are stored as UTC text in the form '2006-01-02 15:04:05', the
// form of SQLite's own datetime() function, so rows written by hand with
// such literals read back correctly.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/keystore"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/keystore/sqlstore"
)

// Dialect is the SQLite dialect of sqlstore.
var Dialect = sqlstore.Dialect{
	Name: "SQLite",
	CreateTable: []string{
		`CREATE TABLE IF NOT EXISTS prefect_api_keys (
  user_id varchar(128) NOT NULL,
  scopes varchar(2000) NOT NULL,
  api_key varchar(128) NOT NULL,
  key_issu_dt datetime NOT NULL,
  key_expr_dt datetime NOT NULL,
  creatd_dt datetime NOT NULL,
  last_updatd_dt datetime NOT NULL,
  creatd_by varchar(11) NOT NULL,
  last_updatd_by varchar(11) NOT NULL,
  PRIMARY KEY (user_id)
)`,
		`CREATE INDEX IF NOT EXISTS prefect_api_keys_api_key_idx ON prefect_api_keys (api_key)`,
	},
	Replace:        sqlstore.ReplaceOnConflict,
	TimeValue:      func(t time.Time) any { return t.Format(time.DateTime) },
	IsDuplicate:    isDuplicate,
	IsMissingTable: isMissingTable,
}

// Open opens the SQLite database at path, creating the file (mode 0600) and
// the table if they are missing, regardless of opts.CreateTable, because a
// key file without the table is never useful. The directory must exist.
//
// Connections use WAL mode, so readers do not block the writer, and a busy
// timeout equal to the query timeout, so a writer waits for another instead
// of failing at once. Transactions take the write lock when they begin.
func Open(ctx context.Context, path string, opts keystore.Options) (*sqlstore.Store, error) {
	if err := checkPath(path); err != nil {
		return nil, fmt.Errorf("open key store: %w", err)
	}

	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("open key store on SQLite database %s: %w", path, err)
	}
	opts = opts.WithDefaults()
	opts.CreateTable = true

	if err := createFile(path); err != nil {
		return nil, fmt.Errorf("open key store: %w", err)
	}

	db, err := sql.Open("sqlite", dsn(path, opts.QueryTimeout))
	if err != nil {
		return nil, fmt.Errorf("open key store on SQLite database %s: %w", path, err)
	}

	return sqlstore.Open(ctx, db, Dialect, "SQLite database "+path, opts)
}

// checkPath rejects what modernc.org/sqlite would not read as a plain file
// path: URIs, in-memory databases (each pooled connection would get its own
// empty one) and paths with '?', where the driver's parameters start.
func checkPath(path string) error {
	switch {
	case path == "":
		return errors.New("SQLite database path is empty")
	case path == ":memory:" || strings.HasPrefix(path, "file:"):
		return fmt.Errorf("invalid SQLite database path %q: URIs and :memory: are not supported, so give a file path", path)
	case strings.Contains(path, "?"):
		return fmt.Errorf("invalid SQLite database path %q: the character '?' is not allowed", path)
	}

	return nil
}

// createFile creates an empty database file readable only by its owner, so
// the key hashes are not world-readable. SQLite gives the -wal and -shm
// files the same mode.
func createFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create SQLite database %s: %w", path, err)
	}

	return f.Close()
}

// dsn returns the modernc.org/sqlite data source name for path.
func dsn(path string, busyTimeout time.Duration) string {
	ms := strconv.FormatInt(busyTimeout.Milliseconds(), 10)
	return path + "?_pragma=busy_timeout(" + ms + ")&_pragma=journal_mode(WAL)&_txlock=immediate"
}

func isDuplicate(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}

	return e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY || e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE
}

// isMissingTable matches SQLite's "no such table" message, because the
// error code, SQLITE_ERROR, is shared with every other SQL error.
func isMissingTable(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}

	return strings.Contains(e.Error(), "no such table")
}
