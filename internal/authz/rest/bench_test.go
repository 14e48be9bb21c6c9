package rest_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/authz"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/authz/rest"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/prefect"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/scope"
)

const runID = "5f3a5a9c-0d40-4a0e-9c4b-3a6a4f1f1a11"

func mustGrant(tb testing.TB, text string) *scope.Grant {
	tb.Helper()

	grant, problems := scope.Parse(text)
	if len(problems) > 0 {
		tb.Fatalf("scope.Parse(%q): %v", text, problems)
	}
	return grant
}

// hotRequests are the requests of BenchmarkAuthorizeREST and of the
// allocation test: the common allowed cases under the default mount.
func hotRequests(tb testing.TB) []struct {
	name  string
	facts rest.RequestFacts
	grant *scope.Grant
} {
	header := http.Header{"User-Agent": {"prefect/3.6.12 (API 0.8.4)"}}
	return []struct {
		name  string
		facts rest.RequestFacts
		grant *scope.Grant
	}{
		{"viewer_get", rest.RequestFacts{Method: "GET", Path: "/api/flow_runs/" + runID, Query: url.Values{}, Header: header},
			mustGrant(tb, "role/viewer")},
		{"worker_set_state", rest.RequestFacts{Method: "POST", Path: "/api/flow_runs/" + runID + "/set_state", Header: header},
			mustGrant(tb, "role/worker")},
		{"explicit_glob", rest.RequestFacts{Method: "POST", Path: "/api/deployments/" + runID + "/create_flow_run", Header: header},
			mustGrant(tb, `{"GET": ["api/flows/*", "api/deployments/*"], "POST": ["api/deployments/*/create_flow_run"]}`)},
	}
}

func TestAuthorizeDoesNotAllocate(t *testing.T) {
	roles := prefect.RoleTable()
	for _, request := range hotRequests(t) {
		result := rest.Authorize(request.facts, request.grant, roles)
		if !result.Decision.Allow {
			t.Fatalf("%s: denied: %+v", request.name, result.Decision)
		}

		allocs := testing.AllocsPerRun(100, func() {
			rest.Authorize(request.facts, request.grant, roles)
		})
		if allocs != 0 {
			t.Errorf("%s: Authorize allocates %v times per run, want 0", request.name, allocs)
		}
	}
}

func BenchmarkAuthorizeREST(b *testing.B) {
	roles := prefect.RoleTable()
	for _, request := range hotRequests(b) {
		b.Run(request.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				rest.Authorize(request.facts, request.grant, roles)
			}
		})
	}

	// The body rule parses JSON, so the pause switch is the costly case.
	b.Run("runner_pause_body", func(b *testing.B) {
		facts := rest.RequestFacts{Method: "PATCH", Path: "/api/deployments/" + runID, Body: []byte(`{"paused": true}`)}
		grant := mustGrant(b, "role/runner")

		b.ReportAllocs()
		for b.Loop() {
			rest.Authorize(facts, grant, roles)
		}
	})
}

func BenchmarkCleanPath(b *testing.B) {
	for _, raw := range []string{"/api/flow_runs/" + runID + "/set_state", "/api/variables/name/my%20var"} {
		b.Run(raw, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := rest.CleanPath(raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// fuzzGrants are the grants of FuzzAuthorize, one per built-in role plus
// route items and none.
var fuzzGrants = []string{
	"", "role/viewer", "role/runner", "role/worker", "role/developer", "role/owner",
	`query/*, {"GET": ["api/flows/*"], "*": ["api/deployments/{id}/*"]}`,
}

var fuzzMethods = []string{"GET", "POST", "PATCH", "PUT", "DELETE", "HEAD", "get"}

// FuzzAuthorize runs the server's REST steps on arbitrary requests: clean
// the path, then authorize. It checks that nothing panics, that every
// decision is consistent, and that the owner role and the viewer role
// bound what the other roles allow.
func FuzzAuthorize(f *testing.F) {
	seeds := []struct {
		grant, method             uint8
		rawPath, rawQuery, header string
		body                      string
	}{
		{1, 0, "/api/flows/1", "", "", ""},
		{2, 2, "/api/deployments/1", "", "", `{"paused": true}`},
		{3, 1, "/api/block_documents/filter", "", "", `{"include_secrets": true}`},
		{1, 0, "/api/block_documents/1", "include_secrets=true", "", ""},
		{1, 1, "/api/work_queues/1/get_runs", "", "true", ""},
		{6, 1, "/api/deployments/1/create_flow_run", "", "", ""},
		{4, 1, "/api/unknown", "", "", ""},
		{0, 0, "/api/health", "", "", ""},
		{0, 0, "/dashboard", "", "", ""},
	}
	for _, seed := range seeds {
		f.Add(seed.grant, seed.method, seed.rawPath, seed.rawQuery, seed.header, []byte(seed.body))
	}

	grants := make([]*scope.Grant, len(fuzzGrants))
	for i, text := range fuzzGrants {
		grants[i] = mustGrant(f, text)
	}
	owner, viewer := grants[5], grants[1]
	roles := prefect.RoleTable()

	f.Fuzz(func(t *testing.T, grantIndex, methodIndex uint8, rawPath, rawQuery, uiHeader string, body []byte) {
		path, err := rest.CleanPath(rawPath)
		if err != nil {
			return
		}
		query, _ := url.ParseQuery(rawQuery)
		facts := rest.RequestFacts{
			Method: fuzzMethods[int(methodIndex)%len(fuzzMethods)],
			Path:   path,
			Query:  query,
			Header: http.Header{"X-Prefect-Ui": {uiHeader}},
			Body:   body,
		}

		grant := grants[int(grantIndex)%len(grants)]
		result := rest.Authorize(facts, grant, roles)
		checkDecision(t, facts, result)

		ownerResult := rest.Authorize(facts, owner, roles)
		if !ownerResult.Decision.Allow {
			t.Fatalf("owner denied %s %q: %+v", facts.Method, facts.Path, ownerResult.Decision)
		}
		if rest.Authorize(facts, viewer, roles).Decision.Allow && !result.Decision.Allow && grant.Roles() != nil {
			t.Fatalf("viewer allowed %s %q but %q did not: %+v", facts.Method, facts.Path, grant.String(), result.Decision)
		}
	})
}

func checkDecision(t *testing.T, facts rest.RequestFacts, result rest.Result) {
	t.Helper()

	decision := result.Decision
	switch {
	case decision.Allow && decision.Reason != authz.ReasonScopeGranted && decision.Reason != authz.ReasonPublicRoute:
		t.Fatalf("allowed with reason %q", decision.Reason)
	case !decision.Allow && (decision.Message == "" || decision.Scope == ""):
		t.Fatalf("denial without message or scope: %+v", decision)
	case decision.Reason == authz.ReasonPublicRoute && !rest.IsPublicRoute(facts.Method, facts.Path, ""):
		t.Fatalf("public-route for %s %q, which IsPublicRoute refuses", facts.Method, facts.Path)
	case result.Route != "" && !strings.HasPrefix(result.Route, facts.Method+" /api/"):
		t.Fatalf("route %q for %s %q", result.Route, facts.Method, facts.Path)
	case result.Route == "" && rest.IsAPIPath(facts.Path, "") && decision.Reason != authz.ReasonRouteUnknown && decision.Allow == false:
		t.Fatalf("no route for an API denial that is not route-unknown: %+v", decision)
	}
}
