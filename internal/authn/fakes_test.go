package authn

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/keystore"
)

// Secrets shaped like generated keys, which start with "pap_".
const (
	aliceSecret   = "pap_aliceK3yAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	bobSecret     = "pap_bobK3yBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"
	unknownSecret = "pap_unknownK3yCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC"
)

var errNotImplemented = errors.New("not implemented by the fake store")

// fakeStore is an in-memory keystore.Store that counts Lookup calls.
type fakeStore struct {
	mu   sync.Mutex
	keys map[string]keystore.Key // by secret
	err  error                   // returned by Lookup when set

	// beforeLookup, when set, runs at the start of every Lookup. Tests use
	// it to hold a lookup until other goroutines have reached a given point.
	beforeLookup func(ctx context.Context)
	// lookupCtxErr records ctx.Err() of the last Lookup when it returned.
	lookupCtxErr atomic.Value

	calls atomic.Int64
}

func newFakeStore(keys map[string]keystore.Key) *fakeStore {
	return &fakeStore{keys: keys}
}

func (s *fakeStore) Lookup(ctx context.Context, secret string) (keystore.Key, error) {
	s.calls.Add(1)
	if s.beforeLookup != nil {
		s.beforeLookup(ctx)
	}
	s.lookupCtxErr.Store(errorBox{ctx.Err()})

	s.mu.Lock()
	defer s.mu.Unlock()

	if s.err != nil {
		return keystore.Key{}, s.err
	}
	key, ok := s.keys[secret]
	if !ok {
		return keystore.Key{}, keystore.ErrNotFound
	}
	return key, nil
}

// errorBox lets atomic.Value store a nil error.
type errorBox struct{ err error }

func (s *fakeStore) setKey(secret string, key keystore.Key) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[secret] = key
}

func (s *fakeStore) setErr(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
}

func (s *fakeStore) Create(context.Context, keystore.Key, string, bool) error {
	return errNotImplemented
}

func (s *fakeStore) List(context.Context) ([]keystore.Key, error) { return nil, errNotImplemented }

func (s *fakeStore) Revoke(context.Context, string, string, time.Time) error {
	return errNotImplemented
}

func (s *fakeStore) HashExisting(context.Context) (int, error) { return 0, errNotImplemented }

func (s *fakeStore) Ping(context.Context) error { return nil }

func (s *fakeStore) Close() error { return nil }

// fakeClock is a settable time source for Options.Now.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *syncBuffer) lines() []string {
	text := strings.TrimSpace(b.String())
	if text == "" {
		return nil
	}
	return strings.Split(text, "\n")
}

// validKey returns a row for userID that is valid from one day before to one
// day after now.
func validKey(userID string, now time.Time) keystore.Key {
	return keystore.Key{
		UserID:    userID,
		Scopes:    "query/*",
		IssuedAt:  now.Add(-24 * time.Hour),
		ExpiresAt: now.Add(24 * time.Hour),
		Hashed:    true,
	}
}

// testSetup is an Authenticator over a fake store with alice's and bob's
// keys, a fake clock and a JSON log buffer.
type testSetup struct {
	store *fakeStore
	clock *fakeClock
	logs  *syncBuffer
	auth  *Authenticator
}

func newTestSetup(t *testing.T, opts Options) *testSetup {
	t.Helper()

	clock := newFakeClock()
	store := newFakeStore(map[string]keystore.Key{
		aliceSecret: validKey("alice", clock.Now()),
		bobSecret:   validKey("bob", clock.Now()),
	})
	logs := &syncBuffer{}

	opts.Now = clock.Now
	opts.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return &testSetup{store: store, clock: clock, logs: logs, auth: New(store, opts)}
}

func bearer(secret string) Credential {
	return Credential{secret: secret, source: SourceBearer}
}

func basic(userID, secret string) Credential {
	return Credential{secret: secret, userID: userID, source: SourceBasic}
}
