// Package keystore reads and writes API keys in the prefect_api_keys table.
//
// The table layout is the one the Node.js proxy created, so existing
// deployments keep their rows. One subpackage per database (sqlite, postgres,
// mysql) opens a Store on that database.
package keystore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"time"
)

// Table is the name of the key table, fixed by existing deployments.
const Table = "prefect_api_keys"

// HashPrefix marks an api_key value that holds the hex SHA-256 digest of a
// key instead of the key itself. Rows written by hand (as the Node.js proxy
// expected) hold the plaintext key and keep working.
const HashPrefix = "sha256:"

// MaxAuditNameLength is the size of the creatd_by and last_updatd_by columns
// (varchar(11)) in the original schema.
const MaxAuditNameLength = 11

// Errors returned by every Store.
var (
	// ErrNotFound means no row matches the key or user.
	ErrNotFound = errors.New("api key not found")
	// ErrExists means the user already has a row; user_id is the primary key.
	ErrExists = errors.New("user already has an api key")
	// ErrTableMissing means the database has no prefect_api_keys table.
	ErrTableMissing = errors.New("table " + Table + " not found")
)

// Key is one row of the prefect_api_keys table, without the secret.
// All times are UTC.
type Key struct {
	UserID    string
	Scopes    string
	IssuedAt  time.Time // key_issu_dt: the key is valid from this time on.
	ExpiresAt time.Time // key_expr_dt: the key is invalid from this time on.
	CreatedAt time.Time
	UpdatedAt time.Time
	CreatedBy string
	UpdatedBy string
	// Hashed is true when the row stores a SHA-256 digest, false for a
	// plaintext key.
	Hashed bool
}

// ValidAt reports whether the key may be used at time t: issued at or before
// t and expiring after t.
func (k Key) ValidAt(t time.Time) bool {
	return !t.Before(k.IssuedAt) && t.Before(k.ExpiresAt)
}

// Store is a key table on one database. Implementations are safe for
// concurrent use and bound every query by the context and their own timeout.
type Store interface {
	// Lookup returns the row whose api_key is the secret itself or its
	// hashed form, or ErrNotFound.
	Lookup(ctx context.Context, secret string) (Key, error)
	// Create inserts a row holding the hash of secret. It returns ErrExists
	// when the user has a row already, unless replace is true, in which case
	// that row is overwritten.
	Create(ctx context.Context, key Key, secret string, replace bool) error
	// List returns every row ordered by user id.
	List(ctx context.Context) ([]Key, error)
	// Revoke sets the expiry of the user's key to now, or returns ErrNotFound.
	Revoke(ctx context.Context, userID, updatedBy string, now time.Time) error
	// HashExisting replaces every plaintext api_key by its hashed form and
	// returns how many rows it changed.
	HashExisting(ctx context.Context) (int, error)
	// Ping checks that the database responds.
	Ping(ctx context.Context) error
	// Close releases the connection pool.
	Close() error
}

// Hash returns the stored form of a secret: HashPrefix followed by the hex
// SHA-256 digest.
func Hash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return HashPrefix + hex.EncodeToString(sum[:])
}

// IsHashed reports whether a stored api_key value is a hash made by Hash.
func IsHashed(stored string) bool {
	return strings.HasPrefix(stored, HashPrefix) && len(stored) == len(HashPrefix)+2*sha256.Size
}
