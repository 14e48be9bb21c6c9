package rest

import (
	"errors"
	"slices"
	"testing"

	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/scope"
)

func TestPublicRoutesMatch(t *testing.T) {
	routes, err := ParsePublicRoutes(
		`{"GET": ["/", "/dashboard", "/dashboard/*", "/assets/*", "/docs", "/openapi.json", "/ui-settings", "*.svg", "*.ico", "*.png"], "POST": [], "DELETE": []}`,
		"",
		`{"GET": ["api/flows/*"], "*": ["api/hello"]}`,
	)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		method, path string
		want         bool
	}{
		{"GET", "/", true},
		{"GET", "/dashboard", true},
		{"GET", "/dashboard/flows", true},
		{"GET", "/assets/index-1a2b.js", true},
		{"GET", "/favicon.ico", true},
		{"GET", "/ico/favicon-32x32.png", true},
		{"GET", "/ui-settings", true},
		{"get", "/ui-settings", true},
		{"GET", "/api/flows", true},
		{"GET", "/api/flows/1", true},
		{"POST", "/api/hello", true},
		{"POST", "/api/flows/filter", false},
		{"POST", "/dashboard", false},
		{"GET", "/runs/flow-run/1", false},
		{"GET", "/api/deployments/1", false},
		{"GET", "/ui-settings/x", false},
	}
	for _, tc := range tests {
		if got := routes.Match(tc.method, tc.path); got != tc.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tc.method, tc.path, got, tc.want)
		}
	}

	if !slices.Contains(routes.Items(), "GET:/api/flows/*") || !slices.Contains(routes.Items(), "*:/api/hello") {
		t.Errorf("Items() = %q, want the routes of both texts", routes.Items())
	}
}

func TestParsePublicRoutesErrors(t *testing.T) {
	tests := []struct {
		texts []string
		want  error
	}{
		{[]string{`{"GET": ["api/health"]`}, scope.ErrRouteMapInvalid},
		{[]string{`["api/health"]`}, scope.ErrRouteMapInvalid},
		{[]string{`{"GET": "api/health"}`}, scope.ErrRouteMapInvalid},
		{[]string{`{"GET": ["api/health"]}`, `{"FETCH": ["x"]}`}, scope.ErrMethodUnknown},
		{[]string{`{"GET": ["api/../admin"]}`}, scope.ErrPatternInvalid},
	}
	for _, tc := range tests {
		routes, err := ParsePublicRoutes(tc.texts...)
		if !errors.Is(err, tc.want) {
			t.Errorf("ParsePublicRoutes(%q) error = %v, want %v", tc.texts, err, tc.want)
		}
		if routes != nil {
			t.Errorf("ParsePublicRoutes(%q) returned routes with an error", tc.texts)
		}
	}
}

func TestPublicRoutesEmpty(t *testing.T) {
	routes, err := ParsePublicRoutes("", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if routes.Match("GET", "/") || routes.Items() != nil {
		t.Error("empty public routes match a request")
	}

	var none *PublicRoutes
	if none.Match("GET", "/") || none.Items() != nil {
		t.Error("nil public routes match a request")
	}
}

func TestPublicRoutesMatchDoesNotAllocate(t *testing.T) {
	routes, err := ParsePublicRoutes(`{"GET": ["/assets/*", "*.svg", "api/flows/*"]}`)
	if err != nil {
		t.Fatal(err)
	}

	allocs := testing.AllocsPerRun(100, func() {
		routes.Match("GET", "/assets/index.js")
		routes.Match("GET", "/img/a.svg")
		routes.Match("POST", "/api/flows/filter")
	})
	if allocs != 0 {
		t.Errorf("Match allocates %v times per run, want 0", allocs)
	}
}
