package prefect

import (
	"encoding/json"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
)

var testTenant = Tenant{ID: "0f4c5a3e-1111-4b5a-9c1d-8c2f9a0b7e61", Name: "Default", Slug: "default"}

// parseOperation returns the first operation of a document and its root
// fields. Login documents of the Prefect 1 CLI use no fragments.
func parseOperation(t *testing.T, document string) (*ast.OperationDefinition, []*ast.Field) {
	t.Helper()
	parsed, err := parser.ParseQuery(&ast.Source{Input: document})
	if err != nil {
		t.Fatalf("parse %q: %v", document, err)
	}
	operation := parsed.Operations[0]
	var fields []*ast.Field
	for _, selection := range operation.SelectionSet {
		fields = append(fields, selection.(*ast.Field))
	}
	return operation, fields
}

func TestParseLoginAnswers(t *testing.T) {
	cases := []struct {
		name      string
		document  string
		variables map[string]any
		want      string
	}{
		{
			name:     "auth_info tenant_id",
			document: "query {\n    auth_info {\n        tenant_id\n    }\n}",
			want:     `{"data":{"auth_info":{"tenant_id":"0f4c5a3e-1111-4b5a-9c1d-8c2f9a0b7e61"}}}`,
		},
		{
			name:     "auth_info user_id",
			document: "query { auth_info { user_id tenant_id } }",
			want:     `{"data":{"auth_info":{"user_id":"alice","tenant_id":"0f4c5a3e-1111-4b5a-9c1d-8c2f9a0b7e61"}}}`,
		},
		{
			name:     "tenant by id literal",
			document: `query { tenant(where: { id: { _eq: "0f4c5a3e-1111-4b5a-9c1d-8c2f9a0b7e61" } }) { id slug name } }`,
			want:     `{"data":{"tenant":[{"id":"0f4c5a3e-1111-4b5a-9c1d-8c2f9a0b7e61","slug":"default","name":"Default"}]}}`,
		},
		{
			name:      "tenant by slug variable",
			document:  `query ($slug: String) { tenant(where: {slug: { _eq: $slug } }) { id } }`,
			variables: map[string]any{"slug": "default"},
			want:      `{"data":{"tenant":[{"id":"0f4c5a3e-1111-4b5a-9c1d-8c2f9a0b7e61"}]}}`,
		},
		{
			name:      "tenant of another slug is empty",
			document:  `query ($slug: String) { tenant(where: {slug: { _eq: $slug } }) { id } }`,
			variables: map[string]any{"slug": "other"},
			want:      `{"data":{"tenant":[]}}`,
		},
		{
			name:     "aliases are kept",
			document: `query { me: auth_info { tid: tenant_id } }`,
			want:     `{"data":{"me":{"tid":"0f4c5a3e-1111-4b5a-9c1d-8c2f9a0b7e61"}}}`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			operation, fields := parseOperation(t, tc.document)
			login, ok := ParseLogin(operation, fields, tc.variables)
			if !ok {
				t.Fatal("not recognised as a login")
			}
			got := string(login.Answer(testTenant, "alice"))
			if got != tc.want {
				t.Errorf("answer = %s\nwant     %s", got, tc.want)
			}
			if !json.Valid([]byte(got)) {
				t.Errorf("answer is not valid JSON: %s", got)
			}
		})
	}
}

func TestParseLoginForwards(t *testing.T) {
	cases := map[string]string{
		"tenant without where":     `query { tenant { id slug } }`,
		"tenant ordered":           `query { tenant(order_by: {slug: asc}) { id slug name } }`,
		"tenant where by name":     `query { tenant(where: {name: {_eq: "x"}}) { id } }`,
		"tenant where _in":         `query { tenant(where: {id: {_in: ["x"]}}) { id } }`,
		"tenant extra subfield":    `query { tenant(where: {id: {_eq: "x"}}) { id created } }`,
		"login plus another field": `query { auth_info { tenant_id } project { id } }`,
		"mutation":                 `mutation { auth_info { tenant_id } }`,
		"auth_info nested object":  `query { auth_info { tenant { id } } }`,
	}
	for name, document := range cases {
		t.Run(name, func(t *testing.T) {
			operation, fields := parseOperation(t, document)
			if _, ok := ParseLogin(operation, fields, nil); ok {
				t.Errorf("%s was taken as a login", document)
			}
		})
	}
}
