package graphql

import (
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/authz"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/scope"
)

// maxFragmentDepth is the deepest chain of fragment spreads that root
// expansion follows. It matches gqlparser's parser.MaxNestingDepth, so a
// document that the parser accepts is rejected here only when its spreads
// alone nest deeper than any selection set may.
const maxFragmentDepth = parser.MaxNestingDepth

// parseDocument parses the element's query and collects the root fields of
// every operation.
func (e *Element) parseDocument() *RequestError {
	if e.Query == "" {
		// Apollo Server 2 runs a persisted query sent by hash alone from its
		// cache, and the proxy cannot see what that document contains.
		return badRequest(authz.ReasonRequestInvalid,
			"query is missing, and persisted queries sent by hash alone are not supported")
	}

	document, err := parser.ParseQuery(&ast.Source{Input: e.Query})
	if err != nil {
		return badRequest(authz.ReasonGraphQLInvalid, "invalid GraphQL document: %v", err)
	}
	if len(document.Operations) == 0 {
		return badRequest(authz.ReasonGraphQLInvalid, "GraphQL document contains no operation")
	}

	operations := make([]Operation, len(document.Operations))
	collector := rootCollector{document: document}
	for i, definition := range document.Operations {
		fields, err := collector.collect(definition)
		if err != nil {
			return err
		}
		operations[i] = Operation{
			Type:       scope.Operation(definition.Operation),
			Name:       definition.Name,
			Definition: definition,
			RootFields: fields,
		}
	}

	e.Document = document
	e.Operations = operations
	if e.OperationName != "" && e.Operation() == nil {
		return badRequest(authz.ReasonOperationNameUnknown,
			"operationName %q does not match any operation in the document", e.OperationName)
	}
	return nil
}

// rootCollector expands the root selection sets of a document's operations.
type rootCollector struct {
	document *ast.QueryDocument
	// fragments indexes the document's fragments by name. It is built on the
	// first fragment spread at a root, because most documents have none.
	fragments map[string]*ast.FragmentDefinition
	// expanding records, for the operation being collected, the fragments
	// whose expansion has started (false) or finished (true).
	expanding map[string]bool
	fields    []*ast.Field
}

// collect returns the root fields of one operation.
func (c *rootCollector) collect(definition *ast.OperationDefinition) ([]*ast.Field, *RequestError) {
	c.fields = nil
	clear(c.expanding)

	if err := c.collectSet(definition.SelectionSet, 0); err != nil {
		return nil, err
	}
	if len(c.fields) == 0 {
		return nil, badRequest(authz.ReasonGraphQLInvalid, "operation selects no root field")
	}
	return c.fields, nil
}

func (c *rootCollector) collectSet(set ast.SelectionSet, depth int) *RequestError {
	for _, selection := range set {
		switch selection := selection.(type) {
		case *ast.Field:
			c.fields = append(c.fields, selection)
		case *ast.InlineFragment:
			// The type condition is ignored: whatever the condition, the
			// fields are root fields of this operation.
			if err := c.collectSet(selection.SelectionSet, depth+1); err != nil {
				return err
			}
		case *ast.FragmentSpread:
			if err := c.collectSpread(selection.Name, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *rootCollector) collectSpread(name string, depth int) *RequestError {
	if depth > maxFragmentDepth {
		return badRequest(authz.ReasonGraphQLInvalid, "fragment spreads nest deeper than %d levels", maxFragmentDepth)
	}

	finished, started := c.expanding[name]
	if finished {
		return nil
	}
	if started {
		return badRequest(authz.ReasonGraphQLInvalid, "fragment %q spreads itself through a cycle", name)
	}

	fragment, err := c.fragment(name)
	if err != nil {
		return err
	}

	if c.expanding == nil {
		c.expanding = make(map[string]bool)
	}
	c.expanding[name] = false
	if err := c.collectSet(fragment.SelectionSet, depth); err != nil {
		return err
	}
	c.expanding[name] = true
	return nil
}

// fragment looks up a fragment definition by name. Two definitions with the
// same name make the document invalid, as in GraphQL validation, because the
// proxy cannot know which one the server would use.
func (c *rootCollector) fragment(name string) (*ast.FragmentDefinition, *RequestError) {
	if c.fragments == nil {
		c.fragments = make(map[string]*ast.FragmentDefinition, len(c.document.Fragments))
		for _, fragment := range c.document.Fragments {
			if _, duplicate := c.fragments[fragment.Name]; duplicate {
				return nil, badRequest(authz.ReasonGraphQLInvalid, "fragment %q is defined more than once", fragment.Name)
			}
			c.fragments[fragment.Name] = fragment
		}
	}

	fragment, ok := c.fragments[name]
	if !ok {
		return nil, badRequest(authz.ReasonGraphQLInvalid, "fragment %q is not defined", name)
	}
	return fragment, nil
}
