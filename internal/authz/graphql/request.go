// Package graphql reads GraphQL HTTP requests for Prefect 1 (Apollo Server
// 2 in front of Hasura and Prefect's own GraphQL server) and authorizes them
// against a scope.Grant.
//
// A request is one JSON object or a JSON array of objects (a batch, as the
// Prefect 1 UI sends). Each object is an Element. Every operation of every
// element is parsed without a schema, and the root fields of each operation
// are collected by field name (never by alias), with fragment spreads and
// inline fragments at the root expanded. An element is allowed only when the
// grant allows every root field of every operation in its document, so the
// outcome does not depend on which operation operationName selects.
//
// The package does no I/O. The server reads the body, calls ParseRequest and
// Authorize, and then forwards the request or responds with the helpers in
// response.go.
package graphql

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/authz"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/scope"
)

// Request is a parsed GraphQL HTTP request.
type Request struct {
	// Batch is set when the body was a JSON array. The response to a batch
	// must be a JSON array with one result per element, in the same order.
	Batch bool
	// Elements holds one element for a single request and one per array
	// member for a batch, in request order. It is never empty.
	Elements []Element
}

// Element is one GraphQL request: the body object of a single request, one
// member of a batch array, or the parameters of a GET or form request.
type Element struct {
	// Raw is the element's original JSON text, a subslice of the request
	// body. It is nil for GET, form and application/graphql requests.
	Raw json.RawMessage

	// Query is the GraphQL document text.
	Query string
	// OperationName is the operationName parameter, "" when it is absent or
	// null.
	OperationName string
	// Variables holds the decoded variables, nil when they are absent or
	// null. Numbers decode to float64.
	Variables map[string]any

	// Document is the parsed document, nil when the query is missing or
	// does not parse. An element whose operationName matches no operation
	// keeps its document and operations for the audit trail, with Err set.
	Document *ast.QueryDocument
	// Operations lists every operation of the document, in document order.
	Operations []Operation

	// Err is the reason why the element cannot run, nil when it is valid.
	// In a batch an invalid element is denied on its own. A single request
	// with an invalid element fails as a whole instead, because ParseRequest
	// returns the error.
	Err *RequestError

	// Decision is set by Authorize. Its zero value denies.
	Decision authz.Decision

	// Local is a GraphQL result that the proxy produced in place of the
	// upstream server, such as the result of a Prefect Cloud login query.
	// An allowed element with Local set is not forwarded, and MergeResponse
	// puts Local at its position.
	Local []byte
}

// Operation is one operation definition of a document.
type Operation struct {
	Type scope.Operation
	// Name is "" for an anonymous operation.
	Name       string
	Definition *ast.OperationDefinition
	// RootFields lists the fields selected at the root of the operation, with
	// fragment spreads and inline fragments at the root expanded. A fragment
	// that is spread more than once contributes its fields once.
	RootFields []*ast.Field
}

// FieldNames returns the names of the operation's root fields, in order.
func (o *Operation) FieldNames() []string {
	names := make([]string, len(o.RootFields))
	for i, field := range o.RootFields {
		names[i] = field.Name
	}
	return names
}

// Operation returns the operation that the upstream server will execute:
// the one that OperationName names, or the only operation of the document.
// It returns nil when the element has no document, when OperationName
// matches no operation, or when the document has several operations and
// OperationName is empty (the server then executes none of them).
func (e *Element) Operation() *Operation {
	if e.OperationName != "" {
		for i := range e.Operations {
			if e.Operations[i].Name == e.OperationName {
				return &e.Operations[i]
			}
		}
		return nil
	}

	if len(e.Operations) == 1 {
		return &e.Operations[0]
	}
	return nil
}

// AllowedCount returns the number of allowed elements.
func (r *Request) AllowedCount() int {
	count := 0
	for i := range r.Elements {
		if r.Elements[i].Decision.Allow {
			count++
		}
	}
	return count
}

// ForwardCount returns the number of elements to forward upstream: the
// allowed elements without a Local result.
func (r *Request) ForwardCount() int {
	count := 0
	for i := range r.Elements {
		if r.Elements[i].forwarded() {
			count++
		}
	}
	return count
}

func (e *Element) forwarded() bool {
	return e.Decision.Allow && e.Local == nil
}

// AllAllowed reports whether Authorize allowed every element.
func (r *Request) AllAllowed() bool {
	return r.AllowedCount() == len(r.Elements)
}

// RequestError is a request that cannot be authorized, with the HTTP status
// and the reason code of the response.
type RequestError struct {
	// Status is 400 (malformed request), 405 (method not allowed, or a
	// mutation over GET) or 415 (unsupported content type).
	Status  int
	Reason  authz.Reason
	Message string
}

func (e *RequestError) Error() string { return e.Message }

// Decision returns the denial that the error stands for.
func (e *RequestError) Decision() authz.Decision {
	return authz.Denied(e.Reason, "", e.Message)
}

func badRequest(reason authz.Reason, format string, args ...any) *RequestError {
	return &RequestError{
		Status:  http.StatusBadRequest,
		Reason:  reason,
		Message: fmt.Sprintf(format, args...),
	}
}

// ParseRequest reads a GraphQL HTTP request. The forms are:
//
//   - POST with Content-Type application/json, or with no Content-Type: a
//     JSON object, or a non-empty JSON array of objects (a batch). In an
//     object, variables may be an object, null, or a string that contains
//     JSON (the Prefect 1 Python client sends "null" or an encoded object).
//   - POST application/graphql: the body is the document.
//   - POST application/x-www-form-urlencoded: the query, operationName and
//     variables fields.
//   - GET: the query, operationName and variables URL parameters. A GET
//     whose document would execute a mutation is rejected with 405, as the
//     GraphQL over HTTP specification requires.
//
// A charset parameter other than utf-8 and any other content type are
// rejected with 415, and other methods with 405. A returned error is always
// a *RequestError.
//
// The query values may come from URL.Query, which drops malformed pairs.
// A dropped pair cannot widen what is allowed: a dropped query means that
// the request is rejected, and a dropped duplicate makes Apollo Server
// receive an array, which it rejects.
//
// Problems in one element of a batch (invalid GraphQL, a bad variables
// value, an unknown operationName) do not fail the request: they are kept in
// the element's Err, and Authorize denies that element alone.
func ParseRequest(method, contentType string, query url.Values, body []byte) (*Request, error) {
	var req *Request
	var err *RequestError

	switch method {
	case http.MethodGet:
		req, err = parseGet(query)
	case http.MethodPost:
		req, err = parsePost(contentType, body)
	default:
		err = &RequestError{
			Status:  http.StatusMethodNotAllowed,
			Reason:  authz.ReasonMethodNotAllowed,
			Message: fmt.Sprintf("method %s is not allowed for GraphQL requests, use POST or GET", method),
		}
	}

	if err != nil {
		return nil, err
	}
	return req, nil
}

// params are the GraphQL request parameters before they are checked.
type params struct {
	query         string
	operationName string
	// variables is JSON text (an object or null), nil when absent.
	variables []byte
}

func parseGet(query url.Values) (*Request, *RequestError) {
	p, err := paramsFromValues(query, "URL parameter")
	if err != nil {
		return nil, err
	}

	element := newElement(p)
	if element.Err != nil {
		return nil, element.Err
	}
	if executesMutation(&element) {
		return nil, &RequestError{
			Status:  http.StatusMethodNotAllowed,
			Reason:  authz.ReasonMutationOverGet,
			Message: "mutations must be sent with POST, not GET",
		}
	}

	return &Request{Elements: []Element{element}}, nil
}

// executesMutation reports whether the element's document may execute a
// mutation. When the operation to execute cannot be determined, any mutation
// in the document counts, so the check errs on the side of rejecting.
func executesMutation(e *Element) bool {
	if selected := e.Operation(); selected != nil {
		return selected.Type == scope.Mutation
	}

	for i := range e.Operations {
		if e.Operations[i].Type == scope.Mutation {
			return true
		}
	}
	return false
}

func parsePost(contentType string, body []byte) (*Request, *RequestError) {
	mediaType, err := parseContentType(contentType)
	if err != nil {
		return nil, err
	}

	switch mediaType {
	case "", "application/json":
		return parseJSONBody(body)
	case "application/graphql":
		return singleElement(params{query: string(body)})
	case "application/x-www-form-urlencoded":
		return parseForm(body)
	}

	return nil, unsupportedMediaType("content type %q is not supported, use application/json", mediaType)
}

func unsupportedMediaType(format string, args ...any) *RequestError {
	return &RequestError{
		Status:  http.StatusUnsupportedMediaType,
		Reason:  authz.ReasonContentTypeUnsupported,
		Message: fmt.Sprintf(format, args...),
	}
}

// parseContentType returns the lowercase media type, "" for an absent
// header. A charset other than UTF-8 is rejected because the body is read as
// UTF-8, and the upstream server could decode it differently.
func parseContentType(contentType string) (string, *RequestError) {
	if strings.TrimSpace(contentType) == "" {
		return "", nil
	}

	mediaType, parameters, err := mime.ParseMediaType(contentType)
	if err != nil {
		return "", unsupportedMediaType("invalid content type %q: %v", contentType, err)
	}

	if charset, ok := parameters["charset"]; ok && !strings.EqualFold(charset, "utf-8") {
		return "", unsupportedMediaType("charset %q is not supported, use utf-8", charset)
	}
	return mediaType, nil
}

func parseForm(body []byte) (*Request, *RequestError) {
	values, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, badRequest(authz.ReasonRequestInvalid, "invalid form body: %v", err)
	}

	p, rerr := paramsFromValues(values, "form field")
	if rerr != nil {
		return nil, rerr
	}
	return singleElement(p)
}

func singleElement(p params) (*Request, *RequestError) {
	element := newElement(p)
	if element.Err != nil {
		return nil, element.Err
	}
	return &Request{Elements: []Element{element}}, nil
}

// paramsFromValues reads the parameters of a GET or form request. A
// parameter given twice is rejected: Apollo Server would receive an array
// for it, and which value counts must not be left to chance.
func paramsFromValues(values url.Values, kind string) (params, *RequestError) {
	for _, name := range []string{"query", "operationName", "variables", "extensions"} {
		if len(values[name]) > 1 {
			return params{}, badRequest(authz.ReasonRequestInvalid, "%s %s is given more than once", kind, name)
		}
	}

	p := params{
		query:         values.Get("query"),
		operationName: values.Get("operationName"),
	}
	if text := values.Get("variables"); text != "" {
		p.variables = []byte(text)
	}
	return p, nil
}

// newElement checks the parameters and parses the document. Problems are
// recorded in the element's Err.
func newElement(p params) Element {
	element := Element{Query: p.query, OperationName: p.operationName}

	variables, err := decodeVariables(p.variables)
	if err != nil {
		element.Err = err
		return element
	}
	element.Variables = variables

	element.Err = element.parseDocument()
	return element
}

// decodeVariables decodes variables given as JSON text. Absent variables,
// empty text and null yield nil.
func decodeVariables(text []byte) (map[string]any, *RequestError) {
	text = trimSpace(text)
	if len(text) == 0 || string(text) == "null" {
		return nil, nil
	}
	if text[0] != '{' {
		return nil, badRequest(authz.ReasonRequestInvalid, "variables must be a JSON object")
	}

	var variables map[string]any
	if err := json.Unmarshal(text, &variables); err != nil {
		return nil, badRequest(authz.ReasonRequestInvalid, "variables are not a valid JSON object: %v", err)
	}
	return variables, nil
}
