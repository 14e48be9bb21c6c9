package authn

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/authz"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/keystore"
)

// reasonOf returns the reason of an Authenticate error, or "" for nil. It
// fails the test when err is not an *Error.
func reasonOf(t *testing.T, err error) authz.Reason {
	t.Helper()

	if err == nil {
		return ""
	}
	var authErr *Error
	if !errors.As(err, &authErr) {
		t.Fatalf("error %v (%T) is not an *authn.Error", err, err)
	}
	return authErr.Reason
}

func TestAuthenticateReasons(t *testing.T) {
	const expiredSecret = "pap_expiredK3yDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD"
	const futureSecret = "pap_futureK3yEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEE"

	tests := []struct {
		name        string
		cred        Credential
		storeErr    error
		wantReason  authz.Reason
		wantUserID  string // user id of the returned Identity
		wantLookups int64
	}{
		{name: "no credential", cred: Credential{}, wantReason: authz.ReasonKeyMissing},
		{name: "user without key", cred: basic("alice", ""), wantReason: authz.ReasonKeyMissing},
		{name: "malformed", cred: credentialFromAuthorization("Token x"), wantReason: authz.ReasonKeyUnknown},
		{name: "unknown key", cred: bearer(unknownSecret), wantReason: authz.ReasonKeyUnknown, wantLookups: 1},
		{name: "bearer", cred: bearer(aliceSecret), wantUserID: "alice", wantLookups: 1},
		{name: "basic without user", cred: basic("", aliceSecret), wantUserID: "alice", wantLookups: 1},
		{name: "basic matching user", cred: basic("alice", aliceSecret), wantUserID: "alice", wantLookups: 1},
		{name: "basic other user", cred: basic("bob", aliceSecret), wantReason: authz.ReasonKeyUserMismatch, wantUserID: "alice", wantLookups: 1},
		{name: "expired", cred: bearer(expiredSecret), wantReason: authz.ReasonKeyExpired, wantUserID: "carol", wantLookups: 1},
		{name: "not yet valid", cred: bearer(futureSecret), wantReason: authz.ReasonKeyNotYetValid, wantUserID: "dave", wantLookups: 1},
		{name: "store error", cred: bearer(aliceSecret), storeErr: errors.New("connection refused"), wantReason: authz.ReasonKeyStoreUnavailable, wantLookups: 1},
		{name: "store timeout", cred: bearer(aliceSecret), storeErr: fmt.Errorf("query: %w", context.DeadlineExceeded), wantReason: authz.ReasonKeyStoreUnavailable, wantLookups: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			setup := newTestSetup(t, Options{})
			now := setup.clock.Now()
			setup.store.setKey(expiredSecret, keystore.Key{UserID: "carol", IssuedAt: now.Add(-48 * time.Hour), ExpiresAt: now})
			setup.store.setKey(futureSecret, keystore.Key{UserID: "dave", IssuedAt: now.Add(time.Second), ExpiresAt: now.Add(time.Hour)})
			setup.store.setErr(tc.storeErr)

			id, err := setup.auth.Authenticate(context.Background(), tc.cred)

			if got := reasonOf(t, err); got != tc.wantReason {
				t.Errorf("reason = %q (%v), want %q", got, err, tc.wantReason)
			}
			if id.Key.UserID != tc.wantUserID {
				t.Errorf("Identity user = %q, want %q", id.Key.UserID, tc.wantUserID)
			}
			if got := setup.store.calls.Load(); got != tc.wantLookups {
				t.Errorf("store lookups = %d, want %d", got, tc.wantLookups)
			}
			if err != nil {
				decision := err.(*Error).Decision()
				if decision.Allow || decision.Reason != tc.wantReason || decision.Message == "" {
					t.Errorf("Decision() = %+v, want a denial for %q with a message", decision, tc.wantReason)
				}
			}
		})
	}
}

func TestAuthenticateErrorWrapsCause(t *testing.T) {
	setup := newTestSetup(t, Options{})
	setup.store.setErr(fmt.Errorf("query: %w", context.DeadlineExceeded))

	_, err := setup.auth.Authenticate(context.Background(), bearer(aliceSecret))

	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v does not wrap the store's cause", err)
	}
}

func TestAuthenticateReturnsIdentity(t *testing.T) {
	setup := newTestSetup(t, Options{})
	cred := basic("alice", aliceSecret)

	id, err := setup.auth.Authenticate(context.Background(), cred)

	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	if id.Key.Scopes != "query/*" {
		t.Errorf("Key.Scopes = %q, want %q", id.Key.Scopes, "query/*")
	}
	if id.Credential() != cred {
		t.Errorf("Credential() = %v, want %v", id.Credential(), cred)
	}
	if id.Grant != nil || id.GrantErr != nil {
		t.Errorf("Grant = %v, GrantErr = %v without a Compile hook, want nil", id.Grant, id.GrantErr)
	}
}

func TestAuthenticateCachesKey(t *testing.T) {
	setup := newTestSetup(t, Options{})

	for range 3 {
		if _, err := setup.auth.Authenticate(context.Background(), bearer(aliceSecret)); err != nil {
			t.Fatalf("Authenticate: %v", err)
		}
	}

	if got := setup.store.calls.Load(); got != 1 {
		t.Errorf("store lookups = %d, want 1", got)
	}
	want := Stats{Hits: 2, Misses: 1, Lookups: 1}
	if got := setup.auth.Stats(); got != want {
		t.Errorf("Stats() = %+v, want %+v", got, want)
	}
	if got := setup.auth.Len(); got != 1 {
		t.Errorf("Len() = %d, want 1", got)
	}
}

func TestAuthenticateCacheKeyIsHash(t *testing.T) {
	setup := newTestSetup(t, Options{})

	if _, err := setup.auth.Authenticate(context.Background(), bearer(aliceSecret)); err != nil {
		t.Fatalf("Authenticate: %v", err)
	}

	keys := setup.auth.cache.Keys()
	if len(keys) != 1 || keys[0] != keystore.Hash(aliceSecret) {
		t.Errorf("cache keys = %q, want only keystore.Hash of the secret", keys)
	}
}

func TestAuthenticateTTL(t *testing.T) {
	const ttl = 5 * time.Minute
	setup := newTestSetup(t, Options{TTL: ttl})
	ctx := context.Background()

	steps := []struct {
		advance     time.Duration
		wantLookups int64
	}{
		{advance: 0, wantLookups: 1},
		{advance: ttl - time.Nanosecond, wantLookups: 1},
		{advance: time.Nanosecond, wantLookups: 2}, // the entry is now exactly ttl old
		{advance: ttl - time.Nanosecond, wantLookups: 2},
	}
	for i, step := range steps {
		setup.clock.Advance(step.advance)

		if _, err := setup.auth.Authenticate(ctx, bearer(aliceSecret)); err != nil {
			t.Fatalf("step %d: Authenticate: %v", i, err)
		}
		if got := setup.store.calls.Load(); got != step.wantLookups {
			t.Errorf("step %d: store lookups = %d, want %d", i, got, step.wantLookups)
		}
	}
}

func TestAuthenticateDefaultTTLs(t *testing.T) {
	setup := newTestSetup(t, Options{})
	ctx := context.Background()

	setup.auth.Authenticate(ctx, bearer(aliceSecret))
	setup.auth.Authenticate(ctx, bearer(unknownSecret))
	setup.clock.Advance(DefaultNegativeTTL - time.Nanosecond)
	setup.auth.Authenticate(ctx, bearer(unknownSecret))
	if got := setup.store.calls.Load(); got != 2 {
		t.Errorf("store lookups before the negative TTL = %d, want 2", got)
	}

	setup.clock.Advance(time.Nanosecond)
	setup.auth.Authenticate(ctx, bearer(unknownSecret))
	if got := setup.store.calls.Load(); got != 3 {
		t.Errorf("store lookups at the negative TTL = %d, want 3", got)
	}

	setup.clock.Advance(DefaultTTL - DefaultNegativeTTL - time.Nanosecond)
	setup.auth.Authenticate(ctx, bearer(aliceSecret))
	if got := setup.store.calls.Load(); got != 3 {
		t.Errorf("store lookups before the TTL = %d, want 3", got)
	}

	setup.clock.Advance(time.Nanosecond)
	setup.auth.Authenticate(ctx, bearer(aliceSecret))
	if got := setup.store.calls.Load(); got != 4 {
		t.Errorf("store lookups at the TTL = %d, want 4", got)
	}
}

func TestAuthenticateClockBackwards(t *testing.T) {
	setup := newTestSetup(t, Options{})
	ctx := context.Background()

	setup.auth.Authenticate(ctx, bearer(aliceSecret))
	setup.clock.Advance(-time.Second)
	setup.auth.Authenticate(ctx, bearer(aliceSecret))

	if got := setup.store.calls.Load(); got != 2 {
		t.Errorf("store lookups = %d, want 2 because an entry from the future is stale", got)
	}
}

func TestAuthenticateNegativeCache(t *testing.T) {
	const negativeTTL = 30 * time.Second
	setup := newTestSetup(t, Options{NegativeTTL: negativeTTL})
	ctx := context.Background()
	const newSecret = "pap_newK3yFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"

	for range 5 {
		_, err := setup.auth.Authenticate(ctx, bearer(newSecret))
		if got := reasonOf(t, err); got != authz.ReasonKeyUnknown {
			t.Fatalf("reason = %q, want %q", got, authz.ReasonKeyUnknown)
		}
	}
	if got := setup.store.calls.Load(); got != 1 {
		t.Errorf("store lookups = %d, want 1", got)
	}
	if got := setup.auth.Stats(); got.NegativeHits != 4 || got.Hits != 0 {
		t.Errorf("Stats() = %+v, want 4 negative hits and no hits", got)
	}

	// A key created meanwhile is accepted once the negative entry is stale.
	setup.store.setKey(newSecret, validKey("erin", setup.clock.Now()))
	setup.clock.Advance(negativeTTL - time.Nanosecond)
	_, err := setup.auth.Authenticate(ctx, bearer(newSecret))
	if got := reasonOf(t, err); got != authz.ReasonKeyUnknown {
		t.Errorf("reason before the negative TTL = %q, want %q", got, authz.ReasonKeyUnknown)
	}

	setup.clock.Advance(time.Nanosecond)
	id, err := setup.auth.Authenticate(ctx, bearer(newSecret))
	if err != nil {
		t.Fatalf("Authenticate after the negative TTL: %v", err)
	}
	if id.Key.UserID != "erin" {
		t.Errorf("user = %q, want erin", id.Key.UserID)
	}
}

func TestAuthenticateEvictsLeastRecentlyUsed(t *testing.T) {
	setup := newTestSetup(t, Options{Size: 2})
	ctx := context.Background()
	carolSecret := "pap_carolK3yGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGG"
	setup.store.setKey(carolSecret, validKey("carol", setup.clock.Now()))

	steps := []struct {
		secret      string
		wantLookups int64
	}{
		{secret: aliceSecret, wantLookups: 1},
		{secret: bobSecret, wantLookups: 2},
		{secret: aliceSecret, wantLookups: 2}, // alice is now the most recently used
		{secret: carolSecret, wantLookups: 3}, // evicts bob
		{secret: aliceSecret, wantLookups: 3},
		{secret: bobSecret, wantLookups: 4}, // evicts carol
		{secret: carolSecret, wantLookups: 5},
	}
	for i, step := range steps {
		if _, err := setup.auth.Authenticate(ctx, bearer(step.secret)); err != nil {
			t.Fatalf("step %d: Authenticate: %v", i, err)
		}
		if got := setup.store.calls.Load(); got != step.wantLookups {
			t.Errorf("step %d: store lookups = %d, want %d", i, got, step.wantLookups)
		}
		if got := setup.auth.Len(); got > 2 {
			t.Errorf("step %d: Len() = %d, want at most 2", i, got)
		}
	}
}

func TestAuthenticateStoreErrorNotCached(t *testing.T) {
	setup := newTestSetup(t, Options{})
	ctx := context.Background()
	// A driver that quotes its arguments would put the key in its error.
	setup.store.setErr(fmt.Errorf("query api_key = %q: dial tcp 127.0.0.1:5432: connection refused", aliceSecret))

	for i := range 2 {
		_, err := setup.auth.Authenticate(ctx, bearer(aliceSecret))
		if got := reasonOf(t, err); got != authz.ReasonKeyStoreUnavailable {
			t.Fatalf("call %d: reason = %q, want %q", i, got, authz.ReasonKeyStoreUnavailable)
		}
		if strings.Contains(err.Error(), aliceSecret) {
			t.Errorf("call %d: error message %q contains the secret", i, err)
		}
	}
	if got := setup.store.calls.Load(); got != 2 {
		t.Errorf("store lookups = %d, want 2", got)
	}
	if got := setup.auth.Stats().StoreErrors; got != 2 {
		t.Errorf("Stats().StoreErrors = %d, want 2", got)
	}
	if got := setup.auth.Len(); got != 0 {
		t.Errorf("Len() = %d, want 0", got)
	}

	logLines := setup.logs.lines()
	if len(logLines) != 2 {
		t.Fatalf("log has %d lines, want one per store error:\n%s", len(logLines), setup.logs)
	}
	for _, line := range logLines {
		for _, want := range []string{`"level":"ERROR"`, "look up API key failed", `"key_prefix":"pap_alic…"`, "connection refused", "[REDACTED]"} {
			if !strings.Contains(line, want) {
				t.Errorf("log line %s does not contain %s", line, want)
			}
		}
	}
	if strings.Contains(setup.logs.String(), aliceSecret) {
		t.Errorf("log contains the secret:\n%s", setup.logs)
	}

	setup.store.setErr(nil)
	if _, err := setup.auth.Authenticate(ctx, bearer(aliceSecret)); err != nil {
		t.Errorf("Authenticate after the store recovered: %v", err)
	}
}

func TestAuthenticateExpiryWhileCached(t *testing.T) {
	setup := newTestSetup(t, Options{})
	ctx := context.Background()
	now := setup.clock.Now()
	setup.store.setKey(aliceSecret, keystore.Key{UserID: "alice", IssuedAt: now.Add(-time.Hour), ExpiresAt: now.Add(time.Minute)})

	if _, err := setup.auth.Authenticate(ctx, bearer(aliceSecret)); err != nil {
		t.Fatalf("Authenticate before expiry: %v", err)
	}

	setup.clock.Advance(time.Minute - time.Nanosecond)
	if _, err := setup.auth.Authenticate(ctx, bearer(aliceSecret)); err != nil {
		t.Fatalf("Authenticate just before expiry: %v", err)
	}

	setup.clock.Advance(time.Nanosecond)
	id, err := setup.auth.Authenticate(ctx, bearer(aliceSecret))
	if got := reasonOf(t, err); got != authz.ReasonKeyExpired {
		t.Errorf("reason at expiry = %q, want %q", got, authz.ReasonKeyExpired)
	}
	if id.Key.UserID != "alice" {
		t.Errorf("Identity user of the expired key = %q, want alice", id.Key.UserID)
	}
	if got := setup.store.calls.Load(); got != 1 {
		t.Errorf("store lookups = %d, want 1 because the entry is still fresh", got)
	}
}

func TestAuthenticateBecomesValidWhileCached(t *testing.T) {
	setup := newTestSetup(t, Options{})
	ctx := context.Background()
	now := setup.clock.Now()
	setup.store.setKey(aliceSecret, keystore.Key{UserID: "alice", IssuedAt: now.Add(time.Minute), ExpiresAt: now.Add(time.Hour)})

	_, err := setup.auth.Authenticate(ctx, bearer(aliceSecret))
	if got := reasonOf(t, err); got != authz.ReasonKeyNotYetValid {
		t.Errorf("reason before issue time = %q, want %q", got, authz.ReasonKeyNotYetValid)
	}

	setup.clock.Advance(time.Minute)
	if _, err := setup.auth.Authenticate(ctx, bearer(aliceSecret)); err != nil {
		t.Errorf("Authenticate at issue time: %v", err)
	}
	if got := setup.store.calls.Load(); got != 1 {
		t.Errorf("store lookups = %d, want 1", got)
	}
}

func TestAuthenticateSingleflight(t *testing.T) {
	const callers = 100
	setup := newTestSetup(t, Options{})
	// The lookup returns only after every caller has missed the cache, so
	// every caller is either waiting on this lookup or finds its result in
	// the cache.
	setup.store.beforeLookup = func(context.Context) {
		for setup.auth.Stats().Misses < callers {
			runtime.Gosched()
		}
	}

	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for range callers {
		wg.Go(func() {
			if _, err := setup.auth.Authenticate(context.Background(), bearer(aliceSecret)); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)

	for err := range errs {
		t.Errorf("Authenticate: %v", err)
	}
	if got := setup.store.calls.Load(); got != 1 {
		t.Errorf("store lookups = %d, want 1", got)
	}
	if got := setup.auth.Stats(); got.Misses != callers || got.Lookups != 1 {
		t.Errorf("Stats() = %+v, want %d misses and 1 lookup", got, callers)
	}
}

func TestAuthenticateCallerCancelKeepsLookup(t *testing.T) {
	setup := newTestSetup(t, Options{})
	lookupStarted := make(chan struct{})
	releaseLookup := make(chan struct{})
	setup.store.beforeLookup = func(context.Context) {
		close(lookupStarted)
		<-releaseLookup
	}

	// The first caller starts the lookup and gives up while it runs.
	firstCtx, cancelFirst := context.WithCancel(context.Background())
	firstErr := make(chan error, 1)
	go func() {
		_, err := setup.auth.Authenticate(firstCtx, bearer(aliceSecret))
		firstErr <- err
	}()
	<-lookupStarted
	cancelFirst()
	err := <-firstErr
	if got := reasonOf(t, err); got != authz.ReasonKeyStoreUnavailable {
		t.Errorf("reason of the cancelled caller = %q, want %q", got, authz.ReasonKeyStoreUnavailable)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error of the cancelled caller = %v, want it to wrap context.Canceled", err)
	}

	// A second caller joins the running lookup or finds its cached result.
	secondErr := make(chan error, 1)
	go func() {
		_, err := setup.auth.Authenticate(context.Background(), bearer(aliceSecret))
		secondErr <- err
	}()
	close(releaseLookup)
	if err := <-secondErr; err != nil {
		t.Errorf("Authenticate of the second caller: %v", err)
	}

	if box, _ := setup.store.lookupCtxErr.Load().(errorBox); box.err != nil {
		t.Errorf("store saw ctx.Err() = %v, want nil", box.err)
	}
	if got := setup.store.calls.Load(); got != 1 {
		t.Errorf("store lookups = %d, want 1", got)
	}
	if got := setup.auth.Len(); got != 1 {
		t.Errorf("Len() = %d, want 1 because the lookup cached its result", got)
	}
}

func TestReset(t *testing.T) {
	setup := newTestSetup(t, Options{})
	ctx := context.Background()
	setup.auth.Authenticate(ctx, bearer(aliceSecret))
	setup.auth.Authenticate(ctx, bearer(unknownSecret))

	setup.auth.Reset()

	if got := setup.auth.Len(); got != 0 {
		t.Errorf("Len() after Reset = %d, want 0", got)
	}
	setup.auth.Authenticate(ctx, bearer(aliceSecret))
	if got := setup.store.calls.Load(); got != 3 {
		t.Errorf("store lookups = %d, want 3", got)
	}
}

func TestResetDuringLookup(t *testing.T) {
	setup := newTestSetup(t, Options{})
	lookupStarted := make(chan struct{})
	releaseLookup := make(chan struct{})
	setup.store.beforeLookup = func(context.Context) {
		close(lookupStarted)
		<-releaseLookup
	}

	done := make(chan error, 1)
	go func() {
		_, err := setup.auth.Authenticate(context.Background(), bearer(aliceSecret))
		done <- err
	}()
	<-lookupStarted
	setup.auth.Reset()
	close(releaseLookup)

	if err := <-done; err != nil {
		t.Errorf("Authenticate: %v", err)
	}
	if got := setup.auth.Len(); got != 0 {
		t.Errorf("Len() = %d, want 0 because the lookup started before Reset", got)
	}
}

func TestForget(t *testing.T) {
	setup := newTestSetup(t, Options{})
	ctx := context.Background()
	setup.auth.Authenticate(ctx, bearer(aliceSecret))
	setup.auth.Authenticate(ctx, bearer(bobSecret))

	if !setup.auth.Forget(aliceSecret) {
		t.Errorf("Forget(alice) = false, want true")
	}
	if setup.auth.Forget(aliceSecret) {
		t.Errorf("second Forget(alice) = true, want false")
	}
	if setup.auth.Forget(unknownSecret) {
		t.Errorf("Forget(unknown) = true, want false")
	}
	if got := setup.auth.Len(); got != 1 {
		t.Errorf("Len() = %d, want 1", got)
	}

	setup.auth.Authenticate(ctx, bearer(aliceSecret))
	setup.auth.Authenticate(ctx, bearer(bobSecret))
	if got := setup.store.calls.Load(); got != 3 {
		t.Errorf("store lookups = %d, want 3: alice again, bob from the cache", got)
	}
}

func TestForgetUser(t *testing.T) {
	setup := newTestSetup(t, Options{})
	ctx := context.Background()
	secondAliceSecret := "pap_alice2K3yHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHH"
	setup.store.setKey(secondAliceSecret, validKey("alice", setup.clock.Now()))
	for _, secret := range []string{aliceSecret, secondAliceSecret, bobSecret, unknownSecret} {
		setup.auth.Authenticate(ctx, bearer(secret))
	}

	if got := setup.auth.ForgetUser("alice"); got != 2 {
		t.Errorf("ForgetUser(alice) = %d, want 2", got)
	}
	if got := setup.auth.ForgetUser("nobody"); got != 0 {
		t.Errorf("ForgetUser(nobody) = %d, want 0", got)
	}
	if got := setup.auth.Len(); got != 2 {
		t.Errorf("Len() = %d, want 2: bob and the unknown key", got)
	}
}

func TestRevalidate(t *testing.T) {
	const ttl = time.Minute
	setup := newTestSetup(t, Options{TTL: ttl})
	ctx := context.Background()

	id, err := setup.auth.Authenticate(ctx, bearer(aliceSecret))
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}

	// Revoking sets the expiry to now. The cached row is used until the TTL ends.
	revoked := validKey("alice", setup.clock.Now())
	revoked.ExpiresAt = setup.clock.Now()
	setup.store.setKey(aliceSecret, revoked)
	setup.clock.Advance(ttl - time.Nanosecond)
	if _, err := setup.auth.Revalidate(ctx, id); err != nil {
		t.Errorf("Revalidate within the TTL: %v", err)
	}

	setup.clock.Advance(time.Nanosecond)
	_, err = setup.auth.Revalidate(ctx, id)
	if got := reasonOf(t, err); got != authz.ReasonKeyExpired {
		t.Errorf("reason after the TTL = %q, want %q", got, authz.ReasonKeyExpired)
	}
}

func TestRevalidateExpiry(t *testing.T) {
	setup := newTestSetup(t, Options{})
	ctx := context.Background()
	now := setup.clock.Now()
	setup.store.setKey(aliceSecret, keystore.Key{UserID: "alice", IssuedAt: now, ExpiresAt: now.Add(time.Second)})

	id, err := setup.auth.Authenticate(ctx, bearer(aliceSecret))
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	setup.clock.Advance(time.Second)

	_, err = setup.auth.Revalidate(ctx, id)
	if got := reasonOf(t, err); got != authz.ReasonKeyExpired {
		t.Errorf("reason = %q, want %q", got, authz.ReasonKeyExpired)
	}
	if got := setup.store.calls.Load(); got != 1 {
		t.Errorf("store lookups = %d, want 1", got)
	}
}

func TestRevalidateUserChanged(t *testing.T) {
	setup := newTestSetup(t, Options{})
	ctx := context.Background()
	id, err := setup.auth.Authenticate(ctx, bearer(aliceSecret))
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}

	setup.store.setKey(aliceSecret, validKey("mallory", setup.clock.Now()))
	setup.auth.Forget(aliceSecret)
	_, err = setup.auth.Revalidate(ctx, id)

	if got := reasonOf(t, err); got != authz.ReasonKeyUserMismatch {
		t.Errorf("reason = %q, want %q", got, authz.ReasonKeyUserMismatch)
	}
}

func TestRevalidateZeroIdentity(t *testing.T) {
	setup := newTestSetup(t, Options{})

	_, err := setup.auth.Revalidate(context.Background(), Identity{})

	if got := reasonOf(t, err); got != authz.ReasonKeyMissing {
		t.Errorf("reason = %q, want %q", got, authz.ReasonKeyMissing)
	}
}

func TestCompileOncePerLookup(t *testing.T) {
	type grant struct{ scopes string }
	var compiles int
	compile := func(key keystore.Key) (any, error) {
		compiles++
		return &grant{scopes: key.Scopes}, nil
	}
	setup := newTestSetup(t, Options{Compile: compile, TTL: time.Minute})
	ctx := context.Background()

	var grants []any
	for range 3 {
		id, err := setup.auth.Authenticate(ctx, bearer(aliceSecret))
		if err != nil {
			t.Fatalf("Authenticate: %v", err)
		}
		grants = append(grants, id.Grant)
	}

	if compiles != 1 {
		t.Errorf("Compile ran %d times, want 1", compiles)
	}
	if g, ok := grants[0].(*grant); !ok || g.scopes != "query/*" {
		t.Errorf("Grant = %#v, want the compiled scopes", grants[0])
	}
	if grants[1] != grants[0] || grants[2] != grants[0] {
		t.Errorf("cached requests got other grants than the first")
	}

	setup.clock.Advance(time.Minute)
	setup.auth.Authenticate(ctx, bearer(aliceSecret))
	if compiles != 2 {
		t.Errorf("Compile ran %d times after a new lookup, want 2", compiles)
	}
}

func TestCompileError(t *testing.T) {
	compile := func(keystore.Key) (any, error) {
		return nil, errors.New(`unknown scope item "quer/*"`)
	}
	setup := newTestSetup(t, Options{Compile: compile})

	id, err := setup.auth.Authenticate(context.Background(), bearer(aliceSecret))

	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	if id.GrantErr == nil {
		t.Errorf("GrantErr = nil, want the compile error")
	}
	logs := setup.logs.String()
	for _, want := range []string{`"level":"WARN"`, "compile scopes of API key failed", `"user_id":"alice"`, "unknown scope item"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log %s does not contain %s", logs, want)
		}
	}
}

func TestLogsOmitSecret(t *testing.T) {
	compile := func(keystore.Key) (any, error) { return nil, errors.New("bad scopes") }
	setup := newTestSetup(t, Options{Compile: compile})
	ctx := context.Background()

	id, _ := setup.auth.Authenticate(ctx, basic("alice", aliceSecret))
	setup.store.setErr(fmt.Errorf("lookup %s failed", bobSecret))
	setup.auth.Authenticate(ctx, bearer(bobSecret))
	setup.auth.logger.Info("request", "identity", id, "credential", id.Credential())

	logs := setup.logs.String()
	if len(setup.logs.lines()) != 3 {
		t.Errorf("log has %d lines, want 3:\n%s", len(setup.logs.lines()), logs)
	}
	for _, secret := range []string{aliceSecret, bobSecret} {
		if strings.Contains(logs, secret) {
			t.Errorf("log contains a secret:\n%s", logs)
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	setup := newTestSetup(t, Options{Size: 2})
	secrets := []string{aliceSecret, bobSecret, unknownSecret}

	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			secret := secrets[i%len(secrets)]
			for j := range 20 {
				setup.auth.Authenticate(context.Background(), bearer(secret))
				switch j % 10 {
				case 3:
					setup.auth.Forget(secret)
				case 7:
					setup.auth.ForgetUser("alice")
				case 9:
					setup.auth.Reset()
				}
				setup.auth.Len()
				setup.auth.Stats()
			}
		})
	}
	wg.Wait()

	if got := setup.auth.Len(); got > 2 {
		t.Errorf("Len() = %d, want at most 2", got)
	}
}
