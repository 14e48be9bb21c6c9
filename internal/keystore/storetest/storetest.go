// Package storetest holds the conformance tests that every keystore.Store
// must pass, and helpers for tests that need a database server.
package storetest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/keystore"
)

// RequireEnv is the environment variable that turns a skipped database test
// into a failure when set to 1, so CI cannot pass without the servers.
const RequireEnv = "REQUIRE_DB_TESTS"

// Database is an empty key table for one test.
type Database struct {
	// Store is the store under test.
	Store keystore.Store
	// DB is a pool on the same database, for rows written by hand and for
	// reading raw column values.
	DB *sql.DB
}

// Row is a row written by hand, the way an operator inserts keys for the
// Node.js proxy: plaintext api_key and datetime literals such as
// '2021-12-27 00:00:00'.
type Row struct {
	UserID    string
	Scopes    string
	APIKey    string
	IssuedAt  string
	ExpiresAt string
}

// SkipUnreachable skips the test because the named server cannot be
// reached at dsn, or fails it when REQUIRE_DB_TESTS=1. dsn must not contain
// a password.
func SkipUnreachable(t testing.TB, server, dsn string, err error) {
	t.Helper()

	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("%s at %s is unreachable and %s=1: %v", server, dsn, RequireEnv, err)
	}

	t.Skipf("%s at %s is unreachable, skipping (set %s=1 to fail instead): %v", server, dsn, RequireEnv, err)
}

// InsertRow writes row with a literal INSERT statement, as an operator
// would by hand. creatd_dt and last_updatd_dt get the issue time, and both
// audit columns get "ADMINUSERID".
func InsertRow(t testing.TB, db *sql.DB, row Row) {
	t.Helper()

	query := fmt.Sprintf("insert into prefect_api_keys (user_id, scopes, api_key, key_issu_dt, key_expr_dt, creatd_dt, last_updatd_dt, creatd_by, last_updatd_by)"+
		" values(%s, %s, %s, %s, %s, %s, %s, 'ADMINUSERID', 'ADMINUSERID')",
		quote(t, row.UserID), quote(t, row.Scopes), quote(t, row.APIKey),
		quote(t, row.IssuedAt), quote(t, row.ExpiresAt), quote(t, row.IssuedAt), quote(t, row.IssuedAt))

	if _, err := db.ExecContext(context.Background(), query); err != nil {
		t.Fatalf("insert row for user %q by hand: %v", row.UserID, err)
	}
}

// StoredKey returns the raw api_key column of the user's row.
func StoredKey(t testing.TB, db *sql.DB, userID string) string {
	t.Helper()

	var stored string
	query := "select api_key from prefect_api_keys where user_id = " + quote(t, userID)
	if err := db.QueryRowContext(context.Background(), query).Scan(&stored); err != nil {
		t.Fatalf("read api_key of user %q: %v", userID, err)
	}

	return stored
}

// quote returns s as an SQL string literal that means the same on every
// supported database. It fails the test on a backslash, which MySQL reads
// as an escape character and the others do not.
func quote(t testing.TB, s string) string {
	t.Helper()

	if strings.Contains(s, `\`) {
		t.Fatalf("test value %q contains a backslash", s)
	}

	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// CheckMissingTable checks that every operation on a store without the
// table returns keystore.ErrTableMissing.
func CheckMissingTable(t *testing.T, store keystore.Store) {
	t.Helper()
	ctx := context.Background()

	_, err := store.Lookup(ctx, "TestKey001")
	checkTableMissing(t, "Lookup", err)

	_, err = store.List(ctx)
	checkTableMissing(t, "List", err)

	err = store.Create(ctx, validKey("alice"), "secret-alice", false)
	checkTableMissing(t, "Create", err)

	err = store.Revoke(ctx, "alice", "ADMIN", now())
	checkTableMissing(t, "Revoke", err)

	_, err = store.HashExisting(ctx)
	checkTableMissing(t, "HashExisting", err)

	if err := store.Ping(ctx); err != nil {
		t.Errorf("Ping without the table: got %v, want nil", err)
	}
}

func checkTableMissing(t *testing.T, op string, err error) {
	t.Helper()

	if !errors.Is(err, keystore.ErrTableMissing) {
		t.Errorf("%s without the table: got error %v, want keystore.ErrTableMissing", op, err)
		return
	}

	if !strings.Contains(err.Error(), keystore.Table) {
		t.Errorf("%s without the table: error %q does not name the table", op, err)
	}
}
