package rest

import (
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	tests := []struct {
		method, path string
		want         string // "METHOD /template", "" for no match
		class        Class
	}{
		{"GET", "/health", "GET /health", ClassPublic},
		{"GET", "/ready", "GET /ready", ClassPublic},
		{"GET", "/health/", "", 0},
		{"POST", "/health", "", 0},
		{"GET", "/variables/name/system-health", "GET /variables/name/{name}", ClassRead},
		{"GET", "/flows/5f3a5a9c-0d40-4a0e-9c4b-3a6a4f1f1a11", "GET /flows/{id}", ClassRead},
		{"GET", "/flows/name/my-flow", "GET /flows/name/{name}", ClassRead},
		{"POST", "/flows/filter", "POST /flows/filter", ClassRead},
		{"POST", "/flows/", "POST /flows/", ClassRuntime},
		{"POST", "/flows", "POST /flows/", ClassRuntime},
		{"PATCH", "/flows/1/", "PATCH /flows/{id}", ClassDeploy},
		{"DELETE", "/flows/1", "DELETE /flows/{id}", ClassAdmin},
		{"POST", "/flow_runs/1/set_state", "POST /flow_runs/{id}/set_state", ClassRun | ClassRuntime},
		{"POST", "/task_runs/1/set_state", "POST /task_runs/{id}/set_state", ClassRun | ClassRuntime},
		{"POST", "/deployments/1/create_flow_run", "POST /deployments/{id}/create_flow_run", ClassRun},
		{"POST", "/deployments/1/create_flow_run/bulk", "POST /deployments/{id}/create_flow_run/bulk", ClassRun},
		{"POST", "/deployments/get_scheduled_flow_runs", "POST /deployments/get_scheduled_flow_runs", ClassRuntime},
		{"GET", "/deployments/name/flow/deployment", "GET /deployments/name/{flow_name}/{deployment_name}", ClassRead},
		{"GET", "/deployments/1/schedules", "GET /deployments/{id}/schedules", ClassRead},
		{"PATCH", "/deployments/1/schedules/2", "PATCH /deployments/{id}/schedules/{schedule_id}", ClassDeploy},
		{"GET", "/flow_run_states/", "GET /flow_run_states/", ClassRead},
		{"GET", "/flow_run_states", "GET /flow_run_states/", ClassRead},
		{"GET", "/task_runs/subscriptions/scheduled", "GET /task_runs/subscriptions/scheduled", ClassRuntime},
		{"GET", "/work_pools/default/workers/connect", "GET /work_pools/{work_pool_name}/workers/connect", ClassRuntime},
		{"POST", "/work_pools/default/get_scheduled_flow_runs", "POST /work_pools/{name}/get_scheduled_flow_runs", ClassRuntime},
		{"POST", "/work_pools/default/queues", "POST /work_pools/{work_pool_name}/queues", ClassDeploy},
		{"POST", "/work_pools/default/queues/filter", "POST /work_pools/{work_pool_name}/queues/filter", ClassRead},
		{"POST", "/work_queues/1/get_runs", "POST /work_queues/{id}/get_runs", ClassRuntime},
		{"POST", "/events", "POST /events", ClassRuntime},
		{"GET", "/events/in", "GET /events/in", ClassRuntime},
		{"GET", "/events/out", "GET /events/out", ClassRead},
		{"GET", "/logs/out", "GET /logs/out", ClassRead},
		{"POST", "/v2/concurrency_limits/leases/1/renew", "POST /v2/concurrency_limits/leases/{lease_id}/renew", ClassRuntime},
		{"GET", "/block_types/slug/s/block_documents/name/n", "GET /block_types/slug/{slug}/block_documents/name/{block_document_name}", ClassRead},
		{"POST", "/automations/", "POST /automations/", ClassAdmin},
		{"DELETE", "/automations/owned-by/prefect.deployment.1", "DELETE /automations/owned-by/{resource_id}", ClassAdmin},
		{"GET", "/static/prefect-logo-mark-gradient.png", "GET /static/*", ClassRead},
		{"GET", "/ui/task_runs/1", "GET /ui/task_runs/{id}", ClassRead},
		{"POST", "/admin/database/clear", "POST /admin/database/clear", ClassAdmin},

		{"GET", "", "", 0},
		{"GET", "/", "", 0},
		{"GET", "/flows", "", 0},
		{"GET", "/flows/1/2", "", 0},
		{"get", "/flows/1", "", 0},
		{"HEAD", "/flows/1", "", 0},
		{"POST", "/deployments/1/branch", "", 0},
		{"GET", "/pid", "", 0},
		{"GET", "/unknown/route", "", 0},
		{"GET", "/api/flows/1", "", 0},
	}
	for _, tc := range tests {
		route, ok := Match(tc.method, tc.path)
		got := ""
		if ok {
			got = route.String()
		}
		if got != tc.want {
			t.Errorf("Match(%q, %q) = %q, want %q", tc.method, tc.path, got, tc.want)
			continue
		}
		if ok && route.Class != tc.class {
			t.Errorf("Match(%q, %q) class = %v, want %v", tc.method, tc.path, route.Class, tc.class)
		}
	}
}

func TestMatchWebSocketRoutes(t *testing.T) {
	for _, path := range []string{"/events/in", "/events/out", "/logs/out", "/task_runs/subscriptions/scheduled", "/work_pools/p/workers/connect"} {
		route, ok := Match("GET", path)
		if !ok || !route.WebSocket {
			t.Errorf("Match(GET, %q) = (%+v, %v), want a websocket route", path, route, ok)
		}
	}

	if route, _ := Match("GET", "/flows/1"); route.WebSocket {
		t.Error("GET /flows/{id} is marked as a websocket route")
	}
}

// TestOverlappingRoutesAgree makes sure that when a concrete path matches
// two routes of one method, both give the same class and rule, so that the
// table's order never changes a decision. Prefect distinguishes such
// routes by its {id:uuid} converter.
func TestOverlappingRoutesAgree(t *testing.T) {
	routes := Routes()
	for i := range routes {
		for j := i + 1; j < len(routes); j++ {
			a, b := routes[i], routes[j]
			if a.Method != b.Method || !templatesOverlap(a.Template, b.Template) {
				continue
			}
			if a.Class != b.Class || a.Rule != b.Rule {
				t.Errorf("routes %s (%v) and %s (%v) match the same paths with different classes", a, a.Class, b, b.Class)
			}
		}
	}

	// The one known overlap resolves to the literal route, as in Prefect,
	// where "name" is not a UUID.
	if route, _ := Match("GET", "/work_queues/name/status"); route.Template != "/work_queues/name/{name}" {
		t.Errorf("Match(GET, /work_queues/name/status) = %s, want GET /work_queues/name/{name}", route)
	}
}

// templatesOverlap reports whether some path matches both templates, for
// templates whose only wildcard is a trailing "*".
func templatesOverlap(a, b string) bool {
	segmentsA := strings.Split(a, "/")
	segmentsB := strings.Split(b, "/")
	if len(segmentsA) != len(segmentsB) && !strings.HasSuffix(a, "*") && !strings.HasSuffix(b, "*") {
		return false
	}

	for i := 0; i < len(segmentsA) && i < len(segmentsB); i++ {
		x, y := segmentsA[i], segmentsB[i]
		if x == "*" || y == "*" {
			return true
		}
		xParam := strings.HasPrefix(x, "{")
		yParam := strings.HasPrefix(y, "{")
		switch {
		case xParam && yParam, xParam && y != "", yParam && x != "":
		case x != y:
			return false
		}
	}
	return len(segmentsA) == len(segmentsB)
}

// TestRouteTableCoversEveryRoute checks that every template resolves to
// itself, so that no earlier route shadows it, and that only the probes
// are public.
func TestRouteTableCoversEveryRoute(t *testing.T) {
	for _, route := range Routes() {
		path := strings.NewReplacer("{", "", "}", "", "*", "x").Replace(route.Template)
		got, ok := Match(route.Method, path)
		if !ok || got.Template != route.Template {
			t.Errorf("Match(%q, %q) = (%s, %v), want %s", route.Method, path, got, ok, route)
		}

		if route.Class == ClassPublic && route.Template != "/health" && route.Template != "/ready" {
			t.Errorf("route %s is public", route)
		}
		if route.Class == 0 {
			t.Errorf("route %s has no class", route)
		}
	}
}

func TestMatchDoesNotAllocate(t *testing.T) {
	requests := [][2]string{
		{"GET", "/flows/5f3a5a9c-0d40-4a0e-9c4b-3a6a4f1f1a11"},
		{"POST", "/flow_runs/5f3a5a9c-0d40-4a0e-9c4b-3a6a4f1f1a11/set_state"},
		{"POST", "/work_pools/default/workers/heartbeat"},
		{"POST", "/flows"},
		{"GET", "/unknown/route"},
	}

	allocs := testing.AllocsPerRun(100, func() {
		for _, request := range requests {
			Match(request[0], request[1])
		}
	})
	if allocs != 0 {
		t.Errorf("Match allocates %v times per run, want 0", allocs)
	}
}

func TestClassString(t *testing.T) {
	tests := []struct {
		class Class
		want  string
	}{
		{0, "none"},
		{ClassRead, "read"},
		{ClassRun | ClassRuntime, "run|runtime"},
		{ClassAll, "public|any|read|secret|run|runtime|deploy|admin|unknown"},
	}
	for _, tc := range tests {
		if got := tc.class.String(); got != tc.want {
			t.Errorf("Class(%d).String() = %q, want %q", tc.class, got, tc.want)
		}
	}
}

func TestCompileTableRejectsMistakes(t *testing.T) {
	tests := []struct {
		name        string
		definitions []definition
	}{
		{"duplicate", []definition{{get, "/flows/{id}", ClassRead, nil}, {get, "/flows/{id}", ClassAdmin, nil}}},
		{"invalid template", []definition{{get, "/flows//x", ClassRead, nil}}},
		{"parameter first", []definition{{get, "/{id}", ClassRead, nil}}},
		{"empty first segment", []definition{{get, "/", ClassRead, nil}}},
	}
	for _, tc := range tests {
		if _, err := compileTable(tc.definitions); err == nil {
			t.Errorf("compileTable(%s) accepted the table", tc.name)
		}
	}
}

func FuzzRouteMatch(f *testing.F) {
	seeds := [][2]string{
		{"GET", "/flows/1"},
		{"POST", "/flows"},
		{"POST", "/deployments/1/create_flow_run/bulk"},
		{"GET", "/static/a/b"},
		{"PATCH", "/work_pools/p/queues/q/"},
		{"GET", "/health/"},
	}
	for _, seed := range seeds {
		f.Add(seed[0], seed[1])
	}

	f.Fuzz(func(t *testing.T, method, path string) {
		route, ok := Match(method, path)
		if !ok {
			return
		}

		// The route must be one of the method's, and its template must
		// match the path up to a trailing slash.
		if route.Method != method {
			t.Fatalf("Match(%q, %q) = %s, another method", method, path, route)
		}
		position, _ := table.lookup(route.Method, route.Template)
		compiled := &table.routes[position]
		if !compiled.pattern.Match(path) && !compiled.slashPattern.Match(path) {
			t.Fatalf("Match(%q, %q) = %s, whose template does not match", method, path, route)
		}
		if route.Class == ClassPublic && path != route.Template {
			t.Fatalf("Match(%q, %q) = public route %s by inexact path", method, path, route)
		}
	})
}
