// Package rest authorizes requests to the REST API of Prefect 2 and 3.
//
// A request is first cleaned (CleanPath), then resolved to a route of
// Prefect's API (Match), relative to the API mount (API_BASE_PATH,
// DefaultAPIBasePath by default). Authorize then allows it when a route
// item of the key's grant matches the full path, or when a role of the
// grant allows the route's class. Some routes have a rule that reads the
// query, a header or the JSON body to decide the class, for example a
// block document read that requests secrets. NeedsBody reports which
// requests the server must buffer for that.
//
// Paths outside the API mount are the UI: public by default (IsAPIPath
// distinguishes them), and open to any role or matching route item when the
// server requires a key there. The probes GET <mount>/health and GET
// <mount>/ready are public by exact match. PublicRoutes adds the routes of
// PERMITTED_ROUTES_JSON. CORS preflights are the server's business.
package rest

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/authz"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/scope"
)

// RequestFacts are the parts of a request that Authorize reads.
type RequestFacts struct {
	Method string
	// Path is the decoded, checked path that CleanPath returned, with the
	// API mount, e.g. "/api/flows/1".
	Path string
	// Query is the parsed query string (r.URL.Query()).
	Query url.Values
	// Header holds the request headers; only X-Prefect-Ui is read.
	Header http.Header
	// Body is the whole request body for the requests where NeedsBody is
	// true, and nil for the others. Rules treat an unreadable body as the
	// stricter case.
	Body []byte
	// APIBasePath is the API mount, e.g. "/api" or "/prefect/api".
	// Empty means DefaultAPIBasePath.
	APIBasePath string
}

// Result is the outcome of Authorize.
type Result struct {
	Decision authz.Decision
	// Route is the matched route for the audit trail, as
	// "METHOD <mount><template>", e.g.
	// "POST /api/deployments/{id}/create_flow_run". It is empty for
	// UI paths and for unknown routes under the mount.
	Route string
	// Write is true for a request that the audit trail records when it is
	// allowed: a known route whose class for this request includes none of
	// read, any and public, or a method other than GET and HEAD on an
	// unknown route. Reads of secret values (ClassSecret) count, so that
	// they are audited too.
	Write bool
}

// Authorize decides a REST request for a key's grant and the role table.
// The request is allowed when a route item of the grant matches its
// method and full path, or when a role of the grant allows its route (see
// Role). Route items allow by path alone, without the rules of the route
// table, as they did in the Node.js proxy. The denial's Scope names the
// first role of the table that would allow the request, or, when none
// would, the route item "METHOD:/<mount><template>". A nil grant or table
// allows only the public probes.
func Authorize(req RequestFacts, grant *scope.Grant, roles *RoleTable) Result {
	base := normalizeBase(req.APIBasePath)
	relative, isAPI := relativePath(req.Path, base)
	if !isAPI {
		return Result{Decision: authorizeUI(&req, grant, roles)}
	}

	position, known := table.match(req.Method, relative)
	if !known {
		write := req.Method != http.MethodGet && req.Method != http.MethodHead
		return Result{Decision: authorizeUnknown(&req, grant, roles), Write: write}
	}

	route := &table.routes[position]
	class, ruleHolds := route.classFor(&req)
	// A class with a read bit is a read even when it has a write bit too:
	// POST /work_queues/{id}/get_runs with X-Prefect-Ui: true is
	// read|runtime and changes nothing.
	result := Result{Route: route.nameUnder(base), Write: class&(ClassRead|ClassAny|ClassPublic) == 0}
	if route.Class == ClassPublic {
		result.Decision = authz.Allowed(authz.ReasonPublicRoute, "")
		return result
	}

	if item, ok := grant.AllowRoute(req.Method, req.Path); ok {
		result.Decision = authz.Allowed(authz.ReasonScopeGranted, item)
		return result
	}

	if role := roles.firstHeld(grant, position, class); role != nil {
		result.Decision = authz.Allowed(authz.ReasonScopeGranted, role.item)
		return result
	}

	result.Decision = denyRoute(&req, grant, roles, position, class, ruleHolds, base)
	return result
}

// denyRoute builds the denial for a known route that neither a route item
// nor a held role allows.
func denyRoute(req *RequestFacts, grant *scope.Grant, roles *RoleTable, position int, class Class, ruleHolds bool, base string) authz.Decision {
	route := &table.routes[position]
	missing := requiredScope(roles, position, class, route.Method+":"+joinBase(base, route.Template))

	subject := route.nameUnder(base)
	reason := authz.ReasonScopeMissing
	if ruleHolds {
		subject += " with " + route.Rule.Condition
		// The key may use the route, only not this way: name the rule's
		// reason, such as secrets-refused.
		if route.Rule.Reason != "" && roles.firstHeld(grant, position, route.Class) != nil {
			reason = route.Rule.Reason
		}
	}

	message := fmt.Sprintf("%s requires %q, which the API key does not have", subject, missing)
	return authz.Denied(reason, missing, message)
}

// authorizeUnknown decides a request under the API mount that matches no
// known route: route items may allow it, and among the roles only those
// with ClassUnknown.
func authorizeUnknown(req *RequestFacts, grant *scope.Grant, roles *RoleTable) authz.Decision {
	if item, ok := grant.AllowRoute(req.Method, req.Path); ok {
		return authz.Allowed(authz.ReasonScopeGranted, item)
	}
	if role := roles.firstHeld(grant, -1, ClassUnknown); role != nil {
		return authz.Allowed(authz.ReasonScopeGranted, role.item)
	}

	missing := requiredScope(roles, -1, ClassUnknown, req.Method+":"+req.Path)
	message := fmt.Sprintf("%s %q is not a known Prefect API route, so it requires %q or a route scope that matches it",
		req.Method, req.Path, missing)
	return authz.Denied(authz.ReasonRouteUnknown, missing, message)
}

// authorizeUI decides a request outside the API mount, for servers that
// require a key for the UI: any role or a matching route item allows it.
func authorizeUI(req *RequestFacts, grant *scope.Grant, roles *RoleTable) authz.Decision {
	if item, ok := grant.AllowRoute(req.Method, req.Path); ok {
		return authz.Allowed(authz.ReasonScopeGranted, item)
	}
	if role := roles.firstHeldAny(grant); role != nil {
		return authz.Allowed(authz.ReasonScopeGranted, role.item)
	}

	missing := requiredScope(roles, -1, ClassAll, req.Method+":"+req.Path)
	message := fmt.Sprintf("the UI path %q requires a role such as %q or a route scope that matches it", req.Path, missing)
	return authz.Denied(authz.ReasonScopeMissing, missing, message)
}

// requiredScope returns the item of the first role that would allow the
// request, or fallback when no role would.
func requiredScope(roles *RoleTable, position int, class Class, fallback string) string {
	if role := roles.firstAllowing(position, class); role != nil {
		return role.item
	}
	return fallback
}

// IsAPIPath reports whether a clean path lies under the API mount, which is
// the mount itself or a path below it. Everything else is the UI.
func IsAPIPath(path, apiBasePath string) bool {
	_, ok := relativePath(path, normalizeBase(apiBasePath))
	return ok
}

// IsPublicRoute reports whether a request is one of the public probes,
// GET <mount>/health and GET <mount>/ready, by exact path. Prefect
// 3.2.7 to 3.6.21 let any GET whose path ended in "health" or "ready"
// through; this check does not repeat that.
func IsPublicRoute(method, path, apiBasePath string) bool {
	relative, ok := relativePath(path, normalizeBase(apiBasePath))
	if !ok {
		return false
	}
	position, ok := table.match(method, relative)
	return ok && table.routes[position].Class == ClassPublic
}

// NeedsBody reports whether Authorize reads the body of this request, so
// that the server buffers it (up to MAX_BODY_BYTES) only for the few
// routes whose rule reads it: POST <mount>/block_documents/filter and the
// PATCH routes of deployments and deployment schedules.
func NeedsBody(method, path, apiBasePath string) bool {
	relative, ok := relativePath(path, normalizeBase(apiBasePath))
	if !ok {
		return false
	}
	position, ok := table.match(method, relative)
	return ok && table.routes[position].Rule != nil && table.routes[position].Rule.NeedsBody
}

// normalizeBase returns the API mount with a leading and without a
// trailing slash, "/" for the root, and DefaultAPIBasePath for "".
func normalizeBase(base string) string {
	if base == "" {
		return DefaultAPIBasePath
	}
	if !strings.HasPrefix(base, "/") {
		base = "/" + base
	}
	if trimmed := strings.TrimRight(base, "/"); trimmed != "" {
		return trimmed
	}
	return "/"
}

// relativePath cuts the API mount off a path: "/api/flows/" becomes
// "/flows/", and "/api" becomes "". It returns false for paths outside
// the mount, such as "/apix" or "/flows".
func relativePath(path, base string) (string, bool) {
	if base == "/" {
		return path, true
	}

	rest, ok := strings.CutPrefix(path, base)
	if !ok || rest != "" && rest[0] != '/' {
		return "", false
	}
	return rest, true
}
