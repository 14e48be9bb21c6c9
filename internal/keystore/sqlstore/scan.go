package sqlstore

import (
	"fmt"
	"time"

	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/keystore"
)

// timeLayouts are the text forms of a datetime column that parseTime
// accepts, tried in order. Layouts without a zone are read as UTC.
var timeLayouts = []string{
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999 -0700 MST",
	"2006-01-02 15:04",
	"2006-01-02",
}

// parseTime reads a datetime column delivered as text. Drivers do so when
// they do not convert the column themselves: modernc.org/sqlite for a value
// it cannot parse, go-sql-driver/mysql without parseTime.
func parseTime(s string) (time.Time, error) {
	for _, layout := range timeLayouts {
		t, err := time.Parse(layout, s)
		if err == nil {
			return t.UTC(), nil
		}
	}

	return time.Time{}, fmt.Errorf("invalid datetime %q: want the form 2006-01-02 15:04:05", s)
}

// timeColumn scans a datetime column of any supported driver into a UTC
// time.Time.
type timeColumn struct {
	name string
	dst  *time.Time
}

// Scan implements sql.Scanner.
func (c timeColumn) Scan(src any) error {
	var err error
	switch v := src.(type) {
	case time.Time:
		*c.dst = v.UTC()
	case string:
		*c.dst, err = parseTime(v)
	case []byte:
		*c.dst, err = parseTime(string(v))
	case nil:
		err = fmt.Errorf("value is NULL")
	default:
		err = fmt.Errorf("unsupported value of type %T", src)
	}

	if err != nil {
		return fmt.Errorf("read column %s: %w", c.name, err)
	}

	return nil
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// scanKey reads one row selected with Columns. It returns the stored
// api_key apart, so that it never leaves this package inside a Key.
func scanKey(row scanner) (keystore.Key, string, error) {
	var (
		key    keystore.Key
		stored string
	)

	err := row.Scan(
		&key.UserID,
		&key.Scopes,
		&stored,
		timeColumn{"key_issu_dt", &key.IssuedAt},
		timeColumn{"key_expr_dt", &key.ExpiresAt},
		timeColumn{"creatd_dt", &key.CreatedAt},
		timeColumn{"last_updatd_dt", &key.UpdatedAt},
		&key.CreatedBy,
		&key.UpdatedBy,
	)
	if err != nil {
		return keystore.Key{}, "", fmt.Errorf("scan key row: %w", err)
	}

	key.Hashed = keystore.IsHashed(stored)

	return key, stored, nil
}
