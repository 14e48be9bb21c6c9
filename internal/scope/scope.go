// Package scope parses the scopes text of an API key into a compiled,
// immutable Grant: GraphQL items for Prefect 1, route items and roles for
// the REST API of Prefect 2 and 3, and admin items for the proxy's own
// endpoints. A key may carry items of every kind, and each mode reads its
// own kinds and ignores the others.
//
// The scopes text is a comma-separated list of items. Whitespace around an
// item is ignored and empty items are skipped. Commas inside a JSON object
// do not split it. The items are:
//
//	query/<field>         one root field of the query type
//	mutation/<field>      one root field of the mutation type
//	subscription/<field>  one root field of the subscription type
//	query/*               every root field of that operation type (also for mutation and subscription)
//	admin/*               every admin area of the proxy
//	admin/logs            the log level endpoint
//	admin/cache           the key cache endpoints
//	role/<name>           a built-in REST role: viewer, runner, worker, developer or owner
//	METHOD:/glob          one HTTP method on the paths that the glob matches, e.g. POST:/api/deployments/*/create_flow_run
//	*:/glob               every method on those paths
//	/glob                 the same as *:/glob; "api/..." without the leading slash also works
//	{"GET": ["api/flows/*"], "*": [...]}
//	                      a JSON object that maps methods (or "*") to lists of globs,
//	                      the form the Node.js proxy stores; a leading slash is optional
//
// A scopes column that holds only a JSON object is one item, so the Node.js
// proxy's rows parse unchanged, and a JSON object may also stand among other
// items ("role/viewer, {"POST": ["api/flows/filter"]}"). A JSON array is
// not an item.
//
// The keywords before the slash (query, mutation, subscription, admin,
// role), admin area names, role names and HTTP methods are matched
// case-insensitively, because they are a fixed vocabulary that people type
// by hand. Field names follow the GraphQL Name syntax and are
// case-sensitive, as in GraphQL itself.
//
// Globs (see Pattern) are full request paths as the client sends them,
// API_BASE_PATH included, e.g. "/api/flows/*", compared with the decoded
// path. "*" matches any sequence of characters including "/", a glob that
// ends in "/*" also matches the bare prefix ("/api/flows/*" matches
// "/api/flows"), and "{name}" as a whole segment matches one segment. The
// glob must match the whole path; the query string is never part of it.
// API_BASE_PATH matters only for roles, whose route tables are relative
// to the API mount.
package scope

import (
	"errors"
	"slices"
	"strconv"
	"strings"
)

// Operation is a GraphQL operation type. Its values equal the operation
// keywords of the GraphQL language and the values of gqlparser's
// ast.Operation, so a conversion between the two costs nothing.
type Operation string

// The GraphQL operation types.
const (
	Query        Operation = "query"
	Mutation     Operation = "mutation"
	Subscription Operation = "subscription"
)

// Admin areas of the proxy's own endpoints, as passed to Grant.AllowAdmin.
const (
	AdminLogs  = "logs"
	AdminCache = "cache"
)

// wildcard is the field or area name that stands for every field or area.
const wildcard = "*"

// operations lists the operation types in canonical order. An operation's
// position in this array is its index in Grant's per-operation arrays.
var operations = [...]Operation{Query, Mutation, Subscription}

// adminAreas lists the admin areas that an item may name, in canonical order.
var adminAreas = [...]string{AdminCache, AdminLogs}

// Problems that Parse reports, wrapped in an *ItemError. Route items add
// ErrMethodUnknown, ErrRouteMapInvalid, ErrRouteListInvalid and
// ErrPatternInvalid.
var (
	ErrItemUnknown      = errors.New("unknown scope item")
	ErrFieldInvalid     = errors.New("invalid GraphQL field name")
	ErrAdminAreaUnknown = errors.New("unknown admin area")
	ErrRoleUnknown      = errors.New("unknown role (known: viewer, runner, worker, developer, owner)")
)

// Built-in REST roles, named after Prefect Cloud's workspace roles. Their
// route tables live in package prefect; a Grant only stores the names.
const (
	RoleViewer    = "viewer"
	RoleRunner    = "runner"
	RoleWorker    = "worker"
	RoleDeveloper = "developer"
	RoleOwner     = "owner"
)

// roleNames lists the roles in canonical order, from the least to the most
// privileged. A role's position is its bit in Grant.roles.
var roleNames = [...]string{RoleViewer, RoleRunner, RoleWorker, RoleDeveloper, RoleOwner}

// roleItems holds the "role/<name>" item of each role, so that lookups can
// return it without building it.
var roleItems = [len(roleNames)]string{"role/viewer", "role/runner", "role/worker", "role/developer", "role/owner"}

// RoleNames returns the names of the built-in roles, from the least to the
// most privileged.
func RoleNames() []string { return slices.Clone(roleNames[:]) }

// RoleItem returns the scope item of a role, such as "role/runner".
func RoleItem(name string) string {
	if index := roleIndex(name); index >= 0 {
		return roleItems[index]
	}
	return "role/" + name
}

func roleIndex(name string) int {
	for i, known := range roleNames {
		if name == known {
			return i
		}
	}
	return -1
}

// ItemError is a scope item that grants nothing, and the reason why.
type ItemError struct {
	// Item is the item as written, after trimming the whitespace around it.
	Item string
	Err  error
}

// maxQuotedItem is the length in bytes after which ItemError shortens an
// item, so that a runaway scopes text cannot flood a log line.
const maxQuotedItem = 80

// Error quotes the item (shortened to maxQuotedItem bytes) with Go escapes,
// so that control characters in a scopes text cannot forge log lines.
func (e *ItemError) Error() string {
	return "scope item " + quoteItem(e.Item) + ": " + e.Err.Error()
}

func (e *ItemError) Unwrap() error { return e.Err }

func quoteItem(item string) string {
	if len(item) <= maxQuotedItem {
		return strconv.Quote(item)
	}

	cut := maxQuotedItem
	for cut > 0 && !isRuneStart(item[cut]) {
		cut--
	}
	return strconv.Quote(item[:cut]) + "..."
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// RequiredItem returns the scope item that allows one root field, such as
// "mutation/create_flow_run", for use in denial messages.
func RequiredItem(op Operation, field string) string {
	return string(op) + "/" + field
}

// Grant is the compiled form of a key's scopes. A Grant is immutable after
// Parse returns it, so one value may be shared by any number of goroutines.
// A nil *Grant grants nothing.
type Grant struct {
	// allFields[i] is set by the item "<operations[i]>/*".
	allFields [len(operations)]bool
	// fields[i] maps a root field name of operations[i] to the item that
	// grants it, so that lookups can return the item without building it.
	fields [len(operations)]map[string]string

	allAdmin bool
	admin    map[string]string

	// roles has bit i set for roleNames[i].
	roles  uint8
	routes *RouteSet

	// items is the canonical list of items, see Grant.String.
	items []string
	text  string
}

// AllowField reports whether the grant allows the root field of the given
// operation type and returns the item that allows it. The root field
// __typename is always allowed and returns the item "". AllowField does not
// allocate.
func (g *Grant) AllowField(op Operation, field string) (item string, ok bool) {
	if field == "__typename" {
		return "", true
	}

	index := operationIndex(op)
	if g == nil || index < 0 {
		return "", false
	}

	if g.allFields[index] {
		return operationWildcards[index], true
	}
	item, ok = g.fields[index][field]
	return item, ok
}

// operationWildcards holds the "<type>/*" item of each operation, so that
// AllowField returns it without building it.
var operationWildcards = [len(operations)]string{"query/*", "mutation/*", "subscription/*"}

const adminWildcard = "admin/*"

// AllowAdmin reports whether the grant allows an admin area (AdminLogs,
// AdminCache) and returns the item that allows it. The item admin/* allows
// every area, including areas added after this grant was parsed.
// AllowAdmin does not allocate.
func (g *Grant) AllowAdmin(area string) (item string, ok bool) {
	if g == nil || area == "" {
		return "", false
	}

	if g.allAdmin {
		return adminWildcard, true
	}
	item, ok = g.admin[area]
	return item, ok
}

// AllowRoute reports whether a route item of the grant allows the request
// and returns the first such item in canonical order. The method is
// compared case-insensitively; path is the decoded request path, query
// string excluded. Roles are not considered here. AllowRoute does not
// allocate.
func (g *Grant) AllowRoute(method, path string) (item string, ok bool) {
	if g == nil {
		return "", false
	}
	return g.routes.Allow(method, path)
}

// HasRole reports whether the grant holds the role item "role/<name>".
// The name is one of the Role constants. HasRole does not allocate.
func (g *Grant) HasRole(name string) bool {
	index := roleIndex(name)
	return g != nil && index >= 0 && g.roles&(1<<index) != 0
}

// Roles returns the names of the grant's roles in canonical order.
func (g *Grant) Roles() []string {
	if g == nil {
		return nil
	}

	var names []string
	for i, name := range roleNames {
		if g.roles&(1<<i) != 0 {
			names = append(names, name)
		}
	}
	return names
}

// String returns the canonical form of the grant: its items joined with
// ", ". Operation items come first (query, mutation, subscription, each
// with the wildcard before its fields in byte order), then admin items,
// then role items from the least to the most privileged. Route items come
// last as "METHOD:/glob", sorted by glob, with "*" before the methods of
// the same glob. Duplicates and items that a wildcard already covers are
// left out. Parsing the canonical form yields an equal grant with no
// problems.
func (g *Grant) String() string {
	if g == nil {
		return ""
	}
	return g.text
}

// Items returns a copy of the canonical items, in the order of String.
func (g *Grant) Items() []string {
	if g == nil {
		return nil
	}
	return slices.Clone(g.items)
}

func operationIndex(op Operation) int {
	switch op {
	case Query:
		return 0
	case Mutation:
		return 1
	case Subscription:
		return 2
	}
	return -1
}

// canonicalize fills items and text from the parsed sets.
func (g *Grant) canonicalize() {
	for index, op := range operations {
		if g.allFields[index] {
			g.items = append(g.items, operationWildcards[index])
			continue
		}

		for _, field := range sortedKeys(g.fields[index]) {
			g.items = append(g.items, RequiredItem(op, field))
		}
	}

	if g.allAdmin {
		g.items = append(g.items, adminWildcard)
	} else {
		for _, area := range adminAreas {
			if item, ok := g.admin[area]; ok {
				g.items = append(g.items, item)
			}
		}
	}

	for i, item := range roleItems {
		if g.roles&(1<<i) != 0 {
			g.items = append(g.items, item)
		}
	}
	g.items = append(g.items, g.routes.Items()...)

	g.text = strings.Join(g.items, ", ")
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for key := range m {
		keys = append(keys, key)
	}
	slices.Sort(keys)
	return keys
}
