package keystore_test

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/keystore"
)

func TestNewSecret(t *testing.T) {
	first, err := keystore.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	second, err := keystore.NewSecret()
	if err != nil {
		t.Fatal(err)
	}

	if first == second {
		t.Errorf("two calls returned the same secret")
	}

	for _, secret := range []string{first, second} {
		if !strings.HasPrefix(secret, keystore.SecretPrefix) {
			t.Errorf("secret %s: missing prefix %q", keystore.Prefix(secret), keystore.SecretPrefix)
		}
		if len(secret) != 47 {
			t.Errorf("secret length: got %d, want 47", len(secret))
		}

		raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(secret, keystore.SecretPrefix))
		if err != nil {
			t.Errorf("secret is not base64url: %v", err)
		}
		if len(raw) != 32 {
			t.Errorf("random bytes: got %d, want 32", len(raw))
		}
	}
}

func TestPrefix(t *testing.T) {
	tests := []struct {
		secret string
		want   string
	}{
		{"pap_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde", "pap_AbCd…"},
		{"TestKey001", "Te…"},
		{"abc", "…"},
		{"", "…"},
		{"ab\ncdefghijklmnop", "ab?c…"},
		{"\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8", "??…"},
		{"ключключключключ", "ключ…"},
	}

	for _, tt := range tests {
		if got := keystore.Prefix(tt.secret); got != tt.want {
			t.Errorf("Prefix(%q): got %q, want %q", tt.secret, got, tt.want)
		}
	}
}

// FuzzPrefix checks that Prefix shows at most 8 printable characters and
// at most a quarter of the secret.
func FuzzPrefix(f *testing.F) {
	for _, seed := range []string{"", "TestKey001", "pap_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde", "\x00\x01\x02\x03", "ключ"} {
		f.Add(seed)
	}

	f.Fuzz(func(t *testing.T, secret string) {
		got := keystore.Prefix(secret)

		revealed, ok := strings.CutSuffix(got, "…")
		if !ok {
			t.Fatalf("Prefix(%q) = %q: missing the trailing ellipsis", secret, got)
		}

		n := utf8.RuneCountInString(revealed)
		if n > 8 {
			t.Errorf("Prefix(%q) = %q: shows %d characters, want at most 8", secret, got, n)
		}
		if n > utf8.RuneCountInString(secret)/4 {
			t.Errorf("Prefix(%q) = %q: shows more than a quarter of the secret", secret, got)
		}
		for _, r := range revealed {
			if !unicode.IsPrint(r) || r == utf8.RuneError {
				t.Errorf("Prefix(%q) = %q: contains %U", secret, got, r)
			}
		}
	})
}

func TestHash(t *testing.T) {
	got := keystore.Hash("TestKey001")

	if !keystore.IsHashed(got) {
		t.Errorf("IsHashed(Hash(...)): got false, want true")
	}
	if len(got) > 128 {
		t.Errorf("Hash length %d does not fit the api_key column (varchar(128))", len(got))
	}
	if keystore.IsHashed("TestKey001") {
		t.Errorf("IsHashed(plaintext): got true, want false")
	}
	if keystore.IsHashed(keystore.HashPrefix + "abc") {
		t.Errorf("IsHashed(short digest): got true, want false")
	}
}

func TestOptionsWithDefaults(t *testing.T) {
	got := keystore.Options{}.WithDefaults()
	want := keystore.Options{QueryTimeout: 5 * time.Second, MaxOpenConns: 10, MaxIdleConns: 5, ConnMaxLifetime: 30 * time.Minute}
	if got != want {
		t.Errorf("zero Options: got %+v, want %+v", got, want)
	}

	got = keystore.Options{MaxOpenConns: 2}.WithDefaults()
	if got.MaxIdleConns != 2 {
		t.Errorf("MaxIdleConns with MaxOpenConns 2: got %d, want 2", got.MaxIdleConns)
	}

	set := keystore.Options{QueryTimeout: time.Second, MaxOpenConns: 3, MaxIdleConns: 1, ConnMaxLifetime: time.Minute, CreateTable: true}
	if got := set.WithDefaults(); got != set {
		t.Errorf("set Options: got %+v, want them unchanged", got)
	}
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		opts keystore.Options
		want string
	}{
		{"zero", keystore.Options{}, ""},
		{"negative timeout", keystore.Options{QueryTimeout: -1}, "query timeout"},
		{"negative open", keystore.Options{MaxOpenConns: -1}, "max open connections"},
		{"negative idle", keystore.Options{MaxIdleConns: -1}, "max idle connections"},
		{"idle above open", keystore.Options{MaxOpenConns: 2, MaxIdleConns: 3}, "must not exceed"},
		{"negative lifetime", keystore.Options{ConnMaxLifetime: -1}, "lifetime"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.opts.Validate()
			if tt.want == "" {
				if err != nil {
					t.Errorf("Validate: got %v, want nil", err)
				}
				return
			}

			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate: got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
