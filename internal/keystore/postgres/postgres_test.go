package postgres_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // Registers the "pgx" driver.

	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/keystore"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/keystore/postgres"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/keystore/sqlstore"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/keystore/storetest"
)

const defaultDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// nodeLayout is the table as made for the Node.js proxy on PostgreSQL:
// the MySQL columns with timestamp (without time zone) types and no index
// on api_key.
const nodeLayout = `CREATE TABLE prefect_api_keys (
  user_id character varying(128) NOT NULL,
  scopes character varying(2000) NOT NULL,
  api_key character varying(128) NOT NULL,
  key_issu_dt timestamp without time zone NOT NULL,
  key_expr_dt timestamp without time zone NOT NULL,
  creatd_dt timestamp without time zone NOT NULL,
  last_updatd_dt timestamp without time zone NOT NULL,
  creatd_by character varying(11) NOT NULL,
  last_updatd_by character varying(11) NOT NULL,
  CONSTRAINT prefect_api_keys_pkey PRIMARY KEY (user_id)
)`

// timestamptzLayout is the same table with timestamptz columns.
const timestamptzLayout = `CREATE TABLE prefect_api_keys (
  user_id varchar(128) NOT NULL PRIMARY KEY,
  scopes varchar(2000) NOT NULL,
  api_key varchar(128) NOT NULL,
  key_issu_dt timestamptz NOT NULL,
  key_expr_dt timestamptz NOT NULL,
  creatd_dt timestamptz NOT NULL,
  last_updatd_dt timestamptz NOT NULL,
  creatd_by varchar(11) NOT NULL,
  last_updatd_by varchar(11) NOT NULL
)`

// server is a reachable PostgreSQL server for one test.
type server struct {
	dsn   string
	admin *sql.DB
}

// connect returns the server named by TEST_POSTGRES_DSN, or skips the test.
func connect(t *testing.T) server {
	t.Helper()

	dsn := os.Getenv("TEST_POSTGRES_DSN")
	if dsn == "" {
		dsn = defaultDSN
	}

	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatalf("parse TEST_POSTGRES_DSN: %v", err)
	}
	t.Cleanup(func() { admin.Close() })

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := admin.PingContext(ctx); err != nil {
		storetest.SkipUnreachable(t, "PostgreSQL", redact(dsn), err)
	}

	return server{dsn: dsn, admin: admin}
}

// redact masks the password of a URL DSN for messages.
func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		return "(DSN not shown)"
	}

	return u.Redacted()
}

// schema creates a schema with a random name, dropped when the test ends,
// and returns a DSN whose search_path points at it. params are added to
// the DSN.
func (s server) schema(t *testing.T, params url.Values) string {
	t.Helper()

	b := make([]byte, 6)
	rand.Read(b)
	name := "pap_test_" + hex.EncodeToString(b)

	if _, err := s.admin.Exec("CREATE SCHEMA " + name); err != nil {
		t.Fatalf("create schema %s: %v", name, err)
	}
	t.Cleanup(func() {
		if _, err := s.admin.Exec("DROP SCHEMA " + name + " CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
	})

	u, err := url.Parse(s.dsn)
	if err != nil || u.Scheme == "" {
		t.Fatalf("TEST_POSTGRES_DSN must be a postgres:// URL")
	}
	q := u.Query()
	q.Set("search_path", name)
	for k, v := range params {
		q[k] = v
	}
	u.RawQuery = q.Encode()

	return u.String()
}

func open(t *testing.T, dsn string, opts keystore.Options) *sqlstore.Store {
	t.Helper()

	store, err := postgres.Open(context.Background(), dsn, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { store.Close() })

	return store
}

func TestConformance(t *testing.T) {
	srv := connect(t)

	layouts := []struct {
		name   string
		create string
		params url.Values
	}{
		{"CreatedTable", "", nil},
		// The session time zone of the DSN must not change what is read
		// or written.
		{"NodeLayout", nodeLayout, url.Values{"timezone": {"Asia/Tokyo"}}},
		{"Timestamptz", timestamptzLayout, url.Values{"timezone": {"America/New_York"}}},
	}

	for _, layout := range layouts {
		t.Run(layout.name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) storetest.Database {
				dsn := srv.schema(t, layout.params)
				opts := keystore.Options{CreateTable: layout.create == ""}
				store := open(t, dsn, opts)
				if layout.create != "" {
					if _, err := store.DB().Exec(layout.create); err != nil {
						t.Fatalf("create table: %v", err)
					}
				}
				return storetest.Database{Store: store, DB: store.DB()}
			})
		})
	}
}

func TestCreatedTableLayout(t *testing.T) {
	srv := connect(t)
	store := open(t, srv.schema(t, nil), keystore.Options{CreateTable: true})

	rows, err := store.DB().Query(`SELECT column_name, data_type, coalesce(character_maximum_length, 0), is_nullable
FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'prefect_api_keys' ORDER BY ordinal_position`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()

	var got []string
	for rows.Next() {
		var name, kind, nullable string
		var length int
		if err := rows.Scan(&name, &kind, &length, &nullable); err != nil {
			t.Fatal(err)
		}
		got = append(got, strings.Join([]string{name, kind, strconv.Itoa(length), nullable}, " "))
	}
	want := []string{
		"user_id character varying 128 NO",
		"scopes character varying 2000 NO",
		"api_key character varying 128 NO",
		"key_issu_dt timestamp without time zone 0 NO",
		"key_expr_dt timestamp without time zone 0 NO",
		"creatd_dt timestamp without time zone 0 NO",
		"last_updatd_dt timestamp without time zone 0 NO",
		"creatd_by character varying 11 NO",
		"last_updatd_by character varying 11 NO",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("columns:\ngot\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	var indexes int
	err = store.DB().QueryRow(`SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema() AND indexname = 'prefect_api_keys_api_key_idx'`).Scan(&indexes)
	if err != nil {
		t.Fatal(err)
	}
	if indexes != 1 {
		t.Errorf("api_key index: got %d, want 1", indexes)
	}
}

// TestEnsureTableKeepsExisting checks that table creation leaves a table
// made by someone else alone, without adding the index.
func TestEnsureTableKeepsExisting(t *testing.T) {
	srv := connect(t)
	dsn := srv.schema(t, nil)
	first := open(t, dsn, keystore.Options{})
	if _, err := first.DB().Exec(nodeLayout); err != nil {
		t.Fatal(err)
	}

	store := open(t, dsn, keystore.Options{CreateTable: true})

	var indexes int
	err := store.DB().QueryRow(`SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema() AND indexname = 'prefect_api_keys_api_key_idx'`).Scan(&indexes)
	if err != nil {
		t.Fatal(err)
	}
	if indexes != 0 {
		t.Errorf("table creation added the api_key index to an existing table")
	}
}

func TestMissingTable(t *testing.T) {
	srv := connect(t)
	store := open(t, srv.schema(t, nil), keystore.Options{})

	storetest.CheckMissingTable(t, store)

	_, err := store.Lookup(context.Background(), "TestKey001")
	if err == nil || !strings.Contains(err.Error(), `PostgreSQL database "`) {
		t.Errorf("Lookup without the table: got %v, want an error naming the database", err)
	}
}

// TestQueryTimeout locks the table from another transaction, so the
// lookup waits until the query timeout ends it.
func TestQueryTimeout(t *testing.T) {
	srv := connect(t)
	dsn := srv.schema(t, nil)
	locker := open(t, dsn, keystore.Options{CreateTable: true})
	store := open(t, dsn, keystore.Options{QueryTimeout: 500 * time.Millisecond})
	tx, err := locker.DB().Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec("LOCK TABLE prefect_api_keys IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}

	_, err = store.Lookup(context.Background(), "TestKey001")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Lookup on a locked table: got %v, want context.DeadlineExceeded", err)
	}
	if err != nil && !strings.Contains(err.Error(), "query timeout 500ms") {
		t.Errorf("Lookup on a locked table: error %q does not name the query timeout", err)
	}
}

func TestOpenUnreachable(t *testing.T) {
	dsn := "postgres://someone:s3cret-pw@127.0.0.1:1/test?sslmode=disable&connect_timeout=2"

	store, err := postgres.Open(context.Background(), dsn, keystore.Options{})
	if err == nil {
		store.Close()
		t.Fatal("Open of a closed port: got nil error")
	}
	if strings.Contains(err.Error(), "s3cret-pw") {
		t.Errorf("Open error contains the password: %q", err)
	}
	if !strings.Contains(err.Error(), `PostgreSQL database "test" on 127.0.0.1:1`) {
		t.Errorf("Open error %q does not name the database", err)
	}
}

func TestOpenRejectsInvalidDSN(t *testing.T) {
	_, err := postgres.Open(context.Background(), "postgres://u:s3cret-pw@127.0.0.1:notaport/test", keystore.Options{})
	if err == nil {
		t.Fatal("Open of an invalid DSN: got nil error")
	}
	if strings.Contains(err.Error(), "s3cret-pw") {
		t.Errorf("Open error contains the password: %q", err)
	}
}

func TestDSN(t *testing.T) {
	tests := []struct {
		name                           string
		host                           string
		port                           int
		user, password, database       string
		wantHost                       string
		wantPort                       uint16
		wantUser, wantPassword, wantDB string
	}{
		{"defaults", "", 0, "postgres", "", "test", "localhost", 5432, "postgres", "", "test"},
		{"plain", "db.internal", 6543, "prefect", "pw", "keys", "db.internal", 6543, "prefect", "pw", "keys"},
		{"special characters", "127.0.0.1", 5432, "us er@x", "p@ss:/w?rd#%&= '\\", "my db/x?y", "127.0.0.1", 5432, "us er@x", "p@ss:/w?rd#%&= '\\", "my db/x?y"},
		{"IPv6", "::1", 0, "postgres", "", "test", "::1", 5432, "postgres", "", "test"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dsn := postgres.DSN(tt.host, tt.port, tt.user, tt.password, tt.database)

			cfg, err := pgx.ParseConfig(dsn)
			if err != nil {
				t.Fatalf("pgx.ParseConfig(DSN(...)): %v", err)
			}
			if cfg.Host != tt.wantHost {
				t.Errorf("host: got %q, want %q", cfg.Host, tt.wantHost)
			}
			if cfg.Port != tt.wantPort {
				t.Errorf("port: got %d, want %d", cfg.Port, tt.wantPort)
			}
			if cfg.User != tt.wantUser {
				t.Errorf("user: got %q, want %q", cfg.User, tt.wantUser)
			}
			if cfg.Password != tt.wantPassword {
				t.Errorf("password: got %q, want %q", cfg.Password, tt.wantPassword)
			}
			if cfg.Database != tt.wantDB {
				t.Errorf("database: got %q, want %q", cfg.Database, tt.wantDB)
			}
			if cfg.ConnectTimeout != 5*time.Second {
				t.Errorf("connect timeout: got %s, want 5s", cfg.ConnectTimeout)
			}
		})
	}
}
