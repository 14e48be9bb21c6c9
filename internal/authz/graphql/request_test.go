package graphql

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/authz"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/scope"
)

func mustGrant(t testing.TB, text string) *scope.Grant {
	t.Helper()

	grant, problems := scope.Parse(text)
	if len(problems) > 0 {
		t.Fatalf("scopes %q: %v", text, problems)
	}
	return grant
}

func mustParse(t testing.TB, method, contentType string, body string) *Request {
	t.Helper()

	req, err := ParseRequest(method, contentType, nil, []byte(body))
	if err != nil {
		t.Fatalf("ParseRequest: %v", err)
	}
	return req
}

func TestParseRequestKeepsRawBytes(t *testing.T) {
	first := `{"query": "{ hello }",  "variables": "null"}`
	second := `{ "operationName":"A","query":"query A { flow { id } }" }`
	body := " [" + first + " ,\n" + second + "]\n"

	req := mustParse(t, http.MethodPost, "application/json", body)

	if !req.Batch {
		t.Error("Batch = false for an array body")
	}
	if len(req.Elements) != 2 {
		t.Fatalf("got %d elements, want 2", len(req.Elements))
	}
	if got := string(req.Elements[0].Raw); got != first {
		t.Errorf("element 0 Raw = %q, want %q", got, first)
	}
	if got := string(req.Elements[1].Raw); got != second {
		t.Errorf("element 1 Raw = %q, want %q", got, second)
	}
}

func TestParseRequestSingleRawIsBody(t *testing.T) {
	body := `{"query": "{ hello }"}`

	req := mustParse(t, http.MethodPost, "", "\n"+body+" ")

	if req.Batch {
		t.Error("Batch = true for an object body")
	}
	if got := string(req.Elements[0].Raw); got != body {
		t.Errorf("Raw = %q, want %q", got, body)
	}
}

func TestParseRequestNonJSONFormsHaveNoRaw(t *testing.T) {
	req := mustParse(t, http.MethodPost, "application/graphql", "{ hello }")

	if req.Elements[0].Raw != nil {
		t.Errorf("Raw = %q for an application/graphql body, want nil", req.Elements[0].Raw)
	}
}

func TestParseRequestErrorType(t *testing.T) {
	_, err := ParseRequest(http.MethodPost, "text/plain", nil, []byte("{ hello }"))

	var rerr *RequestError
	if !errors.As(err, &rerr) {
		t.Fatalf("error %T is not a *RequestError", err)
	}
	if rerr.Status != http.StatusUnsupportedMediaType {
		t.Errorf("Status = %d, want 415", rerr.Status)
	}
	if rerr.Reason != authz.ReasonContentTypeUnsupported {
		t.Errorf("Reason = %q, want %q", rerr.Reason, authz.ReasonContentTypeUnsupported)
	}

	decision := rerr.Decision()
	if decision.Allow || decision.Reason != rerr.Reason || decision.Message != rerr.Message {
		t.Errorf("Decision() = %+v, does not match the error", decision)
	}
}

func TestParseRequestSuccessReturnsNilError(t *testing.T) {
	req, err := ParseRequest(http.MethodPost, "application/json", nil, []byte(`{"query": "{ hello }"}`))

	// A typed nil *RequestError inside the interface would make err != nil.
	if err != nil {
		t.Fatalf("err = %#v, want nil", err)
	}
	if req == nil {
		t.Fatal("request is nil")
	}
}

func TestElementFieldsForLoginFakes(t *testing.T) {
	body := `{"query": "query($slug: String) {\n tenant(where: {slug: {_eq: $slug}}) { id }\n}", "variables": "{\"slug\": \"default\"}"}`
	req := mustParse(t, http.MethodPost, "application/json", body)
	element := &req.Elements[0]

	operation := element.Operation()
	if operation == nil {
		t.Fatal("Operation() = nil for a one-operation document")
	}
	if operation.Definition == nil || operation.Definition.Operation != "query" {
		t.Errorf("Definition = %+v, want the query definition", operation.Definition)
	}
	if len(operation.RootFields) != 1 || operation.RootFields[0].Name != "tenant" {
		t.Fatalf("RootFields = %v, want [tenant]", operation.FieldNames())
	}

	where := operation.RootFields[0].Arguments.ForName("where")
	if where == nil {
		t.Fatal("tenant field has no where argument")
	}
	if got := where.Value.String(); got != "{slug:{_eq:$slug}}" {
		t.Errorf("where argument = %s", got)
	}
	if got := element.Variables["slug"]; got != "default" {
		t.Errorf("Variables[slug] = %v, want default", got)
	}
}

func TestElementOperation(t *testing.T) {
	tests := []struct {
		name          string
		body          string
		wantOperation string
	}{
		{"single anonymous", `{"query": "{ hello }"}`, "hello"},
		{"named by operationName", `{"query": "query A { hello } query B { flow { id } }", "operationName": "B"}`, "flow"},
		{"ambiguous", `{"query": "query A { hello } query B { flow { id } }"}`, ""},
		{"empty operationName is absent", `{"query": "query A { hello }", "operationName": ""}`, "hello"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := mustParse(t, http.MethodPost, "application/json", tc.body)

			operation := req.Elements[0].Operation()
			got := ""
			if operation != nil {
				got = operation.RootFields[0].Name
			}
			if got != tc.wantOperation {
				t.Errorf("Operation() selects %q, want %q", got, tc.wantOperation)
			}
		})
	}
}

func TestParseRequestNestingBeyondParserLimit(t *testing.T) {
	document := strings.Repeat("{ a ", 1100) + strings.Repeat("}", 1100)

	_, err := ParseRequest(http.MethodPost, "application/graphql", nil, []byte(document))

	var rerr *RequestError
	if !errors.As(err, &rerr) || rerr.Reason != authz.ReasonGraphQLInvalid {
		t.Fatalf("err = %v, want a graphql-invalid request error", err)
	}
}

func TestParseRequestLongFragmentChain(t *testing.T) {
	const length = maxFragmentDepth + 10
	var document strings.Builder
	document.WriteString("query { ...F0 }\n")
	for i := 0; i < length; i++ {
		fmt.Fprintf(&document, "fragment F%d on Query { ...F%d }\n", i, i+1)
	}
	fmt.Fprintf(&document, "fragment F%d on Query { hello }\n", length)

	_, err := ParseRequest(http.MethodPost, "application/graphql", nil, []byte(document.String()))

	var rerr *RequestError
	if !errors.As(err, &rerr) || rerr.Reason != authz.ReasonGraphQLInvalid {
		t.Fatalf("err = %v, want a graphql-invalid request error", err)
	}
}

// A fragment that spreads the next one twice, thirty levels deep, would
// yield 2^30 root fields if each spread were expanded again.
func TestParseRequestFragmentFanOutExpandsOnce(t *testing.T) {
	const levels = 30
	var document strings.Builder
	document.WriteString("query { ...F0 }\n")
	for i := 0; i < levels; i++ {
		fmt.Fprintf(&document, "fragment F%d on Query { ...F%d ...F%d }\n", i, i+1, i+1)
	}
	fmt.Fprintf(&document, "fragment F%d on Query { hello }\n", levels)

	req := mustParse(t, http.MethodPost, "application/graphql", document.String())

	if got := req.Elements[0].Operations[0].FieldNames(); len(got) != 1 || got[0] != "hello" {
		t.Errorf("root fields = %v, want [hello]", got)
	}
}

func TestAuthorizeScopeForAllowedElement(t *testing.T) {
	tests := []struct {
		scopes    string
		document  string
		wantScope string
	}{
		{"query/*", "{ hello flow { id } }", "query/*"},
		{"query/hello, query/flow", "{ hello flow { id } hello }", "query/hello, query/flow"},
		{"query/hello, mutation/*", "query { hello } mutation { x y }", "query/hello, mutation/*"},
		{"", "{ __typename }", ""},
	}
	for _, tc := range tests {
		req := mustParse(t, http.MethodPost, "application/graphql", tc.document)

		Authorize(req, mustGrant(t, tc.scopes))

		decision := req.Elements[0].Decision
		if !decision.Allow {
			t.Errorf("%q with %q denied: %s", tc.document, tc.scopes, decision.Message)
			continue
		}
		if decision.Reason != authz.ReasonScopeGranted {
			t.Errorf("%q reason = %q, want scope-granted", tc.document, decision.Reason)
		}
		if decision.Scope != tc.wantScope {
			t.Errorf("%q scope = %q, want %q", tc.document, decision.Scope, tc.wantScope)
		}
	}
}

func TestAuthorizeNilGrant(t *testing.T) {
	req := mustParse(t, http.MethodPost, "application/graphql", "{ hello }")

	Authorize(req, nil)

	if req.Elements[0].Decision.Allow {
		t.Error("nil grant allowed query hello")
	}
}

func TestDecisionBeforeAuthorizeDenies(t *testing.T) {
	req := mustParse(t, http.MethodPost, "application/graphql", "{ hello }")

	if req.Elements[0].Decision.Allow {
		t.Error("zero decision allows")
	}
	if req.AllowedCount() != 0 {
		t.Errorf("AllowedCount() = %d before Authorize, want 0", req.AllowedCount())
	}
}

func TestDenyAll(t *testing.T) {
	req := mustParse(t, http.MethodPost, "application/json", `[{"query": "{ hello }"}, {"query": "{ flow { id } }"}]`)
	Authorize(req, mustGrant(t, "query/*"))

	DenyAll(req, authz.Denied(authz.ReasonKeyUnknown, "", "API key is not valid"))

	for i, element := range req.Elements {
		if element.Decision.Allow || element.Decision.Reason != authz.ReasonKeyUnknown {
			t.Errorf("element %d decision = %+v, want key-unknown denial", i, element.Decision)
		}
	}
}

func TestRequestAllowedCount(t *testing.T) {
	req := mustParse(t, http.MethodPost, "application/json",
		`[{"query": "{ hello }"}, {"query": "{ flow { id } }"}, {"query": "{ hello }"}]`)

	Authorize(req, mustGrant(t, "query/hello"))

	if got := req.AllowedCount(); got != 2 {
		t.Errorf("AllowedCount() = %d, want 2", got)
	}
	if req.AllAllowed() {
		t.Error("AllAllowed() = true with one denied element")
	}

	Authorize(req, mustGrant(t, "query/*"))
	if !req.AllAllowed() {
		t.Error("AllAllowed() = false with query/*")
	}
}
