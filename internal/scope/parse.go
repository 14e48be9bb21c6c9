package scope

import (
	"strings"
)

// Parse compiles a scopes text into a Grant. Items that grant nothing
// (unknown or malformed) are returned as problems, each an *ItemError, so
// that the caller can log them. The other items still take effect, and so
// do the valid entries of a JSON method map that has an invalid entry. An
// empty text yields an empty grant, and the returned grant is never nil.
func Parse(text string) (*Grant, []error) {
	grant := &Grant{}
	var routes routeBuilder
	var problems []error

	for _, raw := range splitItems(text) {
		item := strings.TrimSpace(raw)
		if item == "" {
			continue
		}

		for _, err := range grant.add(item, &routes) {
			problems = append(problems, &ItemError{Item: item, Err: err})
		}
	}

	grant.routes = routes.build()
	grant.canonicalize()
	return grant, problems
}

// splitItems splits text at the commas that stand outside brackets, braces
// and double-quoted strings, so that a JSON item of the REST mode (such as
// {"GET": ["/api/flows/*"]}) stays one item even though it contains commas.
// Unbalanced brackets leave the rest of the text in one item, which then
// fails to parse.
func splitItems(text string) []string {
	var items []string
	depth := 0
	inString := false
	escaped := false
	start := 0

	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case inString && escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case inString && c == '"':
			inString = false
		case inString:
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
		case (c == '}' || c == ']') && depth > 0:
			depth--
		case c == ',' && depth == 0:
			items = append(items, text[start:i])
			start = i + 1
		}
	}

	return append(items, text[start:])
}

// add records one trimmed, non-empty item, or returns why it grants
// nothing. Route items go to routes. A JSON method map may return several
// problems, one per invalid entry.
func (g *Grant) add(item string, routes *routeBuilder) []error {
	switch {
	case item[0] == '{':
		return addRouteMap(item, routes)
	case item[0] == '[':
		return []error{ErrRouteListInvalid}
	case isPathItem(item):
		return single(addRoute(anyMethod, item, routes))
	}

	if r, ok, err := parseMethodItem(item); ok {
		if err == nil {
			routes.add(r)
		}
		return single(err)
	}

	keyword, name, found := strings.Cut(item, "/")
	if !found {
		return []error{ErrItemUnknown}
	}

	switch keyword = strings.ToLower(keyword); keyword {
	case "admin":
		return single(g.addAdmin(name))
	case "role":
		return single(g.addRole(name))
	}

	index := operationIndex(Operation(keyword))
	if index < 0 {
		return []error{ErrItemUnknown}
	}
	return single(g.addField(index, name))
}

func single(err error) []error {
	if err == nil {
		return nil
	}
	return []error{err}
}

func addRoute(method, pattern string, routes *routeBuilder) error {
	r, err := newRoute(method, pattern)
	if err != nil {
		return err
	}
	routes.add(r)
	return nil
}

func addRouteMap(item string, routes *routeBuilder) []error {
	parsed, problems := parseRouteMap(item)
	for _, r := range parsed {
		routes.add(r)
	}
	return problems
}

func (g *Grant) addRole(name string) error {
	index := roleIndex(strings.ToLower(name))
	if index < 0 {
		return ErrRoleUnknown
	}
	g.roles |= 1 << index
	return nil
}

func (g *Grant) addField(index int, name string) error {
	if name == wildcard {
		g.allFields[index] = true
		return nil
	}
	if !isName(name) {
		return ErrFieldInvalid
	}

	if g.fields[index] == nil {
		g.fields[index] = make(map[string]string)
	}
	g.fields[index][name] = RequiredItem(operations[index], name)
	return nil
}

func (g *Grant) addAdmin(area string) error {
	area = strings.ToLower(area)
	if area == wildcard {
		g.allAdmin = true
		return nil
	}
	if !isAdminArea(area) {
		return ErrAdminAreaUnknown
	}

	if g.admin == nil {
		g.admin = make(map[string]string)
	}
	g.admin[area] = "admin/" + area
	return nil
}

func isAdminArea(area string) bool {
	for _, known := range adminAreas {
		if area == known {
			return true
		}
	}
	return false
}

// isName reports whether s is a GraphQL Name: /[_A-Za-z][_0-9A-Za-z]*/.
func isName(s string) bool {
	if s == "" || isDigit(s[0]) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '_' && !isLetter(c) && !isDigit(c) {
			return false
		}
	}
	return true
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
