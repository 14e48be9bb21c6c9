package scope

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

func mustPattern(t testing.TB, text string) Pattern {
	t.Helper()

	pattern, err := CompilePattern(text)
	if err != nil {
		t.Fatal(err)
	}
	return pattern
}

func TestPatternMatch(t *testing.T) {
	tests := []struct {
		pattern string
		path    string
		want    bool
	}{
		// A trailing "/*" matches the bare prefix, the prefix with a slash,
		// and anything below it.
		{"/api/flows/*", "/api/flows", true},
		{"/api/flows/*", "/api/flows/", true},
		{"/api/flows/*", "/api/flows/x", true},
		{"/api/flows/*", "/api/flows/x/y", true},
		{"/api/flows/*", "/api/flowsx", false},
		{"/api/flows/*", "/api/flow", false},
		{"/api/flows/*", "/api", false},
		{"/api/flows/*", "/x/api/flows/y", false},
		{"/api/*", "/api", true},
		{"/api/*", "/api/deployments/1/create_flow_run", true},
		{"/api/*", "/apiary", false},
		{"/*", "/", true},
		{"/*", "/anything/at/all", true},

		// "*" inside a pattern crosses slashes.
		{"/api/deployments/*/create_flow_run", "/api/deployments/1/create_flow_run", true},
		{"/api/deployments/*/create_flow_run", "/api/deployments/a/b/create_flow_run", true},
		{"/api/deployments/*/create_flow_run", "/api/deployments//create_flow_run", true},
		{"/api/deployments/*/create_flow_run", "/api/deployments/1/create_flow_run/bulk", false},
		{"/api/*/filter", "/api/flow_runs/filter", true},
		{"/api/*/filter", "/api/work_pools/p/queues/filter", true},
		{"/api/*/filter", "/api/flow_runs/filter/next", false},
		{"/api/*s/*/x", "/api/flows/1/x", true},
		{"/api/*s/*/x", "/api/flow/1/x", false},
		{"/a*b*c", "/abc", true},
		{"/a*b*c", "/a-b-b-c", true},
		{"/a*b*c", "/a-c-b", false},
		{"/a**b", "/ab", true},
		{"/a*a", "/a", false},
		{"/a*a", "/aa", true},
		{"/ab*ba", "/aba", false},
		{"/ab*ba", "/abba", true},

		// Without "*" the whole path must be equal.
		{"/api/health", "/api/health", true},
		{"/api/health", "/api/health/", false},
		{"/api/health", "/api/variables/name/system-health", false},
		{"/api/flows/", "/api/flows/", true},
		{"/api/flows/", "/api/flows", false},
		{"/", "/", true},
		{"/", "/x", false},

		// Case-sensitive, and the dot is not special.
		{"/api/Flows/*", "/api/flows/x", false},
		{"/*.svg", "/a.svg", true},
		{"/*.svg", "/img/deep/a.svg", true},
		{"/*.svg", "/asvg", false},
		{"/*.svg", "/a.svg.png", false},

		// {name} matches exactly one non-empty segment.
		{"/api/flows/{id}", "/api/flows/1", true},
		{"/api/flows/{id}", "/api/flows/", false},
		{"/api/flows/{id}", "/api/flows/1/2", false},
		{"/api/flows/{id}", "/api/flows", false},
		{"/api/{a}/{b}/x", "/api/1/2/x", true},
		{"/api/{a}/{b}/x", "/api/1/x", false},
		{"/api/work_pools/{name}/*", "/api/work_pools/p", true},
		{"/api/work_pools/{name}/*", "/api/work_pools/p/queues/q", true},
		{"/api/work_pools/{name}/*", "/api/work_pools/", false},
		{"/api/*/{id}", "/api/flows/1", true},
		{"/api/*/{id}", "/api/flows/", false},
		{"/api/*/{id}/x", "/api/a/b/c/x", true},
		{"/api/*/{id}/*/y", "/api/a/b/c/d/y", true},
		{"/api/*/{id}/*/y", "/api/a/y", false},
		{"/{x}", "/ä", true},

		// Non-ASCII text matches itself byte for byte.
		{"/api/variables/name/größe", "/api/variables/name/größe", true},
		{"/api/variables/name/größe", "/api/variables/name/grösse", false},
	}
	for _, tc := range tests {
		pattern := mustPattern(t, tc.pattern)
		if got := pattern.Match(tc.path); got != tc.want {
			t.Errorf("%q.Match(%q) = %v, want %v", tc.pattern, tc.path, got, tc.want)
		}
	}
}

// TestPatternNodeCompatibility checks the rows that the Node.js proxy
// stored, with the leading slash that route items add when it is missing.
func TestPatternNodeCompatibility(t *testing.T) {
	set, err := ParseRouteMap(`{"GET": ["api/flows/*", "api/deployments/*", "/", "/dashboard/*", "*.svg", "*.ico"], "POST": ["api/*"]}`)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		method, path string
		want         bool
	}{
		{"GET", "/api/flows", true},
		{"GET", "/api/flows/", true},
		{"GET", "/api/flows/5f3a", true},
		{"GET", "/api/deployments/name/flow/deployment", true},
		{"GET", "/", true},
		{"GET", "/dashboard", true},
		{"GET", "/favicon.ico", true},
		{"GET", "/ico/safari-pinned-tab.svg", true},
		{"POST", "/api/flow_runs/filter", true},
		{"POST", "/api", true},
		{"GET", "/api/flow_runs/1", false},
		{"DELETE", "/api/flows/1", false},
		{"GET", "/runs", false},
	}
	for _, tc := range tests {
		if _, got := set.Allow(tc.method, tc.path); got != tc.want {
			t.Errorf("Allow(%q, %q) = %v, want %v", tc.method, tc.path, got, tc.want)
		}
	}
}

func TestCompilePatternErrors(t *testing.T) {
	tests := []string{
		"",
		"api/flows",
		"*",
		"/api//flows",
		"/api/./flows",
		"/api/../admin",
		"/api/..",
		"/api/flows?x=1",
		"/api/flows#x",
		"/api/flows%2Fx",
		"/api/a b",
		"/api/a,b",
		`/api/a"b`,
		`/api\flows`,
		"/api/[a]",
		"/api/\x00",
		"/api/\n",
		"/api/\xff",
		"/api/{id",
		"/api/id}",
		"/api/{}",
		"/api/{1d}",
		"/api/{i-d}",
		"/api/x{id}",
		"/api/{id}x",
		"/api/{id}*",
		"/api/*{id}",
		"/api/{{id}}",
	}
	for _, text := range tests {
		if _, err := CompilePattern(text); !errors.Is(err, ErrPatternInvalid) {
			t.Errorf("CompilePattern(%q) error = %v, want ErrPatternInvalid", text, err)
		}
	}
}

func TestCompilePatternCollapsesWildcards(t *testing.T) {
	pattern := mustPattern(t, "/api/***/x/**")
	if got := pattern.String(); got != "/api/*/x/*" {
		t.Errorf("String() = %q, want /api/*/x/*", got)
	}
}

func TestZeroPatternMatchesNothing(t *testing.T) {
	var pattern Pattern
	for _, path := range []string{"", "/", "/api"} {
		if pattern.Match(path) {
			t.Errorf("zero Pattern matches %q", path)
		}
	}
}

func TestPatternMatchDoesNotAllocate(t *testing.T) {
	patterns := []Pattern{
		mustPattern(t, "/api/flows/*"),
		mustPattern(t, "/api/deployments/*/create_flow_run"),
		mustPattern(t, "/api/work_pools/{name}/queues/{queue}"),
		mustPattern(t, "/api/*/{id}/*/filter"),
	}
	paths := []string{
		"/api/flows",
		"/api/deployments/5f3a5a9c-0d40-4a0e-9c4b-3a6a4f1f1a11/create_flow_run",
		"/api/work_pools/default/queues/high",
		"/api/a/b/c/d/filter",
	}

	allocs := testing.AllocsPerRun(100, func() {
		for i := range patterns {
			for _, path := range paths {
				patterns[i].Match(path)
			}
		}
	})
	if allocs != 0 {
		t.Errorf("Match allocates %v times per run, want 0", allocs)
	}
}

// referenceRegexp translates a valid pattern into a regular expression
// with the documented meaning, as an independent check of Match.
func referenceRegexp(text string) *regexp.Regexp {
	var out strings.Builder
	for i := 0; i < len(text); i++ {
		switch c := text[i]; c {
		case '*':
			out.WriteString(".*")
		case '{':
			i += strings.IndexByte(text[i:], '}')
			out.WriteString("[^/]+")
		default:
			out.WriteString(regexp.QuoteMeta(string(c)))
		}
	}

	expression := out.String()
	if bare, ok := strings.CutSuffix(expression, "/.*"); ok && bare != "" {
		expression = "(?:" + expression + "|" + bare + ")"
	}
	return regexp.MustCompile(`(?s)\A` + expression + `\z`)
}

func FuzzMatch(f *testing.F) {
	seeds := []struct{ pattern, path string }{
		{"/api/flows/*", "/api/flows"},
		{"/api/deployments/*/create_flow_run", "/api/deployments/a/b/create_flow_run"},
		{"/api/work_pools/{name}/queues/{q}", "/api/work_pools/p/queues/q"},
		{"/a*b*c", "/a-c-b"},
		{"/ab*ba", "/aba"},
		{"/api/*/{id}/*/y", "/api/a/b/c/d/y"},
		{"/*.svg", "/img/a.svg"},
		{"/{x}/*", "/ä/"},
	}
	for _, seed := range seeds {
		f.Add(seed.pattern, seed.path)
	}

	f.Fuzz(func(t *testing.T, text, path string) {
		pattern, err := CompilePattern(text)
		if err != nil {
			return
		}

		want := referenceRegexp(pattern.String()).MatchString(path)
		if got := pattern.Match(path); got != want {
			t.Fatalf("%q.Match(%q) = %v, reference %v", pattern.String(), path, got, want)
		}
	})
}

func BenchmarkPatternMatch(b *testing.B) {
	pattern := mustPattern(b, "/api/*/{id}/*/filter")
	path := "/api/work_pools/default/queues/high/filter"

	b.ReportAllocs()
	for b.Loop() {
		pattern.Match(path)
	}
}
