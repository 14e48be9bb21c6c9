package scope

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Problems with route items, wrapped in an *ItemError by Parse.
var (
	ErrMethodUnknown    = errors.New("unknown HTTP method")
	ErrRouteMapInvalid  = errors.New("invalid JSON route map")
	ErrRouteListInvalid = errors.New("JSON arrays are not scope items; use an object that maps methods to path lists")
)

// anyMethod is the method of a route item that allows every method.
const anyMethod = "*"

// methods are the HTTP methods that a route item may name (RFC 9110 and
// PATCH from RFC 5789), upper-case.
var methods = [...]string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"}

// canonicalMethod returns the upper-case form of a method name or "*", and
// false when the name is neither a known method nor "*".
func canonicalMethod(name string) (string, bool) {
	if name == anyMethod {
		return anyMethod, true
	}
	for _, method := range methods {
		if strings.EqualFold(name, method) {
			return method, true
		}
	}
	return "", false
}

// RouteSet is a compiled list of route items: a method (or "*") and a path
// Pattern each. A RouteSet is immutable once built, and a nil *RouteSet
// allows nothing.
type RouteSet struct {
	routes []route
}

type route struct {
	method  string // upper-case, or "*"
	pattern Pattern
	item    string // canonical form, "METHOD:/pattern"
}

// Allow reports whether a route item allows the request and returns the
// first such item in canonical order. The method is compared
// case-insensitively; path is the decoded request path. Allow does not
// allocate.
func (s *RouteSet) Allow(method, path string) (item string, ok bool) {
	if s == nil {
		return "", false
	}

	for i := range s.routes {
		r := &s.routes[i]
		if r.method != anyMethod && !strings.EqualFold(r.method, method) {
			continue
		}
		if r.pattern.Match(path) {
			return r.item, true
		}
	}
	return "", false
}

// Items returns the canonical items, "METHOD:/pattern", in match order.
func (s *RouteSet) Items() []string {
	if s == nil {
		return nil
	}

	items := make([]string, 0, len(s.routes))
	for i := range s.routes {
		items = append(items, s.routes[i].item)
	}
	return items
}

// Len returns the number of route items.
func (s *RouteSet) Len() int {
	if s == nil {
		return 0
	}
	return len(s.routes)
}

// ParseRouteMap compiles a JSON object that maps HTTP methods (or "*") to
// lists of path patterns, such as {"GET": ["api/health", "api/flows/*"]}.
// This is the form of PERMITTED_ROUTES_JSON and of the scopes column
// written by the Node.js proxy. A leading "/" on a pattern is optional.
// Any problem fails the whole text, and the error lists every problem.
func ParseRouteMap(text string) (*RouteSet, error) {
	routes, problems := parseRouteMap(text)
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}

	var builder routeBuilder
	for _, r := range routes {
		builder.add(r)
	}
	return builder.build(), nil
}

// parseRouteMap decodes a JSON method map into routes. A syntax error
// rejects the whole text. An unknown method or an invalid pattern rejects
// only its own entry, and the other entries are still returned. Duplicate
// method keys add up.
func parseRouteMap(text string) ([]route, []error) {
	decoder := json.NewDecoder(strings.NewReader(text))
	if open, err := decoder.Token(); err != nil || open != json.Delim('{') {
		return nil, []error{fmt.Errorf("%w: the text must be one JSON object", ErrRouteMapInvalid)}
	}

	var routes []route
	var problems []error
	for decoder.More() {
		key, err := decoder.Token()
		if err != nil {
			return nil, []error{fmt.Errorf("%w: %v", ErrRouteMapInvalid, err)}
		}
		var value json.RawMessage
		if err := decoder.Decode(&value); err != nil {
			return nil, []error{fmt.Errorf("%w: %v", ErrRouteMapInvalid, err)}
		}

		method, _ := key.(string)
		entryRoutes, entryProblems := parseRouteMapEntry(method, value)
		routes = append(routes, entryRoutes...)
		problems = append(problems, entryProblems...)
	}

	if err := checkObjectEnd(decoder); err != nil {
		return nil, []error{fmt.Errorf("%w: %v", ErrRouteMapInvalid, err)}
	}
	return routes, problems
}

// checkObjectEnd reads the closing brace and makes sure nothing follows.
func checkObjectEnd(decoder *json.Decoder) error {
	if _, err := decoder.Token(); err != nil {
		return err
	}
	if _, err := decoder.Token(); err != io.EOF {
		return errors.New("unexpected data after the JSON object")
	}
	return nil
}

func parseRouteMapEntry(key string, value json.RawMessage) ([]route, []error) {
	method, ok := canonicalMethod(key)
	if !ok {
		return nil, []error{fmt.Errorf("%w %q as a key (the keys are methods such as GET, or *)", ErrMethodUnknown, key)}
	}

	paths, ok := stringArray(value)
	if !ok {
		return nil, []error{fmt.Errorf("%w: the value of %q must be an array of path strings", ErrRouteMapInvalid, key)}
	}

	var routes []route
	var problems []error
	for _, path := range paths {
		r, err := newRoute(method, path)
		if err != nil {
			problems = append(problems, err)
			continue
		}
		routes = append(routes, r)
	}
	return routes, problems
}

// stringArray decodes a JSON array whose elements are all strings. Null is
// not an array, and null elements are not strings.
func stringArray(value json.RawMessage) ([]string, bool) {
	var elements []json.RawMessage
	if !bytes.HasPrefix(value, []byte("[")) || json.Unmarshal(value, &elements) != nil {
		return nil, false
	}

	paths := make([]string, 0, len(elements))
	for _, element := range elements {
		var path string
		if !bytes.HasPrefix(element, []byte(`"`)) || json.Unmarshal(element, &path) != nil {
			return nil, false
		}
		paths = append(paths, path)
	}
	return paths, true
}

// newRoute compiles one route item. The leading "/" of the pattern is
// optional, as in the Node.js proxy's stored rows ("api/flows/*").
func newRoute(method, pattern string) (route, error) {
	if pattern == "" {
		return route{}, fmt.Errorf("%w: the path is empty", ErrPatternInvalid)
	}
	if !strings.HasPrefix(pattern, "/") {
		pattern = "/" + pattern
	}

	compiled, err := CompilePattern(pattern)
	if err != nil {
		return route{}, err
	}
	return route{method: method, pattern: compiled, item: method + ":" + compiled.String()}, nil
}

// parseMethodItem parses "METHOD:pattern". It returns false when the item
// does not have that shape: letters or "*" before the first colon.
func parseMethodItem(item string) (route, bool, error) {
	name, pattern, found := strings.Cut(item, ":")
	if !found || name == "" || pattern == "" || !isMethodName(name) {
		return route{}, false, nil
	}

	method, ok := canonicalMethod(name)
	if !ok {
		return route{}, true, fmt.Errorf("%w %q", ErrMethodUnknown, name)
	}
	r, err := newRoute(method, pattern)
	return r, true, err
}

func isMethodName(name string) bool {
	if name == anyMethod {
		return true
	}
	for i := 0; i < len(name); i++ {
		if !isLetter(name[i]) {
			return false
		}
	}
	return true
}

// isPathItem reports whether an item without a method is a path: it starts
// with "/" or with "api/", the Node.js proxy's form without the slash.
func isPathItem(item string) bool {
	return strings.HasPrefix(item, "/") || strings.HasPrefix(item, "api/")
}

// routeBuilder collects routes, drops duplicates and the routes that a "*"
// route with the same pattern already covers, and sorts them.
type routeBuilder struct {
	seen map[string]route // by canonical item
}

func (b *routeBuilder) add(r route) {
	if b.seen == nil {
		b.seen = make(map[string]route)
	}
	b.seen[r.item] = r
}

// build returns the routes sorted by pattern text, "*" before the methods
// of the same pattern, then methods in byte order.
func (b *routeBuilder) build() *RouteSet {
	set := &RouteSet{}
	for _, r := range b.seen {
		if r.method != anyMethod {
			if _, covered := b.seen[anyMethod+":"+r.pattern.String()]; covered {
				continue
			}
		}
		set.routes = append(set.routes, r)
	}

	slices.SortFunc(set.routes, func(a, b route) int {
		if c := strings.Compare(a.pattern.String(), b.pattern.String()); c != 0 {
			return c
		}
		return strings.Compare(a.method, b.method)
	})
	return set
}
