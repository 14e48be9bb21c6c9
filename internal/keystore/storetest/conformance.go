package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/keystore"
)

// Run runs the conformance tests. open must return a Database with an
// empty key table that no other test uses, and close it when the test ends.
func Run(t *testing.T, open func(t *testing.T) Database) {
	tests := []struct {
		name string
		run  func(t *testing.T, db Database)
	}{
		{"CreateLookupHashed", testCreateLookupHashed},
		{"LookupPlaintextByHand", testLookupPlaintextByHand},
		{"LookupNotFound", testLookupNotFound},
		{"LookupRejectsNearMatches", testLookupRejectsNearMatches},
		{"LookupPrefersHashed", testLookupPrefersHashed},
		{"CreateExistsReplace", testCreateExistsReplace},
		{"CreateRejectsInvalid", testCreateRejectsInvalid},
		{"CreateAcceptsLimits", testCreateAcceptsLimits},
		{"ListOrderNoSecrets", testListOrderNoSecrets},
		{"Revoke", testRevoke},
		{"HashExisting", testHashExisting},
		{"Ping", testPing},
		{"TimeRoundTripUTC", testTimeRoundTripUTC},
		{"ConcurrentLookups", testConcurrentLookups},
		{"CanceledContext", testCanceledContext},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.run(t, open(t))
		})
	}
}

// issued is the issue time of the keys that the tests create.
var issued = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

// now returns a fixed revocation time, after issued and before expiry.
func now() time.Time {
	return time.Date(2025, 6, 15, 8, 30, 45, 0, time.UTC)
}

// validKey returns a key that Create accepts.
func validKey(userID string) keystore.Key {
	return keystore.Key{
		UserID:    userID,
		Scopes:    "query/*, mutation/create_flow_run",
		IssuedAt:  issued,
		ExpiresAt: issued.AddDate(10, 0, 0),
		CreatedAt: issued,
		UpdatedAt: issued,
		CreatedBy: "ADMIN",
		UpdatedBy: "ADMIN",
	}
}

// newSecret returns a fresh secret or fails the test.
func newSecret(t *testing.T) string {
	t.Helper()

	secret, err := keystore.NewSecret()
	if err != nil {
		t.Fatal(err)
	}

	return secret
}

func create(t *testing.T, db Database, key keystore.Key, secret string) {
	t.Helper()

	if err := db.Store.Create(context.Background(), key, secret, false); err != nil {
		t.Fatalf("Create(%q): %v", key.UserID, err)
	}
}

func lookup(t *testing.T, db Database, secret string) keystore.Key {
	t.Helper()

	key, err := db.Store.Lookup(context.Background(), secret)
	if err != nil {
		t.Fatalf("Lookup(%s): %v", keystore.Prefix(secret), err)
	}

	return key
}

// checkKey compares every field of got with want.
func checkKey(t *testing.T, got, want keystore.Key) {
	t.Helper()

	if got.UserID != want.UserID {
		t.Errorf("UserID: got %q, want %q", got.UserID, want.UserID)
	}
	if got.Scopes != want.Scopes {
		t.Errorf("Scopes: got %q, want %q", got.Scopes, want.Scopes)
	}
	checkTime(t, "IssuedAt", got.IssuedAt, want.IssuedAt)
	checkTime(t, "ExpiresAt", got.ExpiresAt, want.ExpiresAt)
	checkTime(t, "CreatedAt", got.CreatedAt, want.CreatedAt)
	checkTime(t, "UpdatedAt", got.UpdatedAt, want.UpdatedAt)
	if got.CreatedBy != want.CreatedBy {
		t.Errorf("CreatedBy: got %q, want %q", got.CreatedBy, want.CreatedBy)
	}
	if got.UpdatedBy != want.UpdatedBy {
		t.Errorf("UpdatedBy: got %q, want %q", got.UpdatedBy, want.UpdatedBy)
	}
	if got.Hashed != want.Hashed {
		t.Errorf("Hashed: got %v, want %v", got.Hashed, want.Hashed)
	}
}

// checkTime requires the same instant, in UTC.
func checkTime(t *testing.T, field string, got, want time.Time) {
	t.Helper()

	if !got.Equal(want) {
		t.Errorf("%s: got %s, want %s", field, got.Format(time.RFC3339Nano), want.Format(time.RFC3339Nano))
	}
	if got.Location() != time.UTC {
		t.Errorf("%s: got location %s, want UTC", field, got.Location())
	}
}

func testCreateLookupHashed(t *testing.T, db Database) {
	secret := newSecret(t)
	want := validKey("alice")
	create(t, db, want, secret)

	want.Hashed = true
	checkKey(t, lookup(t, db, secret), want)

	stored := StoredKey(t, db.DB, "alice")
	if stored != keystore.Hash(secret) {
		t.Errorf("api_key column: got %q, want keystore.Hash(secret) %q", stored, keystore.Hash(secret))
	}
}

// testLookupPlaintextByHand uses the sample row of the Node.js proxy.
func testLookupPlaintextByHand(t *testing.T, db Database) {
	InsertRow(t, db.DB, Row{
		UserID:    "USERID",
		Scopes:    "mutation/*, query/*",
		APIKey:    "TestKey001",
		IssuedAt:  "2021-12-27 00:00:00",
		ExpiresAt: "2022-12-31 00:00:00",
	})

	want := keystore.Key{
		UserID:    "USERID",
		Scopes:    "mutation/*, query/*",
		IssuedAt:  time.Date(2021, 12, 27, 0, 0, 0, 0, time.UTC),
		ExpiresAt: time.Date(2022, 12, 31, 0, 0, 0, 0, time.UTC),
		CreatedAt: time.Date(2021, 12, 27, 0, 0, 0, 0, time.UTC),
		UpdatedAt: time.Date(2021, 12, 27, 0, 0, 0, 0, time.UTC),
		CreatedBy: "ADMINUSERID",
		UpdatedBy: "ADMINUSERID",
		Hashed:    false,
	}
	checkKey(t, lookup(t, db, "TestKey001"), want)
}

func testLookupNotFound(t *testing.T, db Database) {
	create(t, db, validKey("alice"), newSecret(t))

	_, err := db.Store.Lookup(context.Background(), newSecret(t))
	if !errors.Is(err, keystore.ErrNotFound) {
		t.Errorf("Lookup of an unknown key: got %v, want keystore.ErrNotFound", err)
	}
}

// testLookupRejectsNearMatches checks that only the exact secret matches,
// even where the database compares without case or trailing spaces, and
// that odd input gives ErrNotFound rather than a database error.
func testLookupRejectsNearMatches(t *testing.T, db Database) {
	InsertRow(t, db.DB, Row{UserID: "USERID", Scopes: "query/*", APIKey: "TestKey001", IssuedAt: "2021-12-27 00:00:00", ExpiresAt: "2099-12-31 00:00:00"})
	secret := newSecret(t)
	create(t, db, validKey("alice"), secret)

	secrets := []struct {
		name   string
		secret string
	}{
		{"empty", ""},
		{"other case", "testkey001"},
		{"upper case", "TESTKEY001"},
		{"trailing space", "TestKey001 "},
		{"leading space", " TestKey001"},
		{"shorter", "TestKey00"},
		{"trailing NUL", "TestKey001\x00"},
		{"hash of plaintext key", keystore.Hash("TestKey001")},
		{"stored hash", keystore.Hash(secret)},
		{"stored hash upper case", strings.ToUpper(keystore.Hash(secret))},
		{"generated key other case", strings.ToUpper(secret)},
		{"invalid UTF-8", "\xff\xfe"},
		{"not latin1", "ключ-TestKey001"},
		{"longer than column", strings.Repeat("k", 1000)},
		{"SQL", "'; DROP TABLE prefect_api_keys; --"},
		{"wildcard", "%"},
	}

	for _, tt := range secrets {
		t.Run(tt.name, func(t *testing.T) {
			key, err := db.Store.Lookup(context.Background(), tt.secret)
			if !errors.Is(err, keystore.ErrNotFound) {
				t.Errorf("Lookup: got key %q and error %v, want keystore.ErrNotFound", key.UserID, err)
			}
		})
	}

	// The table is still there and both keys still work.
	lookup(t, db, "TestKey001")
	lookup(t, db, secret)
}

// testLookupPrefersHashed puts the same secret in a plaintext row and a
// hashed row, with the plaintext row first in user_id order.
func testLookupPrefersHashed(t *testing.T, db Database) {
	const secret = "shared-secret-1"
	InsertRow(t, db.DB, Row{UserID: "a-plain", Scopes: "query/*", APIKey: secret, IssuedAt: "2021-12-27 00:00:00", ExpiresAt: "2099-12-31 00:00:00"})
	create(t, db, validKey("b-hashed"), secret)

	for i := 0; i < 3; i++ {
		key := lookup(t, db, secret)
		if key.UserID != "b-hashed" || !key.Hashed {
			t.Errorf("Lookup #%d: got user %q hashed=%v, want user \"b-hashed\" hashed=true", i, key.UserID, key.Hashed)
		}
	}

	// Two plaintext rows: the smaller user_id wins.
	const other = "shared-secret-2"
	InsertRow(t, db.DB, Row{UserID: "d-plain", Scopes: "query/*", APIKey: other, IssuedAt: "2021-12-27 00:00:00", ExpiresAt: "2099-12-31 00:00:00"})
	InsertRow(t, db.DB, Row{UserID: "c-plain", Scopes: "query/*", APIKey: other, IssuedAt: "2021-12-27 00:00:00", ExpiresAt: "2099-12-31 00:00:00"})
	if key := lookup(t, db, other); key.UserID != "c-plain" {
		t.Errorf("Lookup of two plaintext rows: got user %q, want \"c-plain\"", key.UserID)
	}
}

func testCreateExistsReplace(t *testing.T, db Database) {
	ctx := context.Background()
	first, second := newSecret(t), newSecret(t)
	create(t, db, validKey("alice"), first)

	err := db.Store.Create(ctx, validKey("alice"), second, false)
	if !errors.Is(err, keystore.ErrExists) {
		t.Fatalf("second Create without replace: got %v, want keystore.ErrExists", err)
	}
	if key := lookup(t, db, first); key.UserID != "alice" {
		t.Errorf("first key after rejected Create: got user %q, want \"alice\"", key.UserID)
	}

	replacement := validKey("alice")
	replacement.Scopes = "query/flow"
	replacement.CreatedBy = "OTHERADMIN"
	replacement.UpdatedBy = "OTHERADMIN"
	replacement.ExpiresAt = issued.AddDate(1, 0, 0)
	if err := db.Store.Create(ctx, replacement, second, true); err != nil {
		t.Fatalf("Create with replace: %v", err)
	}

	if _, err := db.Store.Lookup(ctx, first); !errors.Is(err, keystore.ErrNotFound) {
		t.Errorf("replaced key: got %v, want keystore.ErrNotFound", err)
	}
	replacement.Hashed = true
	checkKey(t, lookup(t, db, second), replacement)

	keys, err := db.Store.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 {
		t.Errorf("List after replace: got %d rows, want 1", len(keys))
	}

	// A row written by hand counts as well.
	InsertRow(t, db.DB, Row{UserID: "USERID", Scopes: "query/*", APIKey: "TestKey001", IssuedAt: "2021-12-27 00:00:00", ExpiresAt: "2099-12-31 00:00:00"})
	err = db.Store.Create(ctx, validKey("USERID"), newSecret(t), false)
	if !errors.Is(err, keystore.ErrExists) {
		t.Errorf("Create over a row written by hand: got %v, want keystore.ErrExists", err)
	}
}

func testCreateRejectsInvalid(t *testing.T, db Database) {
	tests := []struct {
		name   string
		change func(k *keystore.Key)
		secret string
		want   string
	}{
		{"created by too long", func(k *keystore.Key) { k.CreatedBy = "ADMINUSERID1" }, "s", "creatd_by"},
		{"updated by too long", func(k *keystore.Key) { k.UpdatedBy = "ADMINUSERID1" }, "s", "last_updatd_by"},
		{"created by empty", func(k *keystore.Key) { k.CreatedBy = "" }, "s", "created by is empty"},
		{"updated by empty", func(k *keystore.Key) { k.UpdatedBy = "" }, "s", "updated by is empty"},
		{"user id empty", func(k *keystore.Key) { k.UserID = "" }, "s", "user id is empty"},
		{"user id too long", func(k *keystore.Key) { k.UserID = strings.Repeat("u", 129) }, "s", "user id is 129 characters"},
		{"user id invalid UTF-8", func(k *keystore.Key) { k.UserID = "bad\xff" }, "s", "not valid UTF-8"},
		{"scopes too long", func(k *keystore.Key) { k.Scopes = strings.Repeat("s", 2001) }, "s", "scopes is 2001 characters"},
		{"secret empty", func(k *keystore.Key) {}, "", "secret is empty"},
		{"issued at zero", func(k *keystore.Key) { k.IssuedAt = time.Time{} }, "s", "issued at is not set"},
		{"created at zero", func(k *keystore.Key) { k.CreatedAt = time.Time{} }, "s", "created at is not set"},
		{"expiry before issue", func(k *keystore.Key) { k.ExpiresAt = k.IssuedAt.Add(-time.Hour) }, "s", "is not after issued at"},
		{"expiry equals issue", func(k *keystore.Key) { k.ExpiresAt = k.IssuedAt }, "s", "is not after issued at"},
		{"expiry after year 9999", func(k *keystore.Key) { k.ExpiresAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, "s", "outside the years"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := validKey("alice")
			tt.change(&key)

			err := db.Store.Create(context.Background(), key, tt.secret, false)
			if err == nil {
				t.Fatal("Create: got nil error, want a validation error")
			}
			if errors.Is(err, keystore.ErrExists) {
				t.Errorf("Create: got keystore.ErrExists, want a validation error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Create: got error %q, want it to contain %q", err, tt.want)
			}
		})
	}

	keys, err := db.Store.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 0 {
		t.Errorf("List after rejected creates: got %d rows, want 0", len(keys))
	}
}

// testCreateAcceptsLimits writes values of exactly the column sizes. The
// audit name has 11 characters but 22 bytes in UTF-8, and every character
// is in latin1, the character set of the Node.js proxy's MySQL table.
func testCreateAcceptsLimits(t *testing.T, db Database) {
	want := validKey(strings.Repeat("u", 128))
	want.Scopes = strings.Repeat("s", 2000)
	want.CreatedBy = "ÄÖÜäöüßÀÉÈÊ"
	want.UpdatedBy = "ADMINUSERID"
	secret := newSecret(t)
	create(t, db, want, secret)

	want.Hashed = true
	checkKey(t, lookup(t, db, secret), want)
}

func testListOrderNoSecrets(t *testing.T, db Database) {
	secrets := map[string]string{}
	for _, user := range []string{"bob", "alice", "Carol"} {
		secrets[user] = newSecret(t)
		create(t, db, validKey(user), secrets[user])
	}
	InsertRow(t, db.DB, Row{UserID: "dave", Scopes: "query/*", APIKey: "TestKey001", IssuedAt: "2021-12-27 00:00:00", ExpiresAt: "2099-12-31 00:00:00"})
	secrets["dave"] = "TestKey001"

	keys, err := db.Store.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	// Byte order, whatever the collation: upper case first.
	want := []struct {
		user   string
		hashed bool
	}{{"Carol", true}, {"alice", true}, {"bob", true}, {"dave", false}}
	if len(keys) != len(want) {
		t.Fatalf("List: got %d rows, want %d", len(keys), len(want))
	}
	for i, w := range want {
		if keys[i].UserID != w.user || keys[i].Hashed != w.hashed {
			t.Errorf("List[%d]: got user %q hashed=%v, want user %q hashed=%v", i, keys[i].UserID, keys[i].Hashed, w.user, w.hashed)
		}
	}

	dump := fmt.Sprintf("%#v", keys)
	for user, secret := range secrets {
		if strings.Contains(dump, secret) {
			t.Errorf("List output contains the secret of %q", user)
		}
		if strings.Contains(dump, strings.TrimPrefix(keystore.Hash(secret), keystore.HashPrefix)) {
			t.Errorf("List output contains the hash of the secret of %q", user)
		}
	}
}

func testRevoke(t *testing.T, db Database) {
	ctx := context.Background()
	secret := newSecret(t)
	key := validKey("alice")
	create(t, db, key, secret)
	revokedAt := now()

	err := db.Store.Revoke(ctx, "alice", "ADMINUSERID1", revokedAt)
	if err == nil || !strings.Contains(err.Error(), "last_updatd_by") {
		t.Errorf("Revoke with a 12-character name: got %v, want an error naming last_updatd_by", err)
	}
	if got := lookup(t, db, secret); !got.ExpiresAt.Equal(key.ExpiresAt) {
		t.Errorf("expiry after rejected Revoke: got %s, want %s", got.ExpiresAt, key.ExpiresAt)
	}

	if err := db.Store.Revoke(ctx, "alice", "REVOKER", revokedAt.Add(300*time.Millisecond)); err != nil {
		t.Fatalf("Revoke: %v", err)
	}

	want := key
	want.ExpiresAt = revokedAt
	want.UpdatedAt = revokedAt
	want.UpdatedBy = "REVOKER"
	want.Hashed = true
	got := lookup(t, db, secret)
	checkKey(t, got, want)
	if got.ValidAt(revokedAt) {
		t.Errorf("ValidAt(revocation time) of a revoked key: got true, want false")
	}

	// Revoking again with the same values still finds the row.
	if err := db.Store.Revoke(ctx, "alice", "REVOKER", revokedAt); err != nil {
		t.Errorf("second Revoke: got %v, want nil", err)
	}

	if err := db.Store.Revoke(ctx, "nobody", "REVOKER", revokedAt); !errors.Is(err, keystore.ErrNotFound) {
		t.Errorf("Revoke of an unknown user: got %v, want keystore.ErrNotFound", err)
	}

	if err := db.Store.Revoke(ctx, "alice", "REVOKER", time.Time{}); err == nil {
		t.Errorf("Revoke at the zero time: got nil, want an error")
	}
}

func testHashExisting(t *testing.T, db Database) {
	ctx := context.Background()
	InsertRow(t, db.DB, Row{UserID: "USERID", Scopes: "mutation/*, query/*", APIKey: "TestKey001", IssuedAt: "2021-12-27 00:00:00", ExpiresAt: "2022-12-31 00:00:00"})
	InsertRow(t, db.DB, Row{UserID: "other", Scopes: "query/*", APIKey: "O'Brien-key", IssuedAt: "2021-12-27 00:00:00", ExpiresAt: "2099-12-31 00:00:00"})
	secret := newSecret(t)
	create(t, db, validKey("alice"), secret)

	before := lookup(t, db, "TestKey001")
	if before.Hashed {
		t.Fatalf("row written by hand: got Hashed=true, want false")
	}

	n, err := db.Store.HashExisting(ctx)
	if err != nil {
		t.Fatalf("HashExisting: %v", err)
	}
	if n != 2 {
		t.Errorf("HashExisting: got %d rows changed, want 2", n)
	}

	for user, plaintext := range map[string]string{"USERID": "TestKey001", "other": "O'Brien-key"} {
		if got := StoredKey(t, db.DB, user); got != keystore.Hash(plaintext) {
			t.Errorf("api_key of %q after HashExisting: got %q, want its hash", user, got)
		}
	}
	if got := StoredKey(t, db.DB, "alice"); got != keystore.Hash(secret) {
		t.Errorf("api_key of hashed row after HashExisting: got %q, want it unchanged", got)
	}

	want := before
	want.Hashed = true
	checkKey(t, lookup(t, db, "TestKey001"), want)
	lookup(t, db, "O'Brien-key")
	lookup(t, db, secret)

	n, err = db.Store.HashExisting(ctx)
	if err != nil {
		t.Fatalf("second HashExisting: %v", err)
	}
	if n != 0 {
		t.Errorf("second HashExisting: got %d rows changed, want 0", n)
	}
}

func testPing(t *testing.T, db Database) {
	if err := db.Store.Ping(context.Background()); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

// testTimeRoundTripUTC writes times in another zone and with fractions of
// a second, and expects the same instants back in UTC, to the second.
func testTimeRoundTripUTC(t *testing.T, db Database) {
	zone := time.FixedZone("UTC+05:30", 5*3600+1800)
	key := validKey("alice")
	key.IssuedAt = time.Date(2024, 12, 31, 23, 59, 59, 999_000_000, zone)
	key.ExpiresAt = time.Date(2031, 7, 1, 2, 3, 4, 500_000_000, zone)
	key.CreatedAt = time.Date(2024, 1, 1, 0, 0, 0, 1, zone)
	key.UpdatedAt = time.Date(2024, 1, 1, 5, 29, 59, 0, zone)
	secret := newSecret(t)
	create(t, db, key, secret)

	want := keystore.Key{
		UserID:    key.UserID,
		Scopes:    key.Scopes,
		IssuedAt:  time.Date(2024, 12, 31, 18, 29, 59, 0, time.UTC),
		ExpiresAt: time.Date(2031, 6, 30, 20, 33, 4, 0, time.UTC),
		CreatedAt: time.Date(2023, 12, 31, 18, 30, 0, 0, time.UTC),
		UpdatedAt: time.Date(2023, 12, 31, 23, 59, 59, 0, time.UTC),
		CreatedBy: key.CreatedBy,
		UpdatedBy: key.UpdatedBy,
		Hashed:    true,
	}
	checkKey(t, lookup(t, db, secret), want)

	keys, err := db.Store.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 {
		t.Fatalf("List: got %d rows, want 1", len(keys))
	}
	checkKey(t, keys[0], want)
}

// testConcurrentLookups runs readers and a writer at the same time, for
// the race detector and for SQLite's locking.
func testConcurrentLookups(t *testing.T, db Database) {
	const (
		readers        = 8
		lookupsPerRead = 25
		written        = 10
	)

	secrets := make([]string, 5)
	for i := range secrets {
		secrets[i] = newSecret(t)
		create(t, db, validKey(fmt.Sprintf("user-%d", i)), secrets[i])
	}
	unknown := newSecret(t)

	var wg sync.WaitGroup
	errs := make(chan error, readers*lookupsPerRead+written)

	for r := 0; r < readers; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < lookupsPerRead; i++ {
				errs <- checkLookup(db.Store, secrets, unknown, r+i)
			}
		}()
	}

	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < written; i++ {
			secret, err := keystore.NewSecret()
			if err == nil {
				err = db.Store.Create(context.Background(), validKey(fmt.Sprintf("written-%d", i)), secret, false)
			}
			errs <- err
		}
	}()

	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}

	keys, err := db.Store.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != len(secrets)+written {
		t.Errorf("List after concurrent writes: got %d rows, want %d", len(keys), len(secrets)+written)
	}
}

// checkLookup looks up one of secrets, or unknown, chosen by n.
func checkLookup(store keystore.Store, secrets []string, unknown string, n int) error {
	i := n % (len(secrets) + 1)
	if i == len(secrets) {
		if _, err := store.Lookup(context.Background(), unknown); !errors.Is(err, keystore.ErrNotFound) {
			return fmt.Errorf("concurrent Lookup of an unknown key: got %v, want keystore.ErrNotFound", err)
		}
		return nil
	}

	key, err := store.Lookup(context.Background(), secrets[i])
	if err != nil {
		return fmt.Errorf("concurrent Lookup of user-%d: %w", i, err)
	}
	if want := fmt.Sprintf("user-%d", i); key.UserID != want {
		return fmt.Errorf("concurrent Lookup: got user %q, want %q", key.UserID, want)
	}

	return nil
}

// testCanceledContext checks that a canceled request fails with the
// context's error, never with ErrNotFound, which a caller might cache.
func testCanceledContext(t *testing.T, db Database) {
	secret := newSecret(t)
	create(t, db, validKey("alice"), secret)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	_, err := db.Store.Lookup(ctx, secret)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Lookup with a canceled context: got %v, want context.Canceled", err)
	}
	if errors.Is(err, keystore.ErrNotFound) {
		t.Errorf("Lookup with a canceled context: got keystore.ErrNotFound, want context.Canceled")
	}
}
