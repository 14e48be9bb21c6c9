// Package sqlstore implements keystore.Store on database/sql. The sqlite,
// postgres and mysql packages share it and differ only in their Dialect.
//
// Times are written in UTC with whole seconds, because the original MySQL
// schema uses DATETIME columns without fractions, and are read back as UTC.
package sqlstore

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/keystore"
)

// maxPlaintextLength is the size of the api_key column. A longer secret can
// only match a hashed row.
const maxPlaintextLength = 128

// Store is a keystore.Store on a database/sql pool.
type Store struct {
	db       *sql.DB
	dialect  Dialect
	timeout  time.Duration
	database string
	queries  queries
}

// queries are the statements of a Store in the placeholder style of its
// dialect.
type queries struct {
	lookup     string
	list       string
	insert     string
	replace    string
	revoke     string
	selectKeys string
	updateKey  string
	probe      string
}

var _ keystore.Store = (*Store)(nil)

// New returns a Store on db that bounds every query by timeout, or by
// keystore.DefaultQueryTimeout when timeout is not positive. It does not
// touch the database.
func New(db *sql.DB, dialect Dialect, timeout time.Duration) *Store {
	if timeout <= 0 {
		timeout = keystore.DefaultQueryTimeout
	}

	table := keystore.Table
	return &Store{
		db:       db,
		dialect:  dialect,
		timeout:  timeout,
		database: dialect.Name + " database",
		queries: queries{
			lookup:     dialect.bind("SELECT " + Columns + " FROM " + table + " WHERE api_key IN (?, ?) ORDER BY user_id"),
			list:       "SELECT " + Columns + " FROM " + table,
			insert:     dialect.bind("INSERT INTO " + table + " (" + Columns + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"),
			replace:    dialect.bind(dialect.Replace),
			revoke:     dialect.bind("UPDATE " + table + " SET key_expr_dt = ?, last_updatd_dt = ?, last_updatd_by = ? WHERE user_id = ?"),
			selectKeys: "SELECT user_id, api_key FROM " + table + " ORDER BY user_id",
			updateKey:  dialect.bind("UPDATE " + table + " SET api_key = ? WHERE user_id = ? AND api_key = ?"),
			probe:      "SELECT 1 FROM " + table + " WHERE 1 = 0",
		},
	}
}

// Open sets up the pool of db from opts, pings the database and, when
// opts.CreateTable is set, creates the table if it is missing. database
// describes the database in messages and must not contain a password. Open
// takes ownership of db and closes it when it fails.
func Open(ctx context.Context, db *sql.DB, dialect Dialect, database string, opts keystore.Options) (*Store, error) {
	if err := opts.Validate(); err != nil {
		db.Close()
		return nil, err
	}
	opts = opts.WithDefaults()

	db.SetMaxOpenConns(opts.MaxOpenConns)
	db.SetMaxIdleConns(opts.MaxIdleConns)
	db.SetConnMaxLifetime(opts.ConnMaxLifetime)

	s := New(db, dialect, opts.QueryTimeout)
	s.database = database

	// Both errors name the database already.
	if err := s.Ping(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open key store: %w", err)
	}

	if opts.CreateTable {
		if err := s.EnsureTable(ctx); err != nil {
			db.Close()
			return nil, fmt.Errorf("open key store: %w", err)
		}
	}

	return s, nil
}

// DB returns the underlying pool.
func (s *Store) DB() *sql.DB {
	return s.db
}

// Lookup returns the row whose api_key is the hash of secret or, for rows
// written by hand, the secret itself. When both kinds match, the hashed row
// wins, and among rows of one kind the first user_id in the database's
// collation order wins. NOTE: several users sharing one secret is not
// reported as an error.
//
// The plaintext form is only compared when the secret is printable ASCII of
// at most 128 bytes and does not start with keystore.HashPrefix. Other
// secrets can only match a hashed row, so a stored hash never works as a
// key and odd input never reaches a column it cannot be compared with.
// The database comparison may ignore case or trailing spaces (MySQL's
// default collations do), so Lookup compares the stored value again here.
func (s *Store) Lookup(ctx context.Context, secret string) (keystore.Key, error) {
	if secret == "" {
		return keystore.Key{}, keystore.ErrNotFound
	}

	hashed := keystore.Hash(secret)
	plaintext := hashed
	if plaintextCandidate(secret) {
		plaintext = secret
	}

	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()

	rows, err := s.db.QueryContext(ctx, s.queries.lookup, plaintext, hashed)
	if err != nil {
		return keystore.Key{}, s.wrap("look up key", err)
	}
	defer rows.Close()

	var hashedMatch, plaintextMatch *keystore.Key
	for rows.Next() {
		key, stored, err := scanKey(rows)
		if err != nil {
			return keystore.Key{}, fmt.Errorf("look up key: %w", err)
		}

		switch {
		case equal(stored, hashed):
			if hashedMatch == nil {
				hashedMatch = &key
			}
		case plaintext != hashed && !key.Hashed && equal(stored, secret):
			if plaintextMatch == nil {
				plaintextMatch = &key
			}
		}
	}
	if err := rows.Err(); err != nil {
		return keystore.Key{}, s.wrap("look up key", err)
	}

	switch {
	case hashedMatch != nil:
		return *hashedMatch, nil
	case plaintextMatch != nil:
		return *plaintextMatch, nil
	default:
		return keystore.Key{}, keystore.ErrNotFound
	}
}

// plaintextCandidate reports whether secret may be compared with plaintext
// api_key values.
func plaintextCandidate(secret string) bool {
	if len(secret) > maxPlaintextLength || strings.HasPrefix(secret, keystore.HashPrefix) {
		return false
	}

	for i := 0; i < len(secret); i++ {
		if secret[i] < '!' || secret[i] > '~' {
			return false
		}
	}

	return true
}

// equal compares a stored value with a candidate in constant time.
func equal(stored, candidate string) bool {
	return subtle.ConstantTimeCompare([]byte(stored), []byte(candidate)) == 1
}

// Create inserts a row for key that stores keystore.Hash(secret), never the
// secret. With replace set, it overwrites the user's existing row. Times
// are stored in UTC with whole seconds.
func (s *Store) Create(ctx context.Context, key keystore.Key, secret string, replace bool) error {
	if err := validateKey(key, secret); err != nil {
		return fmt.Errorf("create key for user %q: %w", key.UserID, err)
	}

	query := s.queries.insert
	if replace {
		query = s.queries.replace
	}

	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()

	_, err := s.db.ExecContext(ctx, query,
		key.UserID,
		key.Scopes,
		keystore.Hash(secret),
		s.timeValue(key.IssuedAt),
		s.timeValue(key.ExpiresAt),
		s.timeValue(key.CreatedAt),
		s.timeValue(key.UpdatedAt),
		key.CreatedBy,
		key.UpdatedBy,
	)
	if err != nil && !replace && s.dialect.IsDuplicate(err) {
		return fmt.Errorf("create key for user %q: %w", key.UserID, keystore.ErrExists)
	}
	if err != nil {
		return s.wrap(fmt.Sprintf("create key for user %q", key.UserID), err)
	}

	return nil
}

// List returns every row ordered by user_id, compared byte by byte so the
// order does not depend on the database collation.
func (s *Store) List(ctx context.Context) ([]keystore.Key, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()

	rows, err := s.db.QueryContext(ctx, s.queries.list)
	if err != nil {
		return nil, s.wrap("list keys", err)
	}
	defer rows.Close()

	var keys []keystore.Key
	for rows.Next() {
		key, _, err := scanKey(rows)
		if err != nil {
			return nil, fmt.Errorf("list keys: %w", err)
		}
		keys = append(keys, key)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("list keys", err)
	}

	sort.Slice(keys, func(i, j int) bool { return keys[i].UserID < keys[j].UserID })

	return keys, nil
}

// Revoke sets key_expr_dt and last_updatd_dt to now and last_updatd_by to
// updatedBy for the user's row, or returns keystore.ErrNotFound.
func (s *Store) Revoke(ctx context.Context, userID, updatedBy string, now time.Time) error {
	op := fmt.Sprintf("revoke key of user %q", userID)

	if err := checkAuditName("updated by", "last_updatd_by", updatedBy); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}

	if err := checkTime("revocation time", now); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}

	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()

	at := s.timeValue(now)
	res, err := s.db.ExecContext(ctx, s.queries.revoke, at, at, updatedBy, userID)
	if err != nil {
		return s.wrap(op, err)
	}

	// MySQL reports matched rather than changed rows only with
	// ClientFoundRows, which the mysql package sets, so revoking twice in
	// one second does not look like a missing user.
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", op, keystore.ErrNotFound)
	}

	return nil
}

// HashExisting replaces every api_key that is not keystore.IsHashed by its
// hash, in one transaction, and returns how many rows it changed. The
// transaction as a whole, not each statement, is bounded by the query
// timeout, so that a slow database cannot hold the table locked longer.
// Rows changed by someone else meanwhile are left as they are.
func (s *Store) HashExisting(ctx context.Context) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()

	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, s.wrap("hash existing keys", err)
	}
	defer tx.Rollback()

	plaintext, err := s.plaintextKeys(ctx, tx)
	if err != nil {
		return 0, err
	}

	changed := 0
	for _, row := range plaintext {
		res, err := tx.ExecContext(ctx, s.queries.updateKey, keystore.Hash(row.stored), row.userID, row.stored)
		if err != nil {
			return 0, s.wrap(fmt.Sprintf("hash existing key of user %q", row.userID), err)
		}

		n, err := res.RowsAffected()
		if err != nil {
			return 0, fmt.Errorf("hash existing key of user %q: %w", row.userID, err)
		}
		changed += int(n)
	}

	if err := tx.Commit(); err != nil {
		return 0, s.wrap("hash existing keys", err)
	}

	return changed, nil
}

// storedKey is the api_key column of one row.
type storedKey struct {
	userID string
	stored string
}

// plaintextKeys returns the rows whose api_key is not hashed, in user_id
// order, so that concurrent runs update rows in the same order and do not
// deadlock each other.
func (s *Store) plaintextKeys(ctx context.Context, tx *sql.Tx) ([]storedKey, error) {
	rows, err := tx.QueryContext(ctx, s.queries.selectKeys)
	if err != nil {
		return nil, s.wrap("hash existing keys", err)
	}
	defer rows.Close()

	var plaintext []storedKey
	for rows.Next() {
		var row storedKey
		if err := rows.Scan(&row.userID, &row.stored); err != nil {
			return nil, fmt.Errorf("hash existing keys: scan key row: %w", err)
		}

		if !keystore.IsHashed(row.stored) {
			plaintext = append(plaintext, row)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("hash existing keys", err)
	}

	return plaintext, nil
}

// Ping pings the database within the query timeout. It does not check the
// table.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()

	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("ping %s: %w", s.database, err)
	}

	return nil
}

// EnsureTable creates the table, with the dialect's indexes, if it is
// missing. It leaves an existing table as it is, so it adds no index to a
// table created by someone else.
func (s *Store) EnsureTable(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()

	_, err := s.db.ExecContext(ctx, s.queries.probe)
	if err == nil {
		return nil
	}
	if !s.dialect.IsMissingTable(err) {
		return fmt.Errorf("check table %s in %s: %w", keystore.Table, s.database, err)
	}

	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("create table %s in %s: %w", keystore.Table, s.database, err)
	}
	defer tx.Rollback()

	for _, stmt := range s.dialect.CreateTable {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("create table %s in %s: %w", keystore.Table, s.database, err)
		}
	}

	if err := tx.Commit(); err != nil {
		return fmt.Errorf("create table %s in %s: %w", keystore.Table, s.database, err)
	}

	return nil
}

// Close closes the pool.
func (s *Store) Close() error {
	return s.db.Close()
}

// timeValue converts t for a datetime column: UTC, whole seconds.
func (s *Store) timeValue(t time.Time) any {
	return s.dialect.TimeValue(t.UTC().Truncate(time.Second))
}

// wrap adds the operation to a database error. When the error means that
// the table is missing, it adds keystore.ErrTableMissing and a hint.
func (s *Store) wrap(op string, err error) error {
	if s.dialect.IsMissingTable(err) {
		return fmt.Errorf("%s: %w in %s, so create it: prefect-auth-proxy keys create makes it when it is missing: %w", op, keystore.ErrTableMissing, s.database, err)
	}

	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: timed out on %s (query timeout %s): %w", op, s.database, s.timeout, err)
	}

	return fmt.Errorf("%s: %w", op, err)
}
