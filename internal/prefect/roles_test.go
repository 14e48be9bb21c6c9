package prefect

import (
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/authz"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/authz/rest"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/scope"
)

var updateRoles = flag.Bool("update", false, "rewrite testdata/roles.txt")

// roleRequest is one request and the built-in roles that must allow it;
// every other role must deny it.
type roleRequest struct {
	method string
	path   string // relative to /api
	query  string
	header string // value of X-Prefect-Ui, "" for none
	body   string
	// allowed lists the roles that allow the request, space-separated.
	allowed string
	// reason is the denial reason for the other roles; empty means
	// scope-missing.
	reason authz.Reason
}

// Sets of roles for roleRequest.allowed.
const (
	everyRole       = "viewer runner worker developer owner"
	runControlRoles = "runner worker developer owner"
	runtimeRoles    = "worker developer owner"
	runOnlyRoles    = "runner developer owner"
	deployRoles     = "developer owner"
	ownerRole       = "owner"
)

// testID is a UUID for the {id} parameters of roleRequests.
const testID = "5f3a5a9c-0d40-4a0e-9c4b-3a6a4f1f1a11"

var roleRequests = []roleRequest{
	// Everyone authenticated.
	{method: "GET", path: "/health", allowed: everyRole},
	{method: "GET", path: "/ready", allowed: everyRole},
	{method: "GET", path: "/admin/version", allowed: everyRole},
	{method: "GET", path: "/csrf-token", query: "client=" + testID, allowed: everyRole},
	{method: "GET", path: "/hello", allowed: everyRole},
	{method: "GET", path: "/version", allowed: everyRole},

	// Viewer: reads, including reading POSTs and the UI's routes.
	{method: "GET", path: "/flows/" + testID, allowed: everyRole},
	{method: "POST", path: "/flows/filter", body: `{}`, allowed: everyRole},
	{method: "POST", path: "/flow_runs/filter", allowed: everyRole},
	{method: "POST", path: "/flow_runs/count", allowed: everyRole},
	{method: "POST", path: "/flow_runs/history", allowed: everyRole},
	{method: "POST", path: "/flow_runs/paginate", allowed: everyRole},
	{method: "GET", path: "/flow_runs/" + testID + "/graph-v2", allowed: everyRole},
	{method: "POST", path: "/task_runs/filter", allowed: everyRole},
	{method: "POST", path: "/deployments/paginate", allowed: everyRole},
	{method: "POST", path: "/ui/flows/next-runs", allowed: everyRole},
	{method: "POST", path: "/ui/task_runs/dashboard/counts", allowed: everyRole},
	{method: "GET", path: "/ui/task_runs/" + testID, allowed: everyRole},
	{method: "POST", path: "/ui/schemas/validate", allowed: everyRole},
	{method: "POST", path: "/templates/validate", allowed: everyRole},
	{method: "GET", path: "/admin/settings", allowed: everyRole},
	{method: "GET", path: "/admin/storage", allowed: everyRole},
	{method: "POST", path: "/events/filter", allowed: everyRole},
	{method: "GET", path: "/events/filter/next", query: "page-token=x", allowed: everyRole},
	{method: "GET", path: "/events/out", allowed: everyRole},
	{method: "GET", path: "/logs/out", allowed: everyRole},
	{method: "GET", path: "/variables/name/my_var", allowed: everyRole},
	{method: "POST", path: "/work_pools/filter", allowed: everyRole},
	{method: "GET", path: "/work_pools/default", allowed: everyRole},
	{method: "GET", path: "/collections/views/aggregate-worker-metadata", allowed: everyRole},
	{method: "GET", path: "/flow_run_states/", query: "flow_run_id=" + testID, allowed: everyRole},
	{method: "GET", path: "/flow_run_states", query: "flow_run_id=" + testID, allowed: everyRole},

	// Block documents: secrets only for worker and up.
	{method: "GET", path: "/block_documents/" + testID, allowed: everyRole},
	{method: "GET", path: "/block_documents/" + testID, query: "include_secrets=false", allowed: everyRole},
	{method: "GET", path: "/block_documents/" + testID, query: "include_secrets=true", allowed: runtimeRoles, reason: authz.ReasonSecretsRefused},
	{method: "GET", path: "/block_documents/" + testID, query: "include_secrets=True&include_secrets=false", allowed: runtimeRoles, reason: authz.ReasonSecretsRefused},
	{method: "GET", path: "/block_types/slug/aws-credentials/block_documents/name/prod", query: "include_secrets=true", allowed: runtimeRoles, reason: authz.ReasonSecretsRefused},
	{method: "GET", path: "/block_types/slug/aws-credentials/block_documents", query: "include_secrets=1", allowed: runtimeRoles, reason: authz.ReasonSecretsRefused},
	{method: "POST", path: "/block_documents/filter", body: `{"include_secrets": false, "limit": 10}`, allowed: everyRole},
	{method: "POST", path: "/block_documents/filter", allowed: everyRole},
	{method: "POST", path: "/block_documents/filter", body: `{"include_secrets": true}`, allowed: runtimeRoles, reason: authz.ReasonSecretsRefused},
	{method: "POST", path: "/block_documents/filter", body: `{"include_secrets": false, "include_secrets": true}`, allowed: runtimeRoles, reason: authz.ReasonSecretsRefused},
	{method: "POST", path: "/block_documents/filter", body: `not json`, allowed: runtimeRoles, reason: authz.ReasonSecretsRefused},

	// get_runs reads only with the UI header.
	{method: "POST", path: "/work_queues/" + testID + "/get_runs", header: "true", allowed: everyRole},
	{method: "POST", path: "/work_queues/" + testID + "/get_runs", allowed: runtimeRoles},
	{method: "POST", path: "/work_queues/" + testID + "/get_runs", header: "false", allowed: runtimeRoles},

	// Runner: run control.
	{method: "POST", path: "/deployments/" + testID + "/create_flow_run", body: `{}`, allowed: runControlRoles},
	{method: "POST", path: "/deployments/" + testID + "/create_flow_run/bulk", allowed: runOnlyRoles},
	{method: "POST", path: "/flow_runs/" + testID + "/set_state", body: `{"state": {"type": "CANCELLING"}, "force": true}`, allowed: runControlRoles},
	{method: "POST", path: "/task_runs/" + testID + "/set_state", allowed: runControlRoles},
	{method: "POST", path: "/flow_runs/" + testID + "/resume", allowed: runOnlyRoles},
	{method: "POST", path: "/flow_runs/bulk_set_state", allowed: runOnlyRoles},
	{method: "POST", path: "/deployments/" + testID + "/schedule", allowed: runOnlyRoles},
	{method: "POST", path: "/deployments/" + testID + "/pause_deployment", allowed: runOnlyRoles},
	{method: "POST", path: "/deployments/" + testID + "/resume_deployment", allowed: runOnlyRoles},
	{method: "POST", path: "/deployments/" + testID + "/set_schedule_active", allowed: runOnlyRoles},

	// The UI's pause switches are PATCHes decided by their body.
	{method: "PATCH", path: "/deployments/" + testID, body: `{"paused": true}`, allowed: runOnlyRoles},
	{method: "PATCH", path: "/deployments/" + testID, body: `{"paused": false}`, allowed: runOnlyRoles},
	{method: "PATCH", path: "/deployments/" + testID, body: `{"paused": false, "description": "x"}`, allowed: deployRoles},
	{method: "PATCH", path: "/deployments/" + testID, body: `{"paused": "false"}`, allowed: deployRoles},
	{method: "PATCH", path: "/deployments/" + testID, body: `{"job_variables": {"image": "evil"}}`, allowed: deployRoles},
	{method: "PATCH", path: "/deployments/" + testID, allowed: deployRoles},
	{method: "PATCH", path: "/deployments/" + testID + "/schedules/" + testID, body: `{"active": false}`, allowed: runOnlyRoles},
	{method: "PATCH", path: "/deployments/" + testID + "/schedules/" + testID, body: `{"schedule": {"interval": 60}}`, allowed: deployRoles},

	// Worker process.
	{method: "POST", path: "/work_pools/", body: `{"name": "default"}`, allowed: runtimeRoles},
	{method: "PATCH", path: "/work_pools/default", body: `{"base_job_template": {}}`, allowed: deployRoles},
	{method: "POST", path: "/work_pools/default/workers/heartbeat", allowed: runtimeRoles},
	{method: "GET", path: "/work_pools/default/workers/connect", allowed: runtimeRoles},
	{method: "POST", path: "/work_pools/default/get_scheduled_flow_runs", allowed: runtimeRoles},
	{method: "PATCH", path: "/flow_runs/" + testID, allowed: runtimeRoles},
	{method: "PATCH", path: "/flow_runs/" + testID + "/labels", allowed: runtimeRoles},
	{method: "POST", path: "/logs/", allowed: runtimeRoles},
	{method: "GET", path: "/events/in", allowed: runtimeRoles},
	{method: "POST", path: "/events", allowed: runtimeRoles},

	// Flow-run process and task workers, with the worker's key.
	{method: "POST", path: "/flows/", allowed: runtimeRoles},
	{method: "POST", path: "/flow_runs/", allowed: runtimeRoles},
	{method: "POST", path: "/task_runs/", allowed: runtimeRoles},
	{method: "GET", path: "/task_runs/subscriptions/scheduled", allowed: runtimeRoles},
	{method: "POST", path: "/artifacts/", allowed: runtimeRoles},
	{method: "PATCH", path: "/artifacts/" + testID, allowed: runtimeRoles},
	{method: "POST", path: "/v2/concurrency_limits/increment-with-lease", allowed: runtimeRoles},
	{method: "POST", path: "/v2/concurrency_limits/leases/" + testID + "/renew", allowed: runtimeRoles},
	{method: "POST", path: "/concurrency_limits/increment", allowed: runtimeRoles},
	{method: "POST", path: "/flow_runs/" + testID + "/input", allowed: runtimeRoles},
	{method: "DELETE", path: "/flow_runs/" + testID + "/input/key", allowed: runtimeRoles},
	{method: "POST", path: "/deployments/get_scheduled_flow_runs", allowed: runtimeRoles},
	{method: "POST", path: "/work_queues/", allowed: runtimeRoles},

	// Developer: configuration.
	{method: "POST", path: "/deployments/", allowed: deployRoles},
	{method: "PATCH", path: "/flows/" + testID, allowed: deployRoles},
	{method: "POST", path: "/deployments/" + testID + "/schedules", allowed: deployRoles},
	{method: "POST", path: "/block_types/", allowed: deployRoles},
	{method: "POST", path: "/block_schemas/", allowed: deployRoles},
	{method: "POST", path: "/block_documents/", allowed: deployRoles},
	{method: "PATCH", path: "/block_documents/" + testID, allowed: deployRoles},
	{method: "POST", path: "/variables/", allowed: deployRoles},
	{method: "PATCH", path: "/variables/name/my_var", allowed: deployRoles},
	{method: "POST", path: "/work_pools/default/queues", allowed: deployRoles},
	{method: "PATCH", path: "/work_queues/" + testID, allowed: deployRoles},
	{method: "PUT", path: "/saved_searches/", allowed: deployRoles},

	// Owner: automations, deletes, limits, administration, unknown routes.
	{method: "POST", path: "/automations/", allowed: ownerRole},
	{method: "PATCH", path: "/automations/" + testID, allowed: ownerRole},
	{method: "DELETE", path: "/automations/owned-by/prefect.deployment." + testID, allowed: ownerRole},
	{method: "DELETE", path: "/deployments/" + testID, allowed: ownerRole},
	{method: "DELETE", path: "/deployments/" + testID + "/schedules/" + testID, allowed: ownerRole},
	{method: "DELETE", path: "/flows/" + testID, allowed: ownerRole},
	{method: "POST", path: "/flow_runs/bulk_delete", allowed: ownerRole},
	{method: "DELETE", path: "/variables/name/my_var", allowed: ownerRole},
	{method: "DELETE", path: "/block_documents/" + testID, allowed: ownerRole},
	{method: "POST", path: "/concurrency_limits/", allowed: ownerRole},
	{method: "POST", path: "/v2/concurrency_limits/", allowed: ownerRole},
	{method: "PUT", path: "/admin/storage", allowed: ownerRole},
	{method: "POST", path: "/admin/database/clear", body: `{"confirm": true}`, allowed: ownerRole},
	{method: "GET", path: "/metrics", allowed: ownerRole},
	{method: "POST", path: "/deployments/" + testID + "/branch", allowed: ownerRole, reason: authz.ReasonRouteUnknown},
	{method: "HEAD", path: "/flows/" + testID, allowed: ownerRole, reason: authz.ReasonRouteUnknown},
	{method: "GET", path: "/pid", allowed: ownerRole, reason: authz.ReasonRouteUnknown},
}

func (r *roleRequest) facts(base string) rest.RequestFacts {
	query, _ := url.ParseQuery(r.query)
	header := http.Header{}
	if r.header != "" {
		header.Set("X-PREFECT-UI", r.header)
	}

	path := base + r.path
	var body []byte
	if rest.NeedsBody(r.method, path, base) {
		body = []byte(r.body)
	}
	return rest.RequestFacts{Method: r.method, Path: path, Query: query, Header: header, Body: body, APIBasePath: base}
}

func (r *roleRequest) String() string {
	text := r.method + " /api" + r.path
	if r.query != "" {
		text += "?" + r.query
	}
	if r.header != "" {
		text += " X-Prefect-Ui: " + r.header
	}
	if r.body != "" {
		text += " " + r.body
	}
	return text
}

func TestBuiltinRoles(t *testing.T) {
	roles := RoleTable()
	for _, base := range []string{"/api", "/prefect/api"} {
		for i := range roleRequests {
			request := &roleRequests[i]
			allowed := strings.Fields(request.allowed)

			for _, name := range scope.RoleNames() {
				grant, _ := scope.Parse(scope.RoleItem(name))
				decision := rest.Authorize(request.facts(base), grant, roles).Decision
				want := slices.Contains(allowed, name)

				if decision.Allow != want {
					t.Errorf("%s under %s: role %s allow = %v, want %v (%s)", request, base, name, decision.Allow, want, decision.Message)
					continue
				}
				if want {
					continue
				}

				wantReason := request.reason
				if wantReason == "" {
					wantReason = authz.ReasonScopeMissing
				}
				if decision.Reason != wantReason {
					t.Errorf("%s: role %s reason = %q, want %q", request, name, decision.Reason, wantReason)
				}
				if wantScope := scope.RoleItem(allowed[0]); decision.Scope != wantScope {
					t.Errorf("%s: role %s denial scope = %q, want %q", request, name, decision.Scope, wantScope)
				}
			}
		}
	}
}

func TestBuiltinRolesCombine(t *testing.T) {
	grant, _ := scope.Parse("role/runner, role/worker")
	roles := RoleTable()

	for _, request := range []roleRequest{
		{method: "POST", path: "/flow_runs/" + testID + "/resume"},
		{method: "POST", path: "/logs/"},
		{method: "GET", path: "/block_documents/" + testID, query: "include_secrets=true"},
	} {
		if decision := rest.Authorize(request.facts("/api"), grant, roles).Decision; !decision.Allow {
			t.Errorf("%s: runner and worker together denied: %s", &request, decision.Message)
		}
	}
}

// TestBuiltinRolesAreOrdered checks on every route of the table, with the
// variants that its rule distinguishes, that runner and worker each allow
// what viewer allows, developer what runner and worker allow, and owner
// everything.
func TestBuiltinRolesAreOrdered(t *testing.T) {
	roles := RoleTable()
	grants := map[string]*scope.Grant{}
	for _, name := range scope.RoleNames() {
		grants[name], _ = scope.Parse(scope.RoleItem(name))
	}
	allows := func(name string, facts rest.RequestFacts) bool {
		return rest.Authorize(facts, grants[name], roles).Decision.Allow
	}

	variants := []roleRequest{
		{},
		{query: "include_secrets=true"},
		{header: "true"},
		{body: `{"paused": true}`},
		{body: `{"active": true}`},
		{body: `{"include_secrets": true}`},
	}
	for _, route := range rest.Routes() {
		for _, variant := range variants {
			variant.method = route.Method
			variant.path = strings.NewReplacer("{", "", "}", "", "*", "x").Replace(route.Template)
			facts := variant.facts("/api")

			viewer, runner, worker := allows("viewer", facts), allows("runner", facts), allows("worker", facts)
			developer, owner := allows("developer", facts), allows("owner", facts)
			switch {
			case viewer && !(runner && worker):
				t.Errorf("%s: viewer allows, runner %v, worker %v", &variant, runner, worker)
			case (runner || worker) && !developer:
				t.Errorf("%s: runner %v or worker %v allow, developer does not", &variant, runner, worker)
			case !owner:
				t.Errorf("%s: owner denies", &variant)
			}
		}
	}
}

func TestBuiltinRoleNames(t *testing.T) {
	var names []string
	for _, role := range Roles() {
		names = append(names, role.Name)
		if role.Description == "" || len(role.Routes) == 0 || role.Classes == "" {
			t.Errorf("role %s has an empty description, class list or route list", role.Name)
		}
	}
	if !slices.Equal(names, scope.RoleNames()) {
		t.Errorf("Roles() names = %q, want %q", names, scope.RoleNames())
	}
}

func TestRolesUnderBasePath(t *testing.T) {
	for _, role := range RolesUnder("/prefect/api") {
		for _, line := range role.Routes {
			if _, path, _ := strings.Cut(line, " "); !strings.HasPrefix(path, "/prefect/api/") {
				t.Errorf("role %s line %q is not under /prefect/api", role.Name, line)
			}
		}
	}
}

// TestRolesListing compares the roles command's text with
// testdata/roles.txt, so that every change to a role shows in review. Run
// go test -update to rewrite it.
func TestRolesListing(t *testing.T) {
	var out strings.Builder
	for _, role := range Roles() {
		fmt.Fprintf(&out, "role/%s (classes %s)\n  %s\n", role.Name, role.Classes, role.Description)
		for _, line := range role.Routes {
			fmt.Fprintf(&out, "    %s\n", line)
		}
		out.WriteString("\n")
	}

	path := filepath.Join("testdata", "roles.txt")
	if *updateRoles {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}

	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != string(want) {
		t.Errorf("roles listing differs from %s; run go test -update and review the diff", path)
	}
}
