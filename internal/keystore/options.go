package keystore

import (
	"fmt"
	"time"
)

// Defaults applied by Options.WithDefaults to fields left at zero.
const (
	DefaultQueryTimeout    = 5 * time.Second
	DefaultMaxOpenConns    = 10
	DefaultMaxIdleConns    = 5
	DefaultConnMaxLifetime = 30 * time.Minute
)

// Options configures the connection pool of a Store. Every database
// subpackage takes the same Options. A zero field means its default.
type Options struct {
	// QueryTimeout bounds every query, the connect and the first ping.
	// Default 5 s.
	QueryTimeout time.Duration
	// MaxOpenConns is the maximum number of open connections. Default 10.
	MaxOpenConns int
	// MaxIdleConns is the maximum number of idle connections kept in the
	// pool. Default 5, and never more than MaxOpenConns.
	MaxIdleConns int
	// ConnMaxLifetime is how long a connection may be reused before it is
	// closed. Default 30 min.
	ConnMaxLifetime time.Duration
	// CreateTable makes Open create the prefect_api_keys table when it is
	// missing. Default false: Open only pings the database, and the first
	// query on a missing table returns ErrTableMissing.
	CreateTable bool
}

// WithDefaults returns a copy of o with every zero field set to its default.
func (o Options) WithDefaults() Options {
	if o.QueryTimeout == 0 {
		o.QueryTimeout = DefaultQueryTimeout
	}

	if o.MaxOpenConns == 0 {
		o.MaxOpenConns = DefaultMaxOpenConns
	}

	if o.MaxIdleConns == 0 {
		o.MaxIdleConns = min(DefaultMaxIdleConns, o.MaxOpenConns)
	}

	if o.ConnMaxLifetime == 0 {
		o.ConnMaxLifetime = DefaultConnMaxLifetime
	}

	return o
}

// Validate rejects negative values and an idle pool larger than the open
// pool. It accepts zero fields, which WithDefaults fills in.
func (o Options) Validate() error {
	if o.QueryTimeout < 0 {
		return fmt.Errorf("invalid key store query timeout %s: must be positive", o.QueryTimeout)
	}

	if o.MaxOpenConns < 0 {
		return fmt.Errorf("invalid key store max open connections %d: must be positive", o.MaxOpenConns)
	}

	if o.MaxIdleConns < 0 {
		return fmt.Errorf("invalid key store max idle connections %d: must be positive", o.MaxIdleConns)
	}

	if o.MaxOpenConns > 0 && o.MaxIdleConns > o.MaxOpenConns {
		return fmt.Errorf("invalid key store max idle connections %d: must not exceed max open connections %d", o.MaxIdleConns, o.MaxOpenConns)
	}

	if o.ConnMaxLifetime < 0 {
		return fmt.Errorf("invalid key store connection max lifetime %s: must be positive", o.ConnMaxLifetime)
	}

	return nil
}
