package sqlstore

import (
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/keystore"
)

// Column sizes of the original schema. SQLite does not enforce them, so
// Store checks them itself and every database keeps the same limits.
const (
	maxUserIDLength = 128
	maxScopesLength = 2000
)

// Years that a datetime column can hold on every supported database: MySQL
// and MariaDB DATETIME covers 1000-01-01 to 9999-12-31.
const (
	minYear = 1000
	maxYear = 9999
)

// validateKey checks a key before Create writes it.
func validateKey(key keystore.Key, secret string) error {
	if secret == "" {
		return errors.New("secret is empty")
	}

	if err := checkText("user id", key.UserID, maxUserIDLength); err != nil {
		return err
	}

	if key.Scopes != "" {
		if err := checkText("scopes", key.Scopes, maxScopesLength); err != nil {
			return err
		}
	}

	if err := checkAuditName("created by", "creatd_by", key.CreatedBy); err != nil {
		return err
	}

	if err := checkAuditName("updated by", "last_updatd_by", key.UpdatedBy); err != nil {
		return err
	}

	times := []struct {
		name string
		t    time.Time
	}{
		{"issued at", key.IssuedAt},
		{"expires at", key.ExpiresAt},
		{"created at", key.CreatedAt},
		{"updated at", key.UpdatedAt},
	}
	for _, f := range times {
		if err := checkTime(f.name, f.t); err != nil {
			return err
		}
	}

	if !key.ExpiresAt.After(key.IssuedAt) {
		return fmt.Errorf("expires at %s is not after issued at %s", key.ExpiresAt.UTC().Format(time.DateTime), key.IssuedAt.UTC().Format(time.DateTime))
	}

	return nil
}

// checkText rejects an empty value, invalid UTF-8 and values longer than
// max characters, the size of the varchar column.
func checkText(name, value string, max int) error {
	if value == "" {
		return fmt.Errorf("%s is empty", name)
	}

	if !utf8.ValidString(value) {
		return fmt.Errorf("%s is not valid UTF-8", name)
	}

	if n := utf8.RuneCountInString(value); n > max {
		return fmt.Errorf("%s is %d characters long, more than the maximum %d", name, n, max)
	}

	return nil
}

// checkAuditName checks a creatd_by or last_updatd_by value. It rejects a
// long name instead of truncating it, so the audit columns never hold a name
// that differs from the one the caller gave.
func checkAuditName(name, column, value string) error {
	if value == "" {
		return fmt.Errorf("%s is empty", name)
	}

	if !utf8.ValidString(value) {
		return fmt.Errorf("%s is not valid UTF-8", name)
	}

	if n := utf8.RuneCountInString(value); n > keystore.MaxAuditNameLength {
		return fmt.Errorf("%s %q is %d characters long, more than the maximum %d of column %s", name, value, n, keystore.MaxAuditNameLength, column)
	}

	return nil
}

// checkTime rejects the zero time and times outside the years every
// database can store.
func checkTime(name string, t time.Time) error {
	if t.IsZero() {
		return fmt.Errorf("%s is not set", name)
	}

	if y := t.UTC().Year(); y < minYear || y > maxYear {
		return fmt.Errorf("%s %s is outside the years %d to %d", name, t.UTC().Format(time.RFC3339), minYear, maxYear)
	}

	return nil
}
