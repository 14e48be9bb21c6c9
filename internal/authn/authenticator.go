package authn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/sync/singleflight"

	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/authz"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/keystore"
)

// Defaults for Options fields left at zero.
const (
	DefaultTTL         = 30 * time.Minute
	DefaultNegativeTTL = 10 * time.Second
	DefaultSize        = 10000
)

// Options configures an Authenticator. Zero and negative values select the
// defaults.
type Options struct {
	// TTL is how long a key row found in the store is served from the cache.
	// A revoked key keeps working for up to this long unless the cache entry
	// is removed. Default 30 minutes.
	TTL time.Duration
	// NegativeTTL is how long "key not found" is served from the cache, so
	// that a flood of wrong keys does not reach the database. A key created
	// right after a lookup of it found nothing is accepted at most this long
	// later. Default 10 seconds.
	NegativeTTL time.Duration
	// Size is the maximum number of cache entries, found and not found. The
	// least recently used entry is evicted first. Default 10000.
	Size int
	// Now returns the current time. Default time.Now. Tests set it to move
	// through TTLs and key validity windows without sleeping.
	Now func() time.Time
	// Logger receives store errors and scope compile errors. Default
	// slog.Default().
	Logger *slog.Logger
	// Compile, when set, turns a key's scopes text into the value stored in
	// Identity.Grant. It runs once per store lookup, not once per request.
	Compile func(key keystore.Key) (any, error)
}

// Stats are the counters of an Authenticator since it was created.
type Stats struct {
	Hits         uint64 // requests served from a fresh cache entry of a found key
	NegativeHits uint64 // requests served from a fresh "not found" cache entry
	Misses       uint64 // requests that found no fresh cache entry
	Lookups      uint64 // key store queries; concurrent misses of one key share one query
	StoreErrors  uint64 // key store queries that failed with an error other than ErrNotFound
}

// Authenticator resolves credentials to key rows through a cache in front of
// a keystore.Store. It is safe for concurrent use.
//
// Cache entries are keyed by keystore.Hash of the secret, so a memory dump
// of the cache does not show keys. Entries older than their TTL are stale
// and looked up again. The LRU only bounds the number of entries. Store
// errors are never cached.
type Authenticator struct {
	store       keystore.Store
	ttl         time.Duration
	negativeTTL time.Duration
	now         func() time.Time
	logger      *slog.Logger
	compile     func(key keystore.Key) (any, error)

	cache   *lru.Cache[string, *entry]
	flights singleflight.Group

	// mu makes "check the generation, then add" atomic with respect to
	// Reset and Forget. A lookup that started before a reset does not put
	// the row it read back into the emptied cache.
	mu         sync.Mutex
	generation uint64

	hits         atomic.Uint64
	negativeHits atomic.Uint64
	misses       atomic.Uint64
	lookups      atomic.Uint64
	storeErrors  atomic.Uint64
}

// entry is one cached store result. It is not modified after it is added.
type entry struct {
	found     bool // false for a cached ErrNotFound
	key       keystore.Key
	grant     any
	grantErr  error
	fetchedAt time.Time
}

// New returns an Authenticator that looks keys up in store.
func New(store keystore.Store, opts Options) *Authenticator {
	a := &Authenticator{
		store:       store,
		ttl:         opts.TTL,
		negativeTTL: opts.NegativeTTL,
		now:         opts.Now,
		logger:      opts.Logger,
		compile:     opts.Compile,
	}
	if a.ttl <= 0 {
		a.ttl = DefaultTTL
	}
	if a.negativeTTL <= 0 {
		a.negativeTTL = DefaultNegativeTTL
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.logger == nil {
		a.logger = slog.Default()
	}

	size := opts.Size
	if size <= 0 {
		size = DefaultSize
	}
	// lru.New fails only for a size below 1, which was replaced above.
	cache, err := lru.New[string, *entry](size)
	if err != nil {
		panic(fmt.Sprintf("authn: create cache of size %d: %v", size, err))
	}
	a.cache = cache
	return a
}

// Authenticate resolves a credential to its key row and checks that the key
// may be used now. The error, when not nil, is an *Error with one of these
// reasons:
//   - authz.ReasonKeyMissing: the credential carries no key.
//   - authz.ReasonKeyUnknown: the credential is malformed or no row has the key.
//   - authz.ReasonKeyUserMismatch: the credential names a user id that is not
//     the row's user_id.
//   - authz.ReasonKeyNotYetValid, authz.ReasonKeyExpired: the current time is
//     outside the key's validity window. It is checked on every call, also
//     for cached rows.
//   - authz.ReasonKeyStoreUnavailable: the store failed, or ctx ended while
//     the lookup was running. Nothing is cached, so the next call queries
//     the store again.
//
// When a row was found but is denied, the returned Identity still carries
// the row, so the audit trail can name its user.
func (a *Authenticator) Authenticate(ctx context.Context, cred Credential) (Identity, error) {
	if err := cred.Err(); err != nil {
		return Identity{}, deny(authz.ReasonKeyUnknown, err.Error(), err)
	}
	if !cred.Present() {
		return Identity{}, deny(authz.ReasonKeyMissing,
			`missing API key: send "Authorization: Bearer <key>" or "Authorization: Basic base64(<key>)"`, nil)
	}

	e, err := a.entry(ctx, cred)
	if err != nil {
		return Identity{}, err
	}
	if !e.found {
		return Identity{}, deny(authz.ReasonKeyUnknown, "API key not found", nil)
	}

	id := Identity{Key: e.key, Grant: e.grant, GrantErr: e.grantErr, credential: cred}
	if err := checkKey(e.key, cred, a.now()); err != nil {
		return id, err
	}
	return id, nil
}

// Revalidate authenticates the credential of an earlier identity again, for
// connections that outlive one request such as websockets. It goes through
// the cache, so a revoked key is noticed at most one TTL after revocation,
// and an expired key as soon as it expires. The returned Identity carries
// the current row and grant.
func (a *Authenticator) Revalidate(ctx context.Context, id Identity) (Identity, error) {
	renewed, err := a.Authenticate(ctx, id.credential)
	if err != nil {
		return renewed, err
	}

	// The key now belongs to another user. That happens only when a row was
	// rewritten with the same secret.
	if renewed.Key.UserID != id.Key.UserID {
		return renewed, deny(authz.ReasonKeyUserMismatch, "API key now belongs to another user", nil)
	}
	return renewed, nil
}

// checkKey applies the rules that hold for cached rows too: the user id in
// the credential and the validity window.
func checkKey(key keystore.Key, cred Credential, now time.Time) error {
	if !cred.MatchesUser(key.UserID) {
		return deny(authz.ReasonKeyUserMismatch, "API key does not belong to the user id sent with it", nil)
	}
	if key.ValidAt(now) {
		return nil
	}

	if now.Before(key.IssuedAt) {
		message := fmt.Sprintf("API key is not valid before %s", key.IssuedAt.UTC().Format(time.RFC3339))
		return deny(authz.ReasonKeyNotYetValid, message, nil)
	}
	message := fmt.Sprintf("API key expired at %s", key.ExpiresAt.UTC().Format(time.RFC3339))
	return deny(authz.ReasonKeyExpired, message, nil)
}

// entry returns the cached store result for the credential, or looks it up.
// Concurrent misses of one key share one store query. A caller whose ctx
// ends stops waiting, but the query goes on for the others and fills the
// cache.
func (a *Authenticator) entry(ctx context.Context, cred Credential) (*entry, error) {
	hash := keystore.Hash(cred.secret)
	if e, ok := a.fresh(hash); ok {
		if e.found {
			a.hits.Add(1)
		} else {
			a.negativeHits.Add(1)
		}
		return e, nil
	}
	a.misses.Add(1)

	results := a.flights.DoChan(hash, func() (any, error) {
		return a.fetch(ctx, hash, cred)
	})
	select {
	case result := <-results:
		if result.Err != nil {
			return nil, deny(authz.ReasonKeyStoreUnavailable, "key store unavailable, try again later", result.Err)
		}
		return result.Val.(*entry), nil
	case <-ctx.Done():
		return nil, deny(authz.ReasonKeyStoreUnavailable, "request ended while the API key was looked up", ctx.Err())
	}
}

// fetch queries the store and caches its result unless it is an error. It
// runs once per singleflight call, in a goroutine of its own.
func (a *Authenticator) fetch(ctx context.Context, hash string, cred Credential) (*entry, error) {
	// Another call may have filled the entry between this caller's cache
	// check and the start of this call.
	if e, ok := a.fresh(hash); ok {
		return e, nil
	}

	a.mu.Lock()
	generation := a.generation
	a.mu.Unlock()

	// The query serves every caller that joins this call, so the first
	// caller's cancellation must not end it. The store bounds it with its own
	// timeout.
	ctx = context.WithoutCancel(ctx)
	a.lookups.Add(1)
	key, err := a.store.Lookup(ctx, cred.secret)

	var e *entry
	switch {
	case errors.Is(err, keystore.ErrNotFound):
		e = &entry{fetchedAt: a.now()}
	case err != nil:
		a.storeErrors.Add(1)
		a.logger.LogAttrs(ctx, slog.LevelError, "look up API key failed",
			slog.Any("credential", cred),
			slog.String("error", redact(err.Error(), cred.secret)))
		return nil, fmt.Errorf("look up API key: %w", err)
	default:
		e = a.newEntry(ctx, key)
	}

	a.add(hash, e, generation)
	return e, nil
}

func (a *Authenticator) newEntry(ctx context.Context, key keystore.Key) *entry {
	e := &entry{found: true, key: key, fetchedAt: a.now()}
	if a.compile == nil {
		return e
	}

	e.grant, e.grantErr = a.compile(key)
	if e.grantErr != nil {
		a.logger.LogAttrs(ctx, slog.LevelWarn, "compile scopes of API key failed",
			slog.String("user_id", key.UserID),
			slog.String("error", e.grantErr.Error()))
	}
	return e
}

// fresh returns the cache entry for hash if it is younger than its TTL.
func (a *Authenticator) fresh(hash string) (*entry, bool) {
	e, ok := a.cache.Get(hash)
	if !ok {
		return nil, false
	}

	ttl := a.ttl
	if !e.found {
		ttl = a.negativeTTL
	}
	// A negative age means the clock went backwards. The entry is then
	// treated as stale rather than trusted for longer than its TTL.
	age := a.now().Sub(e.fetchedAt)
	if age < 0 || age >= ttl {
		return nil, false
	}
	return e, true
}

// add caches e unless Reset or Forget ran since the lookup read generation.
func (a *Authenticator) add(hash string, e *entry, generation uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()

	if a.generation != generation {
		return
	}
	a.cache.Add(hash, e)
}

// Reset empties the cache. Lookups running during the reset do not add
// their results.
func (a *Authenticator) Reset() {
	a.mu.Lock()
	defer a.mu.Unlock()

	a.generation++
	a.cache.Purge()
}

// Forget removes the cache entry of one secret and reports whether there was
// one. Requests that join a lookup of that secret already running still get
// its result, but the result is not cached.
func (a *Authenticator) Forget(secret string) bool {
	return a.ForgetHash(keystore.Hash(secret))
}

// ForgetHash removes the cache entry of the key whose stored form is hash
// (keystore.Hash of the key), and reports whether there was one.
func (a *Authenticator) ForgetHash(hash string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()

	a.generation++
	a.flights.Forget(hash)
	return a.cache.Remove(hash)
}

// ForgetUser removes the cache entries of every key of a user and returns
// how many it removed. It walks the whole cache, so it suits admin actions
// such as revoking a key, not the request path.
func (a *Authenticator) ForgetUser(userID string) int {
	a.mu.Lock()
	defer a.mu.Unlock()

	a.generation++
	removed := 0
	for _, hash := range a.cache.Keys() {
		e, ok := a.cache.Peek(hash)
		if ok && e.found && e.key.UserID == userID && a.cache.Remove(hash) {
			removed++
		}
	}
	return removed
}

// Len returns the number of cache entries, fresh or stale, found or not.
func (a *Authenticator) Len() int {
	return a.cache.Len()
}

// Stats returns a snapshot of the counters.
func (a *Authenticator) Stats() Stats {
	return Stats{
		Hits:         a.hits.Load(),
		NegativeHits: a.negativeHits.Load(),
		Misses:       a.misses.Load(),
		Lookups:      a.lookups.Load(),
		StoreErrors:  a.storeErrors.Load(),
	}
}

// redact removes the secret from a store error's text before it is logged,
// in case a driver quotes its query arguments.
func redact(text, secret string) string {
	if secret == "" {
		return text
	}
	return strings.ReplaceAll(text, secret, "[REDACTED]")
}
