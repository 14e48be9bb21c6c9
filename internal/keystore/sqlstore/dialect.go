package sqlstore

import (
	"strconv"
	"strings"
	"time"

	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/keystore"
)

// Columns lists the columns of the key table in the order every statement
// of this package reads and writes them.
const Columns = "user_id, scopes, api_key, key_issu_dt, key_expr_dt, creatd_dt, last_updatd_dt, creatd_by, last_updatd_by"

// ReplaceOnConflict is a Dialect.Replace for databases that support
// INSERT … ON CONFLICT: PostgreSQL 9.5 and later, SQLite 3.24 and later.
// It needs the primary key on user_id, which the original schema has.
const ReplaceOnConflict = "INSERT INTO " + keystore.Table + " (" + Columns + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)" +
	" ON CONFLICT (user_id) DO UPDATE SET" +
	" scopes = excluded.scopes, api_key = excluded.api_key," +
	" key_issu_dt = excluded.key_issu_dt, key_expr_dt = excluded.key_expr_dt," +
	" creatd_dt = excluded.creatd_dt, last_updatd_dt = excluded.last_updatd_dt," +
	" creatd_by = excluded.creatd_by, last_updatd_by = excluded.last_updatd_by"

// Dialect holds what differs between the databases. Statements are written
// with ? placeholders, and Store rewrites them when NumberedPlaceholders is
// set, so a statement must not contain a literal '?'.
type Dialect struct {
	// Name is the database product in messages, such as "PostgreSQL".
	Name string
	// NumberedPlaceholders selects $1, $2, … instead of ?.
	NumberedPlaceholders bool
	// CreateTable holds the statements that create the table and its
	// indexes. EnsureTable runs them in order, in one transaction, only
	// when the table is missing. Each must use IF NOT EXISTS, because
	// another process may create the table at the same moment.
	CreateTable []string
	// Replace inserts a row or overwrites the row with the same user_id.
	// It takes the nine values of Columns, in that order.
	Replace string
	// TimeValue converts a UTC time with whole seconds into the value
	// written to a datetime column.
	TimeValue func(time.Time) any
	// IsDuplicate reports whether err is a violation of the primary key.
	IsDuplicate func(error) bool
	// IsMissingTable reports whether err means that the table does not
	// exist.
	IsMissingTable func(error) bool
}

// bind rewrites the ? placeholders of query into the dialect's style.
func (d Dialect) bind(query string) string {
	if !d.NumberedPlaceholders {
		return query
	}

	var b strings.Builder
	n := 0
	for _, r := range query {
		if r != '?' {
			b.WriteRune(r)
			continue
		}

		n++
		b.WriteString("$" + strconv.Itoa(n))
	}

	return b.String()
}
