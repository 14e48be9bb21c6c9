package rest

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/authz"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/scope"
)

// testRoles is a role table for the mechanics of Authorize, independent of
// the built-in roles of package prefect.
func testRoles(t testing.TB) *RoleTable {
	t.Helper()

	roles, err := NewRoleTable(
		Role{Name: scope.RoleViewer, Classes: ClassPublic | ClassAny | ClassRead},
		Role{Name: scope.RoleRunner, Classes: ClassPublic | ClassAny | ClassRead | ClassRun},
		Role{Name: scope.RoleWorker, Classes: ClassPublic | ClassAny | ClassRead | ClassSecret | ClassRuntime,
			Routes: []string{"POST /work_pools/"}},
		Role{Name: scope.RoleOwner, Classes: ClassAll},
	)
	if err != nil {
		t.Fatal(err)
	}
	return roles
}

func mustGrant(t testing.TB, text string) *scope.Grant {
	t.Helper()

	grant, problems := scope.Parse(text)
	if len(problems) > 0 {
		t.Fatalf("scope.Parse(%q): %v", text, problems)
	}
	return grant
}

// authorizeCase is one request and the expected result.
type authorizeCase struct {
	name   string
	scopes string
	method string
	path   string
	query  string
	header http.Header
	body   string
	base   string

	allow  bool
	reason authz.Reason
	scope  string
	route  string
}

func (tc *authorizeCase) facts(t *testing.T) RequestFacts {
	t.Helper()

	query, err := url.ParseQuery(tc.query)
	if err != nil {
		t.Fatalf("%s: query %q: %v", tc.name, tc.query, err)
	}
	var body []byte
	if tc.body != "" {
		body = []byte(tc.body)
	}
	return RequestFacts{Method: tc.method, Path: tc.path, Query: query, Header: tc.header, Body: body, APIBasePath: tc.base}
}

func runAuthorizeCases(t *testing.T, roles *RoleTable, tests []authorizeCase) {
	t.Helper()

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			result := Authorize(tc.facts(t), mustGrant(t, tc.scopes), roles)
			decision := result.Decision

			if decision.Allow != tc.allow {
				t.Errorf("Allow = %v, want %v (decision %+v)", decision.Allow, tc.allow, decision)
			}
			if decision.Reason != tc.reason {
				t.Errorf("Reason = %q, want %q", decision.Reason, tc.reason)
			}
			if decision.Scope != tc.scope {
				t.Errorf("Scope = %q, want %q", decision.Scope, tc.scope)
			}
			if result.Route != tc.route {
				t.Errorf("Route = %q, want %q", result.Route, tc.route)
			}
			if !decision.Allow && decision.Message == "" {
				t.Error("denial without a message")
			}
		})
	}
}

func TestAuthorize(t *testing.T) {
	uiHeader := http.Header{"X-Prefect-Ui": {"true"}}

	runAuthorizeCases(t, testRoles(t), []authorizeCase{
		{name: "public probe without scopes", method: "GET", path: "/api/health",
			allow: true, reason: authz.ReasonPublicRoute, route: "GET /api/health"},
		{name: "ready probe", method: "GET", path: "/api/ready",
			allow: true, reason: authz.ReasonPublicRoute, route: "GET /api/ready"},
		{name: "health suffix is not public", method: "GET", path: "/api/variables/name/system-health",
			reason: authz.ReasonScopeMissing, scope: "role/viewer", route: "GET /api/variables/name/{name}"},
		{name: "health with slash is not public", method: "GET", path: "/api/health/",
			reason: authz.ReasonRouteUnknown, scope: "role/owner"},

		{name: "viewer reads", scopes: "role/viewer", method: "GET", path: "/api/flows/1",
			allow: true, reason: authz.ReasonScopeGranted, scope: "role/viewer", route: "GET /api/flows/{id}"},
		{name: "viewer cannot run", scopes: "role/viewer", method: "POST", path: "/api/deployments/1/create_flow_run",
			reason: authz.ReasonScopeMissing, scope: "role/runner", route: "POST /api/deployments/{id}/create_flow_run"},
		{name: "least role is named", scopes: "", method: "POST", path: "/api/flow_runs/1/set_state",
			reason: authz.ReasonScopeMissing, scope: "role/runner", route: "POST /api/flow_runs/{id}/set_state"},
		{name: "second role allows", scopes: "role/viewer, role/worker", method: "POST", path: "/api/flow_runs/1/set_state",
			allow: true, reason: authz.ReasonScopeGranted, scope: "role/worker", route: "POST /api/flow_runs/{id}/set_state"},
		{name: "role exception", scopes: "role/worker", method: "POST", path: "/api/work_pools/",
			allow: true, reason: authz.ReasonScopeGranted, scope: "role/worker", route: "POST /api/work_pools/"},
		{name: "trailing slash redirect", scopes: "role/worker", method: "POST", path: "/api/flows",
			allow: true, reason: authz.ReasonScopeGranted, scope: "role/worker", route: "POST /api/flows/"},

		{name: "route item", scopes: "POST:/api/deployments/*/create_flow_run", method: "POST", path: "/api/deployments/1/create_flow_run",
			allow: true, reason: authz.ReasonScopeGranted, scope: "POST:/api/deployments/*/create_flow_run", route: "POST /api/deployments/{id}/create_flow_run"},
		{name: "route item before role", scopes: "role/runner, POST:/api/deployments/{id}/create_flow_run", method: "POST", path: "/api/deployments/1/create_flow_run",
			allow: true, reason: authz.ReasonScopeGranted, scope: "POST:/api/deployments/{id}/create_flow_run", route: "POST /api/deployments/{id}/create_flow_run"},
		{name: "route item wrong method", scopes: "GET:/api/deployments/*", method: "DELETE", path: "/api/deployments/1",
			reason: authz.ReasonScopeMissing, scope: "role/owner", route: "DELETE /api/deployments/{id}"},
		{name: "json route map", scopes: `{"GET": ["api/flows/*"], "POST": ["api/*"]}`, method: "POST", path: "/api/automations/",
			allow: true, reason: authz.ReasonScopeGranted, scope: "POST:/api/*", route: "POST /api/automations/"},
		{name: "route item ignores rules", scopes: "GET:/api/block_documents/*", method: "GET", path: "/api/block_documents/1", query: "include_secrets=true",
			allow: true, reason: authz.ReasonScopeGranted, scope: "GET:/api/block_documents/*", route: "GET /api/block_documents/{id}"},

		{name: "unknown route denied to roles", scopes: "role/worker", method: "POST", path: "/api/deployments/1/branch",
			reason: authz.ReasonRouteUnknown, scope: "role/owner"},
		{name: "unknown method denied to roles", scopes: "role/viewer", method: "HEAD", path: "/api/flows/1",
			reason: authz.ReasonRouteUnknown, scope: "role/owner"},
		{name: "unknown route for owner", scopes: "role/owner", method: "POST", path: "/api/deployments/1/branch",
			allow: true, reason: authz.ReasonScopeGranted, scope: "role/owner"},
		{name: "unknown route for route item", scopes: "*:/api/deployments/*", method: "POST", path: "/api/deployments/1/branch",
			allow: true, reason: authz.ReasonScopeGranted, scope: "*:/api/deployments/*"},
		{name: "mount itself is unknown", scopes: "role/runner", method: "GET", path: "/api",
			reason: authz.ReasonRouteUnknown, scope: "role/owner"},

		{name: "secrets in query refused", scopes: "role/runner", method: "GET", path: "/api/block_documents/1", query: "include_secrets=true",
			reason: authz.ReasonSecretsRefused, scope: "role/worker", route: "GET /api/block_documents/{id}"},
		{name: "secrets in query without roles", method: "GET", path: "/api/block_documents/1", query: "include_secrets=true",
			reason: authz.ReasonScopeMissing, scope: "role/worker", route: "GET /api/block_documents/{id}"},
		{name: "secrets false in query", scopes: "role/viewer", method: "GET", path: "/api/block_documents/1", query: "include_secrets=False",
			allow: true, reason: authz.ReasonScopeGranted, scope: "role/viewer", route: "GET /api/block_documents/{id}"},
		{name: "secrets in query for worker", scopes: "role/worker", method: "GET", path: "/api/block_documents/1", query: "include_secrets=true",
			allow: true, reason: authz.ReasonScopeGranted, scope: "role/worker", route: "GET /api/block_documents/{id}"},
		{name: "secrets in body refused", scopes: "role/viewer", method: "POST", path: "/api/block_documents/filter", body: `{"include_secrets": true}`,
			reason: authz.ReasonSecretsRefused, scope: "role/worker", route: "POST /api/block_documents/filter"},
		{name: "ui header reads get_runs", scopes: "role/viewer", method: "POST", path: "/api/work_queues/1/get_runs", header: uiHeader,
			allow: true, reason: authz.ReasonScopeGranted, scope: "role/viewer", route: "POST /api/work_queues/{id}/get_runs"},
		{name: "get_runs without ui header", scopes: "role/viewer", method: "POST", path: "/api/work_queues/1/get_runs",
			reason: authz.ReasonScopeMissing, scope: "role/worker", route: "POST /api/work_queues/{id}/get_runs"},
		{name: "pause switch", scopes: "role/runner", method: "PATCH", path: "/api/deployments/1", body: `{"paused": true}`,
			allow: true, reason: authz.ReasonScopeGranted, scope: "role/runner", route: "PATCH /api/deployments/{id}"},
		{name: "deployment edit", scopes: "role/runner", method: "PATCH", path: "/api/deployments/1", body: `{"paused": true, "description": "x"}`,
			reason: authz.ReasonScopeMissing, scope: "role/owner", route: "PATCH /api/deployments/{id}"},

		{name: "other base path", scopes: "role/viewer", method: "GET", path: "/prefect/api/flows/1", base: "/prefect/api/",
			allow: true, reason: authz.ReasonScopeGranted, scope: "role/viewer", route: "GET /prefect/api/flows/{id}"},
		{name: "probe under other base path", method: "GET", path: "/prefect/api/health", base: "/prefect/api",
			allow: true, reason: authz.ReasonPublicRoute, route: "GET /prefect/api/health"},
		{name: "root base path", scopes: "role/viewer", method: "GET", path: "/flows/1", base: "/",
			allow: true, reason: authz.ReasonScopeGranted, scope: "role/viewer", route: "GET /flows/{id}"},
		{name: "base path without slash", scopes: "role/viewer", method: "GET", path: "/api/flows/1", base: "api",
			allow: true, reason: authz.ReasonScopeGranted, scope: "role/viewer", route: "GET /api/flows/{id}"},

		{name: "ui for any role", scopes: "role/viewer", method: "GET", path: "/runs/flow-run/1",
			allow: true, reason: authz.ReasonScopeGranted, scope: "role/viewer"},
		{name: "ui for route item", scopes: "GET:/runs/*", method: "GET", path: "/runs/flow-run/1",
			allow: true, reason: authz.ReasonScopeGranted, scope: "GET:/runs/*"},
		{name: "ui without role", scopes: "query/*", method: "GET", path: "/runs/flow-run/1",
			reason: authz.ReasonScopeMissing, scope: "role/viewer"},
		{name: "path next to the mount is ui", scopes: "role/viewer", method: "DELETE", path: "/apiary",
			allow: true, reason: authz.ReasonScopeGranted, scope: "role/viewer"},
	})
}

func TestAuthorizeWithoutRoleTable(t *testing.T) {
	runAuthorizeCases(t, nil, []authorizeCase{
		{name: "probe", method: "GET", path: "/api/health",
			allow: true, reason: authz.ReasonPublicRoute, route: "GET /api/health"},
		{name: "role grants nothing", scopes: "role/owner", method: "GET", path: "/api/flows/1",
			reason: authz.ReasonScopeMissing, scope: "GET:/api/flows/{id}", route: "GET /api/flows/{id}"},
		{name: "unknown route names the path", scopes: "role/owner", method: "GET", path: "/api/x",
			reason: authz.ReasonRouteUnknown, scope: "GET:/api/x"},
		{name: "route item still works", scopes: "GET:/api/flows/*", method: "GET", path: "/api/flows/1",
			allow: true, reason: authz.ReasonScopeGranted, scope: "GET:/api/flows/*", route: "GET /api/flows/{id}"},
	})
}

func TestAuthorizeNilGrant(t *testing.T) {
	req := RequestFacts{Method: "GET", Path: "/api/flows/1"}
	if result := Authorize(req, nil, testRoles(t)); result.Decision.Allow {
		t.Errorf("nil grant allowed %+v", result)
	}

	req.Path = "/api/health"
	if result := Authorize(req, nil, testRoles(t)); !result.Decision.Allow {
		t.Errorf("nil grant refused the health probe: %+v", result)
	}
}

func TestDenialMessages(t *testing.T) {
	roles := testRoles(t)
	tests := []struct {
		scopes, method, path, query string
		want                        []string
	}{
		{"role/viewer", "POST", "/api/deployments/1/create_flow_run", "",
			[]string{"POST /api/deployments/{id}/create_flow_run", `"role/runner"`}},
		{"role/viewer", "GET", "/api/block_documents/1", "include_secrets=1",
			[]string{"GET /api/block_documents/{id} with include_secrets=true", `"role/worker"`}},
		{"role/viewer", "POST", "/api/nope", "",
			[]string{`POST "/api/nope" is not a known Prefect API route`, `"role/owner"`}},
		{"", "GET", "/dashboard", "",
			[]string{`"/dashboard"`, `"role/viewer"`}},
	}
	for _, tc := range tests {
		query, _ := url.ParseQuery(tc.query)
		result := Authorize(RequestFacts{Method: tc.method, Path: tc.path, Query: query}, mustGrant(t, tc.scopes), roles)
		for _, part := range tc.want {
			if !strings.Contains(result.Decision.Message, part) {
				t.Errorf("%s %s: message %q does not contain %q", tc.method, tc.path, result.Decision.Message, part)
			}
		}
	}
}

func TestIsAPIPath(t *testing.T) {
	tests := []struct {
		path, base string
		want       bool
	}{
		{"/api", "/api", true},
		{"/api/", "/api", true},
		{"/api/flows/1", "/api", true},
		{"/api/flows/1", "", true},
		{"/api/flows/1", "/api/", true},
		{"/apiary", "/api", false},
		{"/", "/api", false},
		{"/runs/flow-run/1", "/api", false},
		{"/ui-settings", "/api", false},
		{"/prefect/api/flows", "/prefect/api", true},
		{"/api/flows", "/prefect/api", false},
		{"/anything", "/", true},
	}
	for _, tc := range tests {
		if got := IsAPIPath(tc.path, tc.base); got != tc.want {
			t.Errorf("IsAPIPath(%q, %q) = %v, want %v", tc.path, tc.base, got, tc.want)
		}
	}
}

func TestIsPublicRoute(t *testing.T) {
	tests := []struct {
		method, path, base string
		want               bool
	}{
		{"GET", "/api/health", "/api", true},
		{"GET", "/api/ready", "", true},
		{"GET", "/prefect/api/health", "/prefect/api", true},
		{"GET", "/api/health/", "/api", false},
		{"POST", "/api/health", "/api", false},
		{"HEAD", "/api/health", "/api", false},
		{"GET", "/api/variables/name/system-health", "/api", false},
		{"GET", "/api/flows/health", "/api", false},
		{"GET", "/health", "/api", false},
		{"GET", "/api/hello", "/api", false},
	}
	for _, tc := range tests {
		if got := IsPublicRoute(tc.method, tc.path, tc.base); got != tc.want {
			t.Errorf("IsPublicRoute(%q, %q, %q) = %v, want %v", tc.method, tc.path, tc.base, got, tc.want)
		}
	}
}

func TestNeedsBody(t *testing.T) {
	tests := []struct {
		method, path string
		want         bool
	}{
		{"POST", "/api/block_documents/filter", true},
		{"PATCH", "/api/deployments/1", true},
		{"PATCH", "/api/deployments/1/", true},
		{"PATCH", "/api/deployments/1/schedules/2", true},
		{"GET", "/api/block_documents/1", false},
		{"POST", "/api/work_queues/1/get_runs", false},
		{"POST", "/api/flow_runs/1/set_state", false},
		{"POST", "/api/flows/filter", false},
		{"PATCH", "/deployments/1", false},
		{"PATCH", "/api/unknown", false},
	}
	for _, tc := range tests {
		if got := NeedsBody(tc.method, tc.path, "/api"); got != tc.want {
			t.Errorf("NeedsBody(%q, %q) = %v, want %v", tc.method, tc.path, got, tc.want)
		}
	}
}

func TestNewRoleTableRejectsMistakes(t *testing.T) {
	tests := []struct {
		name  string
		roles []Role
	}{
		{"unknown name", []Role{{Name: "admin", Classes: ClassAll}}},
		{"duplicate name", []Role{{Name: scope.RoleViewer}, {Name: scope.RoleViewer}}},
		{"unknown route", []Role{{Name: scope.RoleWorker, Routes: []string{"POST /nope"}}}},
		{"route without method", []Role{{Name: scope.RoleWorker, Routes: []string{"/work_pools/"}}}},
	}
	for _, tc := range tests {
		if _, err := NewRoleTable(tc.roles...); err == nil {
			t.Errorf("NewRoleTable(%s) accepted the roles", tc.name)
		}
	}
}

func TestRoleTableLines(t *testing.T) {
	roles := testRoles(t)

	viewer, ok := roles.Lines(scope.RoleViewer, "/prefect/api")
	if !ok {
		t.Fatal("Lines(viewer) = false")
	}
	for _, want := range []string{
		"GET /prefect/api/flows/{id}",
		"GET /prefect/api/block_documents/{id} (not with include_secrets=true)",
		"POST /prefect/api/work_queues/{id}/get_runs (only with X-Prefect-Ui: true)",
		"GET /prefect/api/events/out (websocket)",
	} {
		if !containsLine(viewer, want) {
			t.Errorf("viewer lines lack %q", want)
		}
	}
	for _, unwanted := range []string{"POST /prefect/api/flows/", "DELETE /prefect/api/flows/{id}"} {
		if containsLine(viewer, unwanted) {
			t.Errorf("viewer lines contain %q", unwanted)
		}
	}

	owner, _ := roles.Lines(scope.RoleOwner, "")
	if last := owner[len(owner)-1]; !strings.HasPrefix(last, "* /api/*") {
		t.Errorf("owner's last line = %q, want the unknown routes", last)
	}
	worker, _ := roles.Lines(scope.RoleWorker, "")
	if !containsLine(worker, "POST /api/work_pools/") {
		t.Error("worker lines lack its exception POST /api/work_pools/")
	}

	if _, ok := roles.Lines(scope.RoleDeveloper, ""); ok {
		t.Error("Lines returned a role that the table does not have")
	}
	if got := roles.Roles(); len(got) != 4 || got[2].Name != scope.RoleWorker {
		t.Errorf("Roles() = %+v, want the four test roles in order", got)
	}
}

func containsLine(lines []string, want string) bool {
	for _, line := range lines {
		if line == want {
			return true
		}
	}
	return false
}

// TestAuthorizeWrite checks which allowed requests count as writes for the
// audit trail: state changes and secret reads, but not a read that a
// header rule distinguishes from a write.
func TestAuthorizeWrite(t *testing.T) {
	uiHeader := http.Header{"X-Prefect-Ui": {"true"}}
	tests := []struct {
		name   string
		method string
		path   string
		query  string
		header http.Header
		write  bool
	}{
		{name: "read", method: http.MethodGet, path: "/api/flows/1"},
		{name: "filter", method: http.MethodPost, path: "/api/flow_runs/filter"},
		{name: "probe", method: http.MethodGet, path: "/api/health"},
		{name: "version check", method: http.MethodGet, path: "/api/admin/version"},
		{name: "get_runs from the UI", method: http.MethodPost, path: "/api/work_queues/1/get_runs", header: uiHeader},
		{name: "get_runs as an agent", method: http.MethodPost, path: "/api/work_queues/1/get_runs", write: true},
		{name: "secret read", method: http.MethodGet, path: "/api/block_documents/1", query: "include_secrets=true", write: true},
		{name: "set_state", method: http.MethodPost, path: "/api/flow_runs/1/set_state", write: true},
		{name: "delete", method: http.MethodDelete, path: "/api/flows/1", write: true},
		{name: "unknown GET", method: http.MethodGet, path: "/api/not_a_route"},
		{name: "unknown POST", method: http.MethodPost, path: "/api/not_a_route", write: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			query, err := url.ParseQuery(tc.query)
			if err != nil {
				t.Fatal(err)
			}
			facts := RequestFacts{Method: tc.method, Path: tc.path, Query: query, Header: tc.header}
			result := Authorize(facts, mustGrant(t, "role/owner"), testRoles(t))

			if !result.Decision.Allow {
				t.Fatalf("denied for the owner: %+v", result.Decision)
			}
			if result.Write != tc.write {
				t.Errorf("Write = %v, want %v", result.Write, tc.write)
			}
		})
	}
}
