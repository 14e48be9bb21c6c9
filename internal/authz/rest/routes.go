package rest

import (
	"fmt"
	"strings"

	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/scope"
)

// DefaultAPIBasePath is the mount of Prefect's REST API when
// RequestFacts.APIBasePath is empty, and Prefect's own default.
const DefaultAPIBasePath = "/api"

// Route is a known Prefect REST route.
type Route struct {
	// Method is the HTTP method; websocket routes have GET.
	Method string
	// Template is the route's path relative to the API mount, with
	// Prefect's parameter names, e.g. "/deployments/{id}/create_flow_run".
	Template string
	// Class is the route's class when Rule is nil or its condition does
	// not hold.
	Class Class
	// WebSocket is set for the routes that upgrade to a websocket.
	WebSocket bool
	// Rule, when not nil, changes the class from the request's query,
	// headers or body.
	Rule *Rule
}

// String returns the method and template, e.g. "GET /flows/{id}".
func (r Route) String() string { return r.Method + " " + r.Template }

// compiledRoute is a Route with its matchers and precomputed names.
type compiledRoute struct {
	Route
	pattern scope.Pattern
	// slashPattern is the template with its trailing slash added or
	// removed. Prefect redirects such a request to the route, so it is
	// authorized as the route. Public routes and templates with "*" have
	// none.
	slashPattern scope.Pattern
	// name is "METHOD /api/template" under DefaultAPIBasePath.
	name string
}

// routeTable is the compiled routeDefinitions. index maps a method and the
// first path segment to the positions of the candidate routes, so that a
// lookup tries a few patterns and builds no string.
type routeTable struct {
	routes []compiledRoute
	index  map[string]map[string][]int
}

var table = mustCompileTable(routeDefinitions)

// mustCompileTable compiles the built-in route list. The list is constant
// data, so an error is a programming mistake that every test run reports.
func mustCompileTable(definitions []definition) *routeTable {
	compiled, err := compileTable(definitions)
	if err != nil {
		panic("rest: invalid built-in route table: " + err.Error())
	}
	return compiled
}

func compileTable(definitions []definition) (*routeTable, error) {
	t := &routeTable{index: make(map[string]map[string][]int)}
	seen := make(map[string]bool)

	for _, d := range definitions {
		r, err := compileRoute(d)
		if err != nil {
			return nil, err
		}
		if seen[r.String()] {
			return nil, fmt.Errorf("route %s is listed twice", r)
		}
		seen[r.String()] = true

		segment := firstSegment(r.Template)
		if t.index[r.Method] == nil {
			t.index[r.Method] = make(map[string][]int)
		}
		t.index[r.Method][segment] = append(t.index[r.Method][segment], len(t.routes))
		t.routes = append(t.routes, r)
	}
	return t, nil
}

func compileRoute(d definition) (compiledRoute, error) {
	r := compiledRoute{Route: Route{Method: d.method, Template: d.template, Class: d.class, Rule: d.rule}}
	if d.method == websocket {
		r.Method, r.WebSocket = get, true
	}
	r.name = r.Method + " " + DefaultAPIBasePath + r.Template

	var err error
	if r.pattern, err = scope.CompilePattern(d.template); err != nil {
		return r, fmt.Errorf("route %s: %w", r.Route, err)
	}
	if segment := firstSegment(d.template); segment == "" || strings.ContainsAny(segment, "{*") {
		return r, fmt.Errorf("route %s: the first segment must be literal", r.Route)
	}

	if d.class != ClassPublic && !strings.Contains(d.template, "*") {
		if r.slashPattern, err = scope.CompilePattern(toggleTrailingSlash(d.template)); err != nil {
			return r, fmt.Errorf("route %s: %w", r.Route, err)
		}
	}
	return r, nil
}

func toggleTrailingSlash(template string) string {
	if trimmed, ok := strings.CutSuffix(template, "/"); ok {
		return trimmed
	}
	return template + "/"
}

// firstSegment returns the first segment of a path relative to the API
// mount: "flows" for "/flows/{id}", "" for "" and "/".
func firstSegment(path string) string {
	if !strings.HasPrefix(path, "/") {
		return ""
	}
	segment, _, _ := strings.Cut(path[1:], "/")
	return segment
}

// Match resolves a request to the route that Prefect would serve it with.
// The path is relative to the API mount ("/flows/1", not "/api/flows/1")
// and decoded, as CleanPath returns it after the mount is cut off. A path
// that differs from a route only by a trailing slash matches that route,
// because Prefect redirects it there. The health and ready probes match
// only exactly. Method names are case-sensitive, as in Prefect. Match does
// not allocate.
func Match(method, apiRelativePath string) (Route, bool) {
	position, ok := table.match(method, apiRelativePath)
	if !ok {
		return Route{}, false
	}
	return table.routes[position].Route, true
}

// Routes returns every known route in table order.
func Routes() []Route {
	routes := make([]Route, 0, len(table.routes))
	for i := range table.routes {
		routes = append(routes, table.routes[i].Route)
	}
	return routes
}

func (t *routeTable) match(method, path string) (int, bool) {
	candidates := t.index[method][firstSegment(path)]

	for _, position := range candidates {
		if t.routes[position].pattern.Match(path) {
			return position, true
		}
	}
	for _, position := range candidates {
		if t.routes[position].slashPattern.Match(path) {
			return position, true
		}
	}
	return 0, false
}

// lookup returns the position of the route with this method and template.
func (t *routeTable) lookup(method, template string) (int, bool) {
	for i := range t.routes {
		if t.routes[i].Method == method && t.routes[i].Template == template {
			return i, true
		}
	}
	return 0, false
}

// nameUnder returns "METHOD <base><template>", e.g.
// "POST /api/deployments/{id}/create_flow_run". Under
// DefaultAPIBasePath it does not allocate.
func (r *compiledRoute) nameUnder(base string) string {
	if base == DefaultAPIBasePath {
		return r.name
	}
	return r.Method + " " + joinBase(base, r.Template)
}

// joinBase returns the full path of a path relative to the API mount.
func joinBase(base, relative string) string {
	if base == "/" {
		return relative
	}
	return base + relative
}
