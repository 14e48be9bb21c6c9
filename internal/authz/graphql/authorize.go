package graphql

import (
	"fmt"
	"strings"

	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/authz"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/scope"
)

// Authorize sets the Decision of every element of the request. An element
// is allowed only when the grant allows every root field of every operation
// in its document. An invalid element (one with Err set) is denied with the
// reason of its error. A nil grant denies every root field but __typename.
func Authorize(req *Request, grant *scope.Grant) {
	for i := range req.Elements {
		element := &req.Elements[i]
		element.Decision = authorizeElement(element, grant)
	}
}

// DenyAll sets the same decision on every element, for a request that is
// denied as a whole (a missing or unknown key, for example), so that
// MergeResponse can build a batch response with one error per element.
func DenyAll(req *Request, decision authz.Decision) {
	for i := range req.Elements {
		req.Elements[i].Decision = decision
	}
}

func authorizeElement(element *Element, grant *scope.Grant) authz.Decision {
	if element.Err != nil {
		return element.Err.Decision()
	}

	var granted grantedItems
	var missing *missingField
	missingCount := 0

	for i := range element.Operations {
		operation := &element.Operations[i]
		for _, field := range operation.RootFields {
			item, ok := grant.AllowField(operation.Type, field.Name)
			if ok {
				granted.add(item)
				continue
			}

			missingCount++
			if missing == nil {
				missing = &missingField{operation: operation.Type, field: field.Name}
			}
		}
	}

	if missing != nil {
		return missing.decision(missingCount)
	}
	return authz.Allowed(authz.ReasonScopeGranted, granted.String())
}

// missingField is the first root field that the grant does not allow.
type missingField struct {
	operation scope.Operation
	field     string
}

func (m *missingField) decision(missingCount int) authz.Decision {
	item := scope.RequiredItem(m.operation, m.field)
	message := fmt.Sprintf("%s field %q requires the scope %q or \"%s/*\", which the API key does not have",
		m.operation, m.field, item, m.operation)
	if missingCount > 1 {
		message += fmt.Sprintf(" (%d more root fields of this request are not allowed either)", missingCount-1)
	}
	return authz.Denied(authz.ReasonScopeMissing, item, message)
}

// grantedItems collects the distinct scope items that allowed an element's
// root fields, in the order they were first used. The common case of a
// single item needs no allocation.
type grantedItems struct {
	first string
	more  []string
}

func (g *grantedItems) add(item string) {
	switch {
	case item == "" || item == g.first:
		return
	case g.first == "":
		g.first = item
		return
	}

	for _, seen := range g.more {
		if seen == item {
			return
		}
	}
	g.more = append(g.more, item)
}

// String returns the items joined with ", ", the form of scope.Grant.String.
func (g *grantedItems) String() string {
	if len(g.more) == 0 {
		return g.first
	}
	return g.first + ", " + strings.Join(g.more, ", ")
}
