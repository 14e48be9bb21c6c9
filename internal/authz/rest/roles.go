package rest

import (
	"fmt"
	"slices"
	"strings"

	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/scope"
)

// Role is a named set of route classes plus single routes beyond them.
type Role struct {
	// Name is one of the role names of package scope (scope.RoleViewer, …),
	// so that a key's "role/<name>" item can grant it.
	Name        string
	Description string
	// Classes are the route classes that the role allows.
	Classes Class
	// Routes are routes that the role allows beyond its classes, as
	// "METHOD /template" relative to the API mount, e.g.
	// "POST /work_pools/". The role allows them whatever the route's rule
	// decides.
	Routes []string
}

// RoleTable is a compiled, ordered list of roles. The order matters for
// denials: the first role that would allow a request is the one that a
// denial names, so a table lists its roles from the least to the most
// privileged. A RoleTable is immutable, and a nil *RoleTable has no roles.
type RoleTable struct {
	roles []compiledRole
}

type compiledRole struct {
	Role
	item string // "role/<name>"
	// routes[i] is set when the role allows table.routes[i] as an exception.
	routes []bool
}

// NewRoleTable checks and compiles roles: each name must be a role name of
// package scope and appear once, and each exception must name a route of
// the table.
func NewRoleTable(roles ...Role) (*RoleTable, error) {
	t := &RoleTable{}
	for _, role := range roles {
		compiled, err := compileRole(role)
		if err != nil {
			return nil, err
		}
		if t.find(role.Name) != nil {
			return nil, fmt.Errorf("role %q is listed twice", role.Name)
		}
		t.roles = append(t.roles, compiled)
	}
	return t, nil
}

func compileRole(role Role) (compiledRole, error) {
	if !slices.Contains(scope.RoleNames(), role.Name) {
		return compiledRole{}, fmt.Errorf("role %q is not one of %s", role.Name, strings.Join(scope.RoleNames(), ", "))
	}

	compiled := compiledRole{
		Role:   role,
		item:   scope.RoleItem(role.Name),
		routes: make([]bool, len(table.routes)),
	}
	compiled.Routes = slices.Clone(role.Routes)

	for _, key := range role.Routes {
		method, template, _ := strings.Cut(key, " ")
		position, ok := table.lookup(method, template)
		if !ok {
			return compiledRole{}, fmt.Errorf("role %q: route %q is not in the route table", role.Name, key)
		}
		compiled.routes[position] = true
	}
	return compiled, nil
}

// Roles returns the roles in table order.
func (t *RoleTable) Roles() []Role {
	if t == nil {
		return nil
	}

	roles := make([]Role, 0, len(t.roles))
	for i := range t.roles {
		role := t.roles[i].Role
		role.Routes = slices.Clone(role.Routes)
		roles = append(roles, role)
	}
	return roles
}

func (t *RoleTable) find(name string) *compiledRole {
	if t == nil {
		return nil
	}
	for i := range t.roles {
		if t.roles[i].Name == name {
			return &t.roles[i]
		}
	}
	return nil
}

// allows reports whether the role allows a request of the given class to
// the route at position, or to no known route when position is negative.
func (r *compiledRole) allows(position int, class Class) bool {
	return r.Classes&class != 0 || position >= 0 && r.routes[position]
}

// firstHeld returns the first role that the grant holds and that allows
// the request, or nil.
func (t *RoleTable) firstHeld(grant *scope.Grant, position int, class Class) *compiledRole {
	if t == nil {
		return nil
	}
	for i := range t.roles {
		role := &t.roles[i]
		if grant.HasRole(role.Name) && role.allows(position, class) {
			return role
		}
	}
	return nil
}

// firstAllowing returns the first role that allows the request, held or
// not, or nil.
func (t *RoleTable) firstAllowing(position int, class Class) *compiledRole {
	if t == nil {
		return nil
	}
	for i := range t.roles {
		if t.roles[i].allows(position, class) {
			return &t.roles[i]
		}
	}
	return nil
}

// firstHeldAny returns the first role that the grant holds, or nil.
func (t *RoleTable) firstHeldAny(grant *scope.Grant) *compiledRole {
	if t == nil {
		return nil
	}
	for i := range t.roles {
		if grant.HasRole(t.roles[i].Name) {
			return &t.roles[i]
		}
	}
	return nil
}

// Lines lists what a role allows, one "METHOD /api/template" line per
// route under the given API mount (DefaultAPIBasePath when empty), in
// table order. A route whose rule decides is listed with the condition,
// e.g. "GET /api/block_documents/{id} (not with include_secrets=true)".
// Lines returns false for a name that the table does not have.
func (t *RoleTable) Lines(name, apiBasePath string) ([]string, bool) {
	role := t.find(name)
	if role == nil {
		return nil, false
	}
	base := normalizeBase(apiBasePath)

	var lines []string
	for position := range table.routes {
		r := &table.routes[position]
		if line, ok := role.line(position, r, base); ok {
			lines = append(lines, line)
		}
	}
	if role.Classes&ClassUnknown != 0 {
		lines = append(lines, "* "+joinBase(base, "/*")+" (any other method and path under the API mount)")
	}
	return lines, true
}

// line returns the role's listing line for one route, and false when the
// role does not allow the route at all.
func (r *compiledRole) line(position int, route *compiledRoute, base string) (string, bool) {
	line := route.nameUnder(base)
	if route.WebSocket {
		line += " (websocket)"
	}

	allowsDefault := r.allows(position, route.Class)
	if route.Rule == nil {
		return line, allowsDefault
	}

	allowsCondition := r.allows(position, route.Rule.Class)
	switch {
	case allowsDefault && allowsCondition:
		return line, true
	case allowsDefault:
		return line + " (not with " + route.Rule.Condition + ")", true
	case allowsCondition:
		return line + " (only with " + route.Rule.Condition + ")", true
	}
	return "", false
}
