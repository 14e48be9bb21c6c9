package mysql_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // Test DSNs name zones; keep them loadable without system tzdata.

	driver "github.com/go-sql-driver/mysql"

	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/keystore"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/keystore/mysql"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/keystore/sqlstore"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/keystore/storetest"
)

const defaultDSN = "root@tcp(127.0.0.1:3306)/test?parseTime=true&loc=UTC"

// nodeDDL is the CREATE TABLE statement of the Node.js proxy's README.
const nodeDDL = "CREATE TABLE `prefect_api_keys` (\n" +
	"  `user_id` varchar(128) NOT NULL,\n" +
	"  `scopes` varchar(2000) NOT NULL,\n" +
	"  `api_key` varchar(128) NOT NULL,\n" +
	"  `key_issu_dt` datetime NOT NULL,\n" +
	"  `key_expr_dt` datetime NOT NULL,\n" +
	"  `creatd_dt` datetime NOT NULL,\n" +
	"  `last_updatd_dt` datetime NOT NULL,\n" +
	"  `creatd_by` varchar(11) NOT NULL,\n" +
	"  `last_updatd_by` varchar(11) NOT NULL,\n" +
	"  PRIMARY KEY (`user_id`)\n" +
	") ENGINE=InnoDB DEFAULT CHARSET=latin1;"

// server is a reachable MySQL or MariaDB server for one test.
type server struct {
	cfg   *driver.Config
	admin *sql.DB
}

// connect returns the server named by TEST_MYSQL_DSN, or skips the test.
func connect(t *testing.T) server {
	t.Helper()

	dsn := os.Getenv("TEST_MYSQL_DSN")
	if dsn == "" {
		dsn = defaultDSN
	}

	cfg, err := driver.ParseDSN(dsn)
	if err != nil {
		t.Fatalf("parse TEST_MYSQL_DSN: %v", err)
	}

	admin, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatalf("parse TEST_MYSQL_DSN: %v", err)
	}
	t.Cleanup(func() { admin.Close() })

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := admin.PingContext(ctx); err != nil {
		storetest.SkipUnreachable(t, "MySQL", redact(cfg), err)
	}

	return server{cfg: cfg, admin: admin}
}

// redact returns the DSN of cfg with the password masked.
func redact(cfg *driver.Config) string {
	c := cfg.Clone()
	if c.Passwd != "" {
		c.Passwd = "xxxxx"
	}

	return c.FormatDSN()
}

// database creates a database with a random name, dropped when the test
// ends, and returns a DSN for it. change, if not nil, edits the DSN.
func (s server) database(t *testing.T, change func(*driver.Config)) string {
	t.Helper()

	b := make([]byte, 6)
	rand.Read(b)
	name := "pap_test_" + hex.EncodeToString(b)

	if _, err := s.admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		if _, err := s.admin.Exec("DROP DATABASE " + name); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})

	cfg := s.cfg.Clone()
	cfg.DBName = name
	if change != nil {
		change(cfg)
	}

	return cfg.FormatDSN()
}

func open(t *testing.T, dsn string, opts keystore.Options) *sqlstore.Store {
	t.Helper()

	store, err := mysql.Open(context.Background(), dsn, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { store.Close() })

	return store
}

// hostileZone sets a DSN that would shift times if Open kept it: no
// parseTime, a non-UTC loc and a non-UTC session time zone.
func hostileZone(cfg *driver.Config) {
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		panic(err)
	}
	cfg.ParseTime = false
	cfg.Loc = tokyo
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	cfg.Params["time_zone"] = "'+05:00'"
}

func TestConformance(t *testing.T) {
	srv := connect(t)

	layouts := []struct {
		name   string
		create string
		change func(*driver.Config)
	}{
		{"CreatedTable", "", nil},
		{"NodeDDL", nodeDDL, hostileZone},
	}

	for _, layout := range layouts {
		t.Run(layout.name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) storetest.Database {
				dsn := srv.database(t, layout.change)
				store := open(t, dsn, keystore.Options{CreateTable: layout.create == ""})
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
	store := open(t, srv.database(t, nil), keystore.Options{CreateTable: true})

	rows, err := store.DB().Query(`SELECT column_name, column_type, is_nullable
FROM information_schema.columns WHERE table_schema = database() AND table_name = 'prefect_api_keys' ORDER BY ordinal_position`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()

	var got []string
	for rows.Next() {
		var name, kind, nullable string
		if err := rows.Scan(&name, &kind, &nullable); err != nil {
			t.Fatal(err)
		}
		got = append(got, name+" "+kind+" "+nullable)
	}
	want := []string{
		"user_id varchar(128) NO",
		"scopes varchar(2000) NO",
		"api_key varchar(128) NO",
		"key_issu_dt datetime NO",
		"key_expr_dt datetime NO",
		"creatd_dt datetime NO",
		"last_updatd_dt datetime NO",
		"creatd_by varchar(11) NO",
		"last_updatd_by varchar(11) NO",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("columns:\ngot\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	var indexes int
	err = store.DB().QueryRow(`SELECT count(*) FROM information_schema.statistics
WHERE table_schema = database() AND table_name = 'prefect_api_keys' AND index_name = 'prefect_api_keys_api_key_idx'`).Scan(&indexes)
	if err != nil {
		t.Fatal(err)
	}
	if indexes != 1 {
		t.Errorf("api_key index: got %d, want 1", indexes)
	}
}

// TestEnsureTableKeepsExisting checks that table creation leaves the
// Node.js proxy's table alone, without adding the index.
func TestEnsureTableKeepsExisting(t *testing.T) {
	srv := connect(t)
	dsn := srv.database(t, nil)
	first := open(t, dsn, keystore.Options{})
	if _, err := first.DB().Exec(nodeDDL); err != nil {
		t.Fatal(err)
	}

	store := open(t, dsn, keystore.Options{CreateTable: true})

	var indexes int
	err := store.DB().QueryRow(`SELECT count(*) FROM information_schema.statistics
WHERE table_schema = database() AND table_name = 'prefect_api_keys' AND index_name = 'prefect_api_keys_api_key_idx'`).Scan(&indexes)
	if err != nil {
		t.Fatal(err)
	}
	if indexes != 0 {
		t.Errorf("table creation added the api_key index to an existing table")
	}
}

func TestMissingTable(t *testing.T) {
	srv := connect(t)
	store := open(t, srv.database(t, nil), keystore.Options{})

	storetest.CheckMissingTable(t, store)

	_, err := store.Lookup(context.Background(), "TestKey001")
	if err == nil || !strings.Contains(err.Error(), `MySQL database "pap_test_`) {
		t.Errorf("Lookup without the table: got %v, want an error naming the database", err)
	}
}

// TestQueryTimeout locks the table from another connection, so the lookup
// waits until the query timeout ends it.
func TestQueryTimeout(t *testing.T) {
	srv := connect(t)
	dsn := srv.database(t, nil)
	locker := open(t, dsn, keystore.Options{CreateTable: true})
	store := open(t, dsn, keystore.Options{QueryTimeout: 500 * time.Millisecond})
	ctx := context.Background()
	conn, err := locker.DB().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "LOCK TABLES prefect_api_keys WRITE"); err != nil {
		t.Fatal(err)
	}
	defer conn.ExecContext(ctx, "UNLOCK TABLES")

	_, err = store.Lookup(ctx, "TestKey001")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Lookup on a locked table: got %v, want context.DeadlineExceeded", err)
	}
}

func TestOpenUnreachable(t *testing.T) {
	dsn := "someone:s3cret-pw@tcp(127.0.0.1:1)/test?timeout=2s"

	store, err := mysql.Open(context.Background(), dsn, keystore.Options{})
	if err == nil {
		store.Close()
		t.Fatal("Open of a closed port: got nil error")
	}
	if strings.Contains(err.Error(), "s3cret-pw") {
		t.Errorf("Open error contains the password: %q", err)
	}
	if !strings.Contains(err.Error(), `MySQL database "test" on 127.0.0.1:1`) {
		t.Errorf("Open error %q does not name the database", err)
	}
}

func TestOpenRejectsInvalidDSN(t *testing.T) {
	_, err := mysql.Open(context.Background(), "u:s3cret-pw@tcp(127.0.0.1:3306)test", keystore.Options{})
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
		wantAddr                       string
		wantUser, wantPassword, wantDB string
	}{
		{"defaults", "", 0, "root", "", "test", "127.0.0.1:3306", "root", "", "test"},
		{"plain", "db.internal", 3307, "prefect", "pw", "keys", "db.internal:3307", "prefect", "pw", "keys"},
		{"special characters", "127.0.0.1", 3306, "us er", "p@ss:/w?rd#%&=()' \\", "keys", "127.0.0.1:3306", "us er", "p@ss:/w?rd#%&=()' \\", "keys"},
		{"IPv6", "::1", 0, "root", "", "test", "[::1]:3306", "root", "", "test"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dsn := mysql.DSN(tt.host, tt.port, tt.user, tt.password, tt.database)

			cfg, err := driver.ParseDSN(dsn)
			if err != nil {
				t.Fatalf("ParseDSN(DSN(...)): %v", err)
			}
			if cfg.Addr != tt.wantAddr {
				t.Errorf("address: got %q, want %q", cfg.Addr, tt.wantAddr)
			}
			if cfg.User != tt.wantUser {
				t.Errorf("user: got %q, want %q", cfg.User, tt.wantUser)
			}
			if cfg.Passwd != tt.wantPassword {
				t.Errorf("password: got %q, want %q", cfg.Passwd, tt.wantPassword)
			}
			if cfg.DBName != tt.wantDB {
				t.Errorf("database: got %q, want %q", cfg.DBName, tt.wantDB)
			}
			if !cfg.ParseTime {
				t.Errorf("parseTime: got false, want true")
			}
			if cfg.Loc != time.UTC {
				t.Errorf("loc: got %s, want UTC", cfg.Loc)
			}
			if cfg.Timeout != 5*time.Second || cfg.ReadTimeout != 30*time.Second || cfg.WriteTimeout != 30*time.Second {
				t.Errorf("timeouts: got dial %s, read %s, write %s, want 5s, 30s, 30s", cfg.Timeout, cfg.ReadTimeout, cfg.WriteTimeout)
			}
		})
	}
}
