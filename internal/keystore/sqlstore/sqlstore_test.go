package sqlstore

import (
	"strings"
	"testing"
	"time"

	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/keystore"
)

func TestParseTime(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
	}{
		{"2021-12-27 00:00:00", time.Date(2021, 12, 27, 0, 0, 0, 0, time.UTC)},
		{"2021-12-27T13:14:15", time.Date(2021, 12, 27, 13, 14, 15, 0, time.UTC)},
		{"2021-12-27 13:14:15.25", time.Date(2021, 12, 27, 13, 14, 15, 250_000_000, time.UTC)},
		{"2021-12-27 13:14:15+02:00", time.Date(2021, 12, 27, 11, 14, 15, 0, time.UTC)},
		{"2021-12-27T13:14:15Z", time.Date(2021, 12, 27, 13, 14, 15, 0, time.UTC)},
		{"2021-12-27 13:14:15 +0100 CET", time.Date(2021, 12, 27, 12, 14, 15, 0, time.UTC)},
		{"2021-12-27 13:14", time.Date(2021, 12, 27, 13, 14, 0, 0, time.UTC)},
		{"2021-12-27", time.Date(2021, 12, 27, 0, 0, 0, 0, time.UTC)},
	}

	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseTime(tt.in)
			if err != nil {
				t.Fatalf("parseTime(%q): %v", tt.in, err)
			}
			if !got.Equal(tt.want) {
				t.Errorf("parseTime(%q): got %s, want %s", tt.in, got, tt.want)
			}
			if got.Location() != time.UTC {
				t.Errorf("parseTime(%q): got location %s, want UTC", tt.in, got.Location())
			}
		})
	}
}

func TestParseTimeRejects(t *testing.T) {
	for _, in := range []string{"", "yesterday", "27.12.2021", "2021-13-01 00:00:00", "2021-12-27 25:00:00"} {
		if got, err := parseTime(in); err == nil {
			t.Errorf("parseTime(%q): got %s, want an error", in, got)
		}
	}
}

func TestTimeColumnScan(t *testing.T) {
	want := time.Date(2021, 12, 27, 0, 0, 0, 0, time.UTC)
	tokyo := time.FixedZone("UTC+9", 9*3600)

	tests := []struct {
		name    string
		src     any
		wantErr bool
	}{
		{"time in UTC", want, false},
		{"time in other zone", want.In(tokyo), false},
		{"string", "2021-12-27 00:00:00", false},
		{"bytes", []byte("2021-12-27 00:00:00"), false},
		{"NULL", nil, true},
		{"integer", int64(1640563200), true},
		{"invalid string", "soon", true},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got time.Time
			err := timeColumn{"key_expr_dt", &got}.Scan(tt.src)
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), "key_expr_dt") {
					t.Errorf("Scan(%v): got %v, want an error naming the column", tt.src, err)
				}
				return
			}

			if err != nil {
				t.Fatalf("Scan(%v): %v", tt.src, err)
			}
			if !got.Equal(want) || got.Location() != time.UTC {
				t.Errorf("Scan(%v): got %s, want %s in UTC", tt.src, got, want)
			}
		})
	}
}

func TestBind(t *testing.T) {
	query := "UPDATE t SET a = ?, b = ? WHERE c = ?"

	if got := (Dialect{}).bind(query); got != query {
		t.Errorf("bind with ? placeholders: got %q, want the query unchanged", got)
	}

	want := "UPDATE t SET a = $1, b = $2 WHERE c = $3"
	if got := (Dialect{NumberedPlaceholders: true}).bind(query); got != want {
		t.Errorf("bind with numbered placeholders: got %q, want %q", got, want)
	}
}

func TestPlaintextCandidate(t *testing.T) {
	tests := []struct {
		secret string
		want   bool
	}{
		{"TestKey001", true},
		{"pap_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ", true},
		{"!#$%&'()*+,-./:;<=>?@[]^_`{|}~", true},
		{strings.Repeat("k", 128), true},
		{strings.Repeat("k", 129), false},
		{"with space", false},
		{"tab\tkey", false},
		{"ключ", false},
		{"\xff", false},
		{keystore.Hash("x"), false},
		{"sha256:short", false},
	}

	for _, tt := range tests {
		if got := plaintextCandidate(tt.secret); got != tt.want {
			t.Errorf("plaintextCandidate(%q): got %v, want %v", tt.secret, got, tt.want)
		}
	}
}

// FuzzParseTime checks that a datetime column value either parses into a
// UTC time or fails with an error, and never panics.
func FuzzParseTime(f *testing.F) {
	for _, seed := range []string{"2021-12-27 00:00:00", "2021-12-27T00:00:00Z", "2021-12-27 00:00:00.5+01:00", "", "x"} {
		f.Add(seed)
	}

	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseTime(s)
		if err == nil && got.Location() != time.UTC {
			t.Errorf("parseTime(%q): got location %s, want UTC", s, got.Location())
		}
	})
}
