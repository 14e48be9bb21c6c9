package scope

import (
	"strings"
)

// Parse compiles a scopes text into a Grant. Items that grant nothing
// (unknown, malformed, or route items of the REST mode) are returned as
// problems, each an *ItemError, so that the caller can log them. The other
// items still take effect. An empty text yields an empty grant, and the
// returned grant is never nil.
func Parse(text string) (*Grant, []error) {
	grant := &Grant{}
	var problems []error

	for _, raw := range splitItems(text) {
		item := strings.TrimSpace(raw)
		if item == "" {
			continue
		}

		if err := grant.add(item); err != nil {
			problems = append(problems, &ItemError{Item: item, Err: err})
		}
	}

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

// add records one trimmed, non-empty item, or returns why it grants nothing.
func (g *Grant) add(item string) error {
	if isRouteItem(item) {
		return ErrRouteNotSupported
	}

	keyword, name, found := strings.Cut(item, "/")
	if !found {
		return ErrItemUnknown
	}
	keyword = strings.ToLower(keyword)

	if keyword == "admin" {
		return g.addAdmin(name)
	}
	if keyword == "role" {
		return ErrRouteNotSupported
	}

	index := operationIndex(Operation(keyword))
	if index < 0 {
		return ErrItemUnknown
	}
	return g.addField(index, name)
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

// isRouteItem reports whether an item has the shape of a REST mode item: a
// JSON method map or list, or METHOD:/path where METHOD is letters or "*".
func isRouteItem(item string) bool {
	if item[0] == '{' || item[0] == '[' {
		return true
	}

	method, path, found := strings.Cut(item, ":")
	if !found || method == "" || !strings.HasPrefix(path, "/") {
		return false
	}
	if method == wildcard {
		return true
	}
	for i := 0; i < len(method); i++ {
		if !isLetter(method[i]) {
			return false
		}
	}
	return true
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
