package rest

import (
	"errors"
	"net/url"
	"path"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/authz"
)

func TestCleanPathAccepts(t *testing.T) {
	tests := []struct {
		raw  string
		want string
	}{
		{"/", "/"},
		{"/api", "/api"},
		{"/api/flows/", "/api/flows/"},
		{"/api/flows/5f3a5a9c-0d40-4a0e-9c4b-3a6a4f1f1a11", "/api/flows/5f3a5a9c-0d40-4a0e-9c4b-3a6a4f1f1a11"},
		{"/api/variables/name/my%20var", "/api/variables/name/my var"},
		{"/api/variables/name/a%2Bb", "/api/variables/name/a+b"},
		{"/api/variables/name/a+b", "/api/variables/name/a+b"},
		{"/api/variables/name/100%25", "/api/variables/name/100%"},
		{"/api/variables/name/%3F%23", "/api/variables/name/?#"},
		{"/api/variables/name/gr%C3%B6%C3%9Fe", "/api/variables/name/größe"},
		{"/api/variables/name/größe", "/api/variables/name/größe"},
		{"/api/flows/.hidden", "/api/flows/.hidden"},
		{"/api/flows/...", "/api/flows/..."},
		{"/api/flows/a..b", "/api/flows/a..b"},
		{"/api/deployments/name/flow/dep:1;x=y", "/api/deployments/name/flow/dep:1;x=y"},
		{"/ui-settings", "/ui-settings"},
		{"/%41pi/flows", "/Api/flows"},
	}
	for _, tc := range tests {
		got, err := CleanPath(tc.raw)
		if err != nil {
			t.Errorf("CleanPath(%q) error = %v, want %q", tc.raw, err, tc.want)
			continue
		}
		if got != tc.want {
			t.Errorf("CleanPath(%q) = %q, want %q", tc.raw, got, tc.want)
		}
	}
}

func TestCleanPathRejects(t *testing.T) {
	tests := []struct {
		raw     string
		problem string
	}{
		{"", "does not start with /"},
		{"api/flows", "does not start with /"},
		{"*", "does not start with /"},
		{"/api/flows/../admin", ". or .. segment"},
		{"/api/..", ". or .. segment"},
		{"/api/./flows", ". or .. segment"},
		{"/.", ". or .. segment"},
		{"/api/%2e%2e/x", "encoded dot"},
		{"/api/%2E./x", "encoded dot"},
		{"/api/.%2e/x", "encoded dot"},
		{"/api/flows%2ejson", "encoded dot"},
		{"/api//flows", "empty segment"},
		{"//api/flows", "empty segment"},
		{"/api/flows//", "empty segment"},
		{"//", "empty segment"},
		{"/api/flows%2fx", "encoded slash"},
		{"/api/flows%2Fx", "encoded slash"},
		{"/api%2F..%2Fadmin", "encoded slash"},
		{`/api\flows`, "backslash"},
		{"/api/flows%5cx", "encoded backslash"},
		{"/api/flows%5C..%5Cadmin", "encoded backslash"},
		{"/api/flows\x00", "NUL or a control character"},
		{"/api/flows%00", "encoded NUL"},
		{"/api/flows%0a", "encoded NUL or control"},
		{"/api/flows%7F", "encoded NUL or control"},
		{"/api/flows\n", "NUL or a control character"},
		{"/api/flows\t", "NUL or a control character"},
		{"/api/flows%zz", "invalid percent-encoding"},
		{"/api/flows%4", "invalid percent-encoding"},
		{"/api/flows%", "invalid percent-encoding"},
		{"/api/flows%%41", "invalid percent-encoding"},
		{"/api/flows?x=1", "contains ?"},
		{"/api/flows#x", "contains #"},
		{"/api/flows/%ff", "not valid UTF-8"},
		{"/api/flows/\xc3", "not valid UTF-8"},
		{"/api/flows/%C3%28", "not valid UTF-8"},
	}
	for _, tc := range tests {
		got, err := CleanPath(tc.raw)
		if err == nil {
			t.Errorf("CleanPath(%q) = %q, want an error", tc.raw, got)
			continue
		}

		var pathErr *PathError
		if !errors.As(err, &pathErr) {
			t.Errorf("CleanPath(%q) error %T is not a *PathError", tc.raw, err)
			continue
		}
		if !strings.Contains(pathErr.Problem, tc.problem) {
			t.Errorf("CleanPath(%q) problem = %q, want it to mention %q", tc.raw, pathErr.Problem, tc.problem)
		}
		if decision := pathErr.Decision(); decision.Allow || decision.Reason != authz.ReasonPathInvalid {
			t.Errorf("CleanPath(%q) decision = %+v, want a path-invalid denial", tc.raw, decision)
		}
	}
}

func TestPathErrorQuotesAndShortens(t *testing.T) {
	err := &PathError{Path: "/api/\x1b[31m" + strings.Repeat("a", 300), Problem: "contains NUL or a control character"}

	message := err.Error()
	if strings.ContainsRune(message, 0x1b) {
		t.Errorf("Error() contains a raw escape character: %q", message)
	}
	if !strings.Contains(message, `\x1b`) {
		t.Errorf("Error() = %q, want the escape character quoted", message)
	}
	if len(message) > maxQuotedPath+100 {
		t.Errorf("Error() is %d bytes long, want it shortened", len(message))
	}
}

func TestCleanPathWithoutEscapesDoesNotAllocate(t *testing.T) {
	raw := "/api/deployments/5f3a5a9c-0d40-4a0e-9c4b-3a6a4f1f1a11/create_flow_run"

	allocs := testing.AllocsPerRun(100, func() {
		if _, err := CleanPath(raw); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("CleanPath allocates %v times per run, want 0", allocs)
	}
}

// checkCleanPathProperties states what an accepted path promises: the
// stdlib decodes the raw path to the same text, the path is canonical, and
// the forwarded form (url.URL{Path: p}) decodes back to p on the upstream
// and passes CleanPath unchanged.
func checkCleanPathProperties(t *testing.T, raw, cleaned string) {
	t.Helper()

	if decoded, err := url.PathUnescape(raw); err != nil || decoded != cleaned {
		t.Fatalf("CleanPath(%q) = %q, but url.PathUnescape gives (%q, %v)", raw, cleaned, decoded, err)
	}
	if !strings.HasPrefix(cleaned, "/") || !utf8.ValidString(cleaned) || strings.ContainsAny(cleaned, "\\\x00") {
		t.Fatalf("CleanPath(%q) = %q, which is not a clean path", raw, cleaned)
	}
	if want := strings.TrimSuffix(cleaned, "/"); cleaned != "/" && path.Clean(cleaned) != want {
		t.Fatalf("CleanPath(%q) = %q, but path.Clean gives %q", raw, cleaned, path.Clean(cleaned))
	}

	forwarded := (&url.URL{Path: cleaned}).EscapedPath()
	again, err := CleanPath(forwarded)
	if err != nil || again != cleaned {
		t.Fatalf("CleanPath(escape(%q)) = (%q, %v), want the same path; escaped form %q", cleaned, again, err, forwarded)
	}

	upstream, err := url.Parse((&url.URL{Scheme: "http", Host: "upstream", Path: cleaned}).String())
	if err != nil || upstream.Path != cleaned {
		t.Fatalf("the upstream reads %q as (%q, %v), want %q", forwarded, upstream.Path, err, cleaned)
	}
}

func TestCleanPathRoundTrip(t *testing.T) {
	raws := []string{
		"/",
		"/api/flows/",
		"/api/variables/name/my%20var",
		"/api/variables/name/100%25",
		"/api/variables/name/%3F%23",
		"/api/variables/name/gr%C3%B6%C3%9Fe",
		"/api/deployments/name/flow/dep:1;x=y",
		"/api/a!$&'()*+,;=:@~",
	}
	for _, raw := range raws {
		cleaned, err := CleanPath(raw)
		if err != nil {
			t.Errorf("CleanPath(%q) error = %v", raw, err)
			continue
		}
		checkCleanPathProperties(t, raw, cleaned)
	}
}

func FuzzCleanPath(f *testing.F) {
	seeds := []string{
		"/api/flows/",
		"/api/flows/../admin",
		"/api/%2e%2e/x",
		"/api//flows",
		"/api/flows%2fx",
		`/api\flows`,
		"/api/flows%00",
		"/api/flows%zz",
		"/api/./flows",
		"/api/variables/name/100%25",
		"/api/variables/name/%3F%23%20",
		"/api/variables/name/gr%C3%B6%C3%9Fe",
		"/%41pi/flows",
	}
	for _, seed := range seeds {
		f.Add(seed)
	}

	f.Fuzz(func(t *testing.T, raw string) {
		cleaned, err := CleanPath(raw)
		if err != nil {
			var pathErr *PathError
			if !errors.As(err, &pathErr) {
				t.Fatalf("CleanPath(%q) error %T is not a *PathError", raw, err)
			}
			return
		}
		checkCleanPathProperties(t, raw, cleaned)
	})
}
