package graphql

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/authz"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/scope"
)

// fuzzScopes is the grant of FuzzParseRequest: a few fields of each
// operation type, so that both outcomes are reachable.
const fuzzScopes = "query/hello, query/flow, query/__schema, mutation/create_flow_run, subscription/flow_run"

var fuzzMethods = []string{http.MethodPost, http.MethodGet, http.MethodPut}

func FuzzParseRequest(f *testing.F) {
	seeds := []struct {
		method      uint8
		contentType string
		rawQuery    string
		body        string
	}{
		{0, "application/json", "", `{"query": "{ hello }", "variables": "null"}`},
		{0, "application/json", "", `[{"query": "{ hello }"}, {"query": "mutation { delete_flow { success } }"}, 5]`},
		{0, "application/json", "", `{"query": "query A { hello } mutation B { x }", "operationName": "A"}`},
		{0, "application/json", "", `[{"query": "query A { hello }", "operationName": "B"}, {"query": "{ flow { id } }", "variables": "{}"}]`},
		{0, "application/json", "", `{"query": "{ ...F } fragment F on Query { flow { id } ... { project { id } } }"}`},
		{0, "application/json", "", `{"query": "{ ...A } fragment A on Query { ...A }"}`},
		{0, "application/json", "", `{"\u0071uery": "{ hello: create_flow_run }", "variables": {"a": 1}}`},
		{0, "", "", `{"query": "subscription { flow_run { id } }", "query": "{ hello }"}`},
		{0, "application/graphql", "", "mutation { create_flow_run(input: {}) { id } __typename }"},
		{0, "application/x-www-form-urlencoded", "", "query=%7B+hello+%7D&variables=%7B%7D"},
		{0, "text/plain", "", "{ hello }"},
		{1, "", "query=%7B+hello+%7D&operationName=", ""},
		{1, "", "query=mutation+%7B+x+%7D", ""},
		{2, "application/json", "", `{"query": "{ hello }"}`},
	}
	for _, seed := range seeds {
		f.Add(seed.method, seed.contentType, seed.rawQuery, []byte(seed.body))
	}

	grant, problems := scope.Parse(fuzzScopes)
	if len(problems) > 0 {
		f.Fatal(problems)
	}

	f.Fuzz(func(t *testing.T, methodIndex uint8, contentType, rawQuery string, body []byte) {
		method := fuzzMethods[int(methodIndex)%len(fuzzMethods)]
		values, err := url.ParseQuery(rawQuery)
		if err != nil {
			t.Skip()
		}

		req, err := ParseRequest(method, contentType, values, body)
		if err != nil {
			checkRequestError(t, err)
			return
		}
		if len(req.Elements) == 0 {
			t.Fatal("ParseRequest returned a request without elements")
		}

		Authorize(req, grant)
		for i := range req.Elements {
			checkElement(t, &req.Elements[i], grant)
		}
		checkMerge(t, req)
	})
}

func FuzzAuthorize(f *testing.F) {
	seeds := []struct{ scopes, document string }{
		{"query/*", "{ hello flow { id } }"},
		{"query/hello", "query A { hello } mutation B { create_flow_run { id } }"},
		{"mutation/create_flow_run", "mutation { ...M } fragment M on Mutation { create_flow_run { id } ... { delete_flow { success } } }"},
		{"query/hello, admin/*, GET:/x", "{ hello: flow __typename }"},
		{"", "subscription { __typename }"},
	}
	for _, seed := range seeds {
		f.Add(seed.scopes, seed.document)
	}

	f.Fuzz(func(t *testing.T, scopes, document string) {
		grant, _ := scope.Parse(scopes)

		req, err := ParseRequest(http.MethodPost, "application/graphql", nil, []byte(document))
		if err != nil {
			checkRequestError(t, err)
			return
		}

		Authorize(req, grant)
		checkElement(t, &req.Elements[0], grant)
	})
}

func checkRequestError(t *testing.T, err error) {
	t.Helper()

	var rerr *RequestError
	if !errors.As(err, &rerr) {
		t.Fatalf("error %T is not a *RequestError: %v", err, err)
	}
	switch rerr.Status {
	case http.StatusBadRequest, http.StatusMethodNotAllowed, http.StatusUnsupportedMediaType:
	default:
		t.Fatalf("unexpected status %d: %v", rerr.Status, rerr)
	}
	if rerr.Reason == "" || rerr.Message == "" {
		t.Fatalf("request error without reason or message: %+v", rerr)
	}
}

// checkElement verifies the authorization property: an allowed element is
// valid, and the grant allows every root field of every operation in its
// document, as found by an independent walk of the AST.
func checkElement(t *testing.T, element *Element, grant *scope.Grant) {
	t.Helper()

	decision := element.Decision
	if element.Document == nil && element.Err == nil {
		t.Fatal("element has neither a document nor an error")
	}
	if decision.Reason == "" {
		t.Fatal("decision without reason")
	}

	if !decision.Allow {
		if decision.Reason == authz.ReasonScopeMissing {
			checkMissingScope(t, element, grant)
		}
		return
	}

	if element.Err != nil {
		t.Fatalf("invalid element allowed: %v", element.Err)
	}
	for _, definition := range element.Document.Operations {
		fields, complete := walkRootFields(element.Document, definition.SelectionSet)
		if !complete {
			continue
		}
		for _, field := range fields {
			if _, ok := grant.AllowField(scope.Operation(definition.Operation), field); !ok {
				t.Fatalf("element allowed, but grant %q does not allow %s field %q in\n%s",
					grant, definition.Operation, field, element.Query)
			}
		}
	}
}

func checkMissingScope(t *testing.T, element *Element, grant *scope.Grant) {
	t.Helper()

	operation, field, found := strings.Cut(element.Decision.Scope, "/")
	if !found {
		t.Fatalf("scope-missing decision with scope %q", element.Decision.Scope)
	}
	if _, ok := grant.AllowField(scope.Operation(operation), field); ok {
		t.Fatalf("denied for missing scope %q, which the grant allows", element.Decision.Scope)
	}
}

// walkRootFields collects the root field names of a selection set by plain
// recursion, independent of rootCollector. It gives up (complete = false)
// on cycles, unknown fragments and documents that expand too far.
func walkRootFields(document *ast.QueryDocument, set ast.SelectionSet) (fields []string, complete bool) {
	budget := 10000
	var walk func(set ast.SelectionSet, path []string) bool
	walk = func(set ast.SelectionSet, path []string) bool {
		for _, selection := range set {
			budget--
			if budget < 0 {
				return false
			}

			switch selection := selection.(type) {
			case *ast.Field:
				fields = append(fields, selection.Name)
			case *ast.InlineFragment:
				if !walk(selection.SelectionSet, path) {
					return false
				}
			case *ast.FragmentSpread:
				fragment := document.Fragments.ForName(selection.Name)
				if fragment == nil || len(path) > 50 {
					return false
				}
				for _, name := range path {
					if name == selection.Name {
						return false
					}
				}
				if !walk(fragment.SelectionSet, append(path, selection.Name)) {
					return false
				}
			}
		}
		return true
	}

	complete = walk(set, nil)
	return fields, complete
}

// checkMerge forwards the allowed elements of a batch to a pretend upstream
// and checks that the merged response has one result per element.
func checkMerge(t *testing.T, req *Request) {
	t.Helper()

	allowed := req.ForwardCount()
	if !req.Batch {
		if _, err := MergeResponse(req, []byte(`{"data": null}`)); err != nil {
			t.Fatalf("MergeResponse on a single request: %v", err)
		}
		return
	}

	var upstream []byte
	if allowed > 0 {
		forwarded, err := ForwardBody(req)
		if err != nil {
			t.Fatalf("ForwardBody: %v", err)
		}
		var elements []json.RawMessage
		if err := json.Unmarshal(forwarded, &elements); err != nil || len(elements) != allowed {
			t.Fatalf("forwarded body is not an array of %d elements: %v\n%s", allowed, err, forwarded)
		}
		upstream = pretendUpstream(allowed)
	}

	merged, err := MergeResponse(req, upstream)
	if err != nil {
		t.Fatalf("MergeResponse: %v", err)
	}
	var results []json.RawMessage
	if err := json.Unmarshal(merged, &results); err != nil || len(results) != len(req.Elements) {
		t.Fatalf("merged response is not an array of %d results: %v\n%s", len(req.Elements), err, merged)
	}
}

func pretendUpstream(count int) []byte {
	var body bytes.Buffer
	body.WriteByte('[')
	for i := 0; i < count; i++ {
		if i > 0 {
			body.WriteByte(',')
		}
		fmt.Fprintf(&body, `{"data":{"n":%d}}`, i)
	}
	body.WriteByte(']')
	return body.Bytes()
}

// FuzzJSONScan compares the hand-written JSON walkers with encoding/json on
// every valid JSON input.
func FuzzJSONScan(f *testing.F) {
	seeds := []string{
		`[1, "a", {"b": [2, "]"]}, null, true, -1.5e3]`,
		`{"query": "{ x }", "a\"b": {"c": "}"}, "\u0071uery": 1, "": []}`,
		` [ ] `,
		`{}`,
		`["\\", "\\\"", "a,b"]`,
	}
	for _, seed := range seeds {
		f.Add([]byte(seed))
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		if !json.Valid(data) {
			// The walkers only promise not to read out of bounds here.
			splitArray(data)
			_ = eachMember(data, func(key, value []byte) error { return nil })
			return
		}

		trimmed := trimSpace(data)
		switch trimmed[0] {
		case '[':
			compareArray(t, trimmed)
		case '{':
			compareObject(t, trimmed)
		}
	})
}

func compareArray(t *testing.T, data []byte) {
	var want []json.RawMessage
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}

	got := splitArray(data)
	if len(got) != len(want) {
		t.Fatalf("splitArray found %d elements, encoding/json %d in %s", len(got), len(want), data)
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("element %d: splitArray %s, encoding/json %s", i, got[i], want[i])
		}
	}
}

func compareObject(t *testing.T, data []byte) {
	var want map[string]json.RawMessage
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}

	got := map[string]json.RawMessage{}
	err := eachMember(data, func(key, value []byte) error {
		got[string(key)] = value
		return nil
	})
	if err != nil {
		t.Fatalf("eachMember: %v", err)
	}

	if len(got) != len(want) {
		t.Fatalf("eachMember found %d keys, encoding/json %d in %s", len(got), len(want), data)
	}
	for key, value := range want {
		if !bytes.Equal(got[key], value) {
			t.Fatalf("key %q: eachMember %s, encoding/json %s", key, got[key], value)
		}
	}
}
