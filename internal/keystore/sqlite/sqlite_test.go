package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/keystore"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/keystore/sqlite"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/keystore/sqlstore"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/keystore/storetest"
)

func open(t testing.TB, path string, opts keystore.Options) *sqlstore.Store {
	t.Helper()

	store, err := sqlite.Open(context.Background(), path, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { store.Close() })

	return store
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Database {
		store := open(t, filepath.Join(t.TempDir(), "keys.db"), keystore.Options{})
		return storetest.Database{Store: store, DB: store.DB()}
	})
}

func TestOpenCreatesPrivateFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.db")
	store := open(t, path, keystore.Options{})

	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := info.Mode().Perm(); mode != 0o600 {
		t.Errorf("file mode: got %o, want 600", mode)
	}

	var mode string
	if err := store.DB().QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" {
		t.Errorf("journal mode: got %q, want \"wal\"", mode)
	}

	var index string
	err = store.DB().QueryRow("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'prefect_api_keys' AND name NOT LIKE 'sqlite_%'").Scan(&index)
	if err != nil {
		t.Fatalf("read index of the created table: %v", err)
	}
	if index != "prefect_api_keys_api_key_idx" {
		t.Errorf("index: got %q, want \"prefect_api_keys_api_key_idx\"", index)
	}
}

// TestOpenKeepsExistingTable opens a file whose table was created by hand,
// without the index, and checks that Open neither recreates the table nor
// adds the index.
func TestOpenKeepsExistingTable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.Exec(`CREATE TABLE prefect_api_keys (
  user_id varchar(128) NOT NULL, scopes varchar(2000) NOT NULL, api_key varchar(128) NOT NULL,
  key_issu_dt datetime NOT NULL, key_expr_dt datetime NOT NULL, creatd_dt datetime NOT NULL,
  last_updatd_dt datetime NOT NULL, creatd_by varchar(11) NOT NULL, last_updatd_by varchar(11) NOT NULL,
  PRIMARY KEY (user_id))`)
	if err != nil {
		t.Fatal(err)
	}
	storetest.InsertRow(t, db, storetest.Row{UserID: "USERID", Scopes: "query/*", APIKey: "TestKey001", IssuedAt: "2021-12-27 00:00:00", ExpiresAt: "2022-12-31 00:00:00"})
	db.Close()

	store := open(t, path, keystore.Options{})

	key, err := store.Lookup(context.Background(), "TestKey001")
	if err != nil {
		t.Fatalf("Lookup of the row written before Open: %v", err)
	}
	if key.UserID != "USERID" {
		t.Errorf("Lookup: got user %q, want \"USERID\"", key.UserID)
	}

	var indexes int
	err = store.DB().QueryRow("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'prefect_api_keys_api_key_idx'").Scan(&indexes)
	if err != nil {
		t.Fatal(err)
	}
	if indexes != 0 {
		t.Errorf("Open added the api_key index to an existing table")
	}
}

// TestTimesStoredAsText checks the stored form, which hand-written rows
// and the sqlite3 shell's datetime() share.
func TestTimesStoredAsText(t *testing.T) {
	store := open(t, filepath.Join(t.TempDir(), "keys.db"), keystore.Options{})
	secret, err := keystore.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2030, 1, 2, 3, 4, 5, 600_000_000, time.FixedZone("UTC-2", -2*3600))
	key := keystore.Key{UserID: "alice", Scopes: "query/*", IssuedAt: at, ExpiresAt: at.Add(time.Hour), CreatedAt: at, UpdatedAt: at, CreatedBy: "ADMIN", UpdatedBy: "ADMIN"}
	if err := store.Create(context.Background(), key, secret, false); err != nil {
		t.Fatal(err)
	}

	var kind, text string
	if err := store.DB().QueryRow("SELECT typeof(key_issu_dt), key_issu_dt || '' FROM prefect_api_keys").Scan(&kind, &text); err != nil {
		t.Fatal(err)
	}
	if kind != "text" {
		t.Errorf("storage class of key_issu_dt: got %q, want \"text\"", kind)
	}
	if text != "2030-01-02 05:04:05" {
		t.Errorf("key_issu_dt: got %q, want \"2030-01-02 05:04:05\"", text)
	}
}

func TestOpenRejectsPaths(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		path string
		want string
	}{
		{"empty", "", "path is empty"},
		{"memory", ":memory:", "URIs and :memory: are not supported"},
		{"URI", "file:" + filepath.Join(dir, "keys.db"), "URIs and :memory: are not supported"},
		{"question mark", filepath.Join(dir, "keys?.db"), "character '?' is not allowed"},
		{"missing directory", filepath.Join(dir, "missing", "keys.db"), "create SQLite database"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store, err := sqlite.Open(context.Background(), tt.path, keystore.Options{})
			if err == nil {
				store.Close()
				t.Fatalf("Open(%q): got nil error, want one containing %q", tt.path, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Open(%q): got %q, want it to contain %q", tt.path, err, tt.want)
			}
		})
	}
}

func TestOpenRejectsInvalidOptions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.db")

	_, err := sqlite.Open(context.Background(), path, keystore.Options{QueryTimeout: -time.Second})
	if err == nil || !strings.Contains(err.Error(), "query timeout") {
		t.Errorf("Open with a negative timeout: got %v, want an error naming the query timeout", err)
	}
}

// TestWriteLockHeld holds the write lock from another connection. Readers
// go on, thanks to WAL mode, and a writer gives up with an error once the
// busy timeout or the query timeout runs out, instead of waiting forever.
func TestWriteLockHeld(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.db")
	store := open(t, path, keystore.Options{QueryTimeout: 200 * time.Millisecond})
	ctx := context.Background()

	secret, err := keystore.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	key := keystore.Key{UserID: "alice", Scopes: "query/*", IssuedAt: at, ExpiresAt: at.AddDate(10, 0, 0), CreatedAt: at, UpdatedAt: at, CreatedBy: "ADMIN", UpdatedBy: "ADMIN"}
	if err := store.Create(ctx, key, secret, false); err != nil {
		t.Fatal(err)
	}

	other, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}

	if _, err := store.Lookup(ctx, secret); err != nil {
		t.Errorf("Lookup while another connection holds the write lock: %v", err)
	}

	key.UserID = "bob"
	err = store.Create(ctx, key, "other-secret", false)
	if err == nil {
		t.Errorf("Create while another connection holds the write lock: got nil, want an error")
	}
	if errors.Is(err, keystore.ErrExists) {
		t.Errorf("Create while locked: got keystore.ErrExists, want a lock or timeout error")
	}

	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if err := store.Create(ctx, key, "other-secret", false); err != nil {
		t.Errorf("Create after the lock is released: %v", err)
	}
}

// FuzzLookup checks that any secret gives a key or ErrNotFound, never
// another error, and only the right key.
func FuzzLookup(f *testing.F) {
	store := open(f, filepath.Join(f.TempDir(), "keys.db"), keystore.Options{})
	storetest.InsertRow(f, store.DB(), storetest.Row{UserID: "USERID", Scopes: "query/*", APIKey: "TestKey001", IssuedAt: "2021-12-27 00:00:00", ExpiresAt: "2022-12-31 00:00:00"})
	at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	key := keystore.Key{UserID: "alice", Scopes: "query/*", IssuedAt: at, ExpiresAt: at.AddDate(10, 0, 0), CreatedAt: at, UpdatedAt: at, CreatedBy: "ADMIN", UpdatedBy: "ADMIN"}
	if err := store.Create(context.Background(), key, "pap_alice", false); err != nil {
		f.Fatal(err)
	}

	for _, seed := range []string{"", "TestKey001", "testkey001", "pap_alice", keystore.Hash("pap_alice"), "\xff", "'; --", "ключ", strings.Repeat("x", 200)} {
		f.Add(seed)
	}

	f.Fuzz(func(t *testing.T, secret string) {
		key, err := store.Lookup(context.Background(), secret)
		if errors.Is(err, keystore.ErrNotFound) {
			return
		}
		if err != nil {
			t.Fatalf("Lookup(%q): %v", secret, err)
		}

		want := map[string]string{"TestKey001": "USERID", "pap_alice": "alice"}[secret]
		if key.UserID != want {
			t.Errorf("Lookup(%q): got user %q, want %q", secret, key.UserID, want)
		}
	})
}
