package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// run runs the CLI with the given arguments and environment and returns
// its exit code, standard output and standard error.
func run(t *testing.T, environ []string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Run(context.Background(), Env{Args: args, Environ: environ, Stdout: &stdout, Stderr: &stderr})
	return code, stdout.String(), stderr.String()
}

func TestVersionAndHelp(t *testing.T) {
	code, stdout, _ := run(t, nil, "version")
	if code != 0 || !strings.HasPrefix(stdout, "prefect-auth-proxy ") {
		t.Errorf("version: code %d, output %q", code, stdout)
	}

	code, stdout, _ = run(t, nil, "--help")
	if code != 0 {
		t.Errorf("--help exit code = %d, want 0", code)
	}
	for _, want := range []string{"keys create", "roles", "API_SERVICE_URL", "--api-service-url", "DB_PASSWORD", "LOG_LEVEL_OVERRIDE_DURATION"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("--help does not mention %s", want)
		}
	}
}

func TestCommandLineMistakes(t *testing.T) {
	cases := [][]string{
		{"frobnicate"},
		{"keys"},
		{"keys", "rotate"},
		{"keys", "create", "--user", "alice"},
		{"keys", "revoke"},
		{"roles", "extra"},
		{"serve", "--port", "0", "--api-service-url", "http://apollo:4200/graphql"},
	}
	for _, args := range cases {
		code, _, stderr := run(t, nil, args...)
		if code != 2 {
			t.Errorf("%v: exit code = %d, want 2 (stderr %q)", args, code, stderr)
		}
		if !strings.Contains(stderr, "prefect-auth-proxy:") {
			t.Errorf("%v: no error message on stderr", args)
		}
	}
}

func TestKeysLifecycle(t *testing.T) {
	environ := []string{"DB_DATABASE=" + filepath.Join(t.TempDir(), "keys.db")}

	code, secret, stderr := run(t, environ, "keys", "create", "--user", "alice", "--scopes", "query/*, role/viewer", "--expires", "30d")
	if code != 0 {
		t.Fatalf("keys create: code %d, stderr %q", code, stderr)
	}
	secret = strings.TrimSpace(secret)
	if !strings.HasPrefix(secret, "pap_") || len(secret) < 40 {
		t.Errorf("key = %q, want a pap_ key of at least 128 bits", secret)
	}

	code, _, _ = run(t, environ, "keys", "create", "--user", "alice", "--scopes", "query/*")
	if code != 2 {
		t.Errorf("second key for alice: code %d, want 2 without --replace", code)
	}

	code, stdout, _ := run(t, environ, "keys", "list", "--json")
	if code != 0 {
		t.Fatalf("keys list: code %d", code)
	}
	if strings.Contains(stdout, secret) || strings.Contains(stdout, "sha256:") {
		t.Error("keys list shows the key or its hash")
	}
	var listing []keyListing
	if err := json.Unmarshal([]byte(stdout), &listing); err != nil || len(listing) != 1 {
		t.Fatalf("keys list --json = %s", stdout)
	}
	if !listing[0].Valid || !listing[0].Hashed || listing[0].UserID != "alice" {
		t.Errorf("listing = %+v", listing[0])
	}

	code, _, stderr = run(t, environ, "keys", "revoke", "--user", "alice")
	if code != 0 {
		t.Fatalf("keys revoke: code %d, stderr %q", code, stderr)
	}
	_, stdout, _ = run(t, environ, "keys", "list")
	if !strings.Contains(stdout, "expired") {
		t.Errorf("revoked key is not listed as expired:\n%s", stdout)
	}

	code, _, _ = run(t, environ, "keys", "revoke", "--user", "bob")
	if code != 1 {
		t.Errorf("revoking an unknown user: code %d, want 1", code)
	}
}

func TestParseExpiry(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		input string
		want  time.Time
		fail  bool
	}{
		{input: "90d", want: now.Add(90 * 24 * time.Hour)},
		{input: "12h", want: now.Add(12 * time.Hour)},
		{input: "2027-12-31", want: time.Date(2027, 12, 31, 0, 0, 0, 0, time.UTC)},
		{input: "2027-01-02 03:04:05", want: time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC)},
		{input: "2027-01-02T03:04:05+02:00", want: time.Date(2027, 1, 2, 1, 4, 5, 0, time.UTC)},
		{input: "2020-01-01", fail: true},
		{input: "0d", fail: true},
		{input: "-5h", fail: true},
		{input: "soon", fail: true},
	}
	for _, tc := range cases {
		got, err := parseExpiry(tc.input, now)
		if tc.fail {
			if err == nil {
				t.Errorf("parseExpiry(%q) = %v, want an error", tc.input, got)
			}
			continue
		}
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("parseExpiry(%q) = %v, %v; want %v", tc.input, got, err, tc.want)
		}
	}
}

func TestNewKeyReportsEveryProblem(t *testing.T) {
	_, err := newKey("", "query/*, bogus", "never", "a-name-longer-than-eleven", time.Now())
	if err == nil {
		t.Fatal("expected an error")
	}
	for _, want := range []string{"--user is missing", "bogus", "--expires", "--created-by"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

func TestRolesListsEveryRole(t *testing.T) {
	code, stdout, _ := run(t, nil, "roles", "--api-base-path", "/prefect/api")
	if code != 0 {
		t.Fatalf("roles: code %d", code)
	}
	for _, role := range []string{"role/viewer", "role/runner", "role/worker", "role/developer", "role/owner"} {
		if !strings.Contains(stdout, role) {
			t.Errorf("roles output lacks %s", role)
		}
	}
	if !strings.Contains(stdout, "GET /prefect/api/health") {
		t.Error("roles output does not use --api-base-path")
	}
}
