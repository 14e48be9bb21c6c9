package graphql

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/scope"
)

var update = flag.Bool("update", false, "rewrite the want sections of testdata/*.yaml")

// requestCase is one entry of a testdata/*.yaml file. The request is given
// either as a raw body, or by one of the shorthands that the harness turns
// into a JSON body (document, batch). Want is the expected outcome, which
// -update rewrites.
type requestCase struct {
	Name   string `yaml:"name"`
	Scopes string `yaml:"scopes"`
	// Method defaults to POST.
	Method string `yaml:"method,omitempty"`
	// ContentType defaults to application/json; an explicit "" sends none.
	ContentType *string `yaml:"content_type,omitempty"`
	// URLQuery is the raw query string, read with url.ParseQuery.
	URLQuery string `yaml:"url_query,omitempty"`
	Body     string `yaml:"body,omitempty"`

	// Document, OperationName, Variables and VariablesString build the body
	// {"query": Document, "operationName": ..., "variables": ...}. Variables
	// is JSON text embedded as it is; VariablesString is JSON text sent as a
	// JSON string, as the Prefect 1 Python client sends it.
	Document        string `yaml:"document,omitempty"`
	OperationName   string `yaml:"operation_name,omitempty"`
	Variables       string `yaml:"variables,omitempty"`
	VariablesString string `yaml:"variables_string,omitempty"`

	// Batch builds the body [{"query": Batch[0]}, {"query": Batch[1]}, ...].
	Batch []string `yaml:"batch,omitempty"`

	Want requestResult `yaml:"want"`
}

// requestResult is the outcome of ParseRequest and Authorize in a form
// that reads well in YAML.
type requestResult struct {
	// Error is "<status> <reason>: <message>" when ParseRequest fails.
	Error    string          `yaml:"error,omitempty"`
	Batch    bool            `yaml:"batch,omitempty"`
	Elements []elementResult `yaml:"elements,omitempty"`
}

type elementResult struct {
	// Decision is "allow <reason> [<scope>]" or "deny <reason> [<scope>]".
	Decision string `yaml:"decision"`
	Message  string `yaml:"message,omitempty"`
	// Operations holds "<type> <name>: <root field>, ..." per operation,
	// with "(anonymous)" for an unnamed operation.
	Operations []string `yaml:"operations,omitempty"`
	// Executed names the operation that Element.Operation returns.
	Executed string `yaml:"executed,omitempty"`
	// Variables is the decoded variables as JSON with sorted keys.
	Variables string `yaml:"variables,omitempty"`
}

func TestRequestGolden(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatal("no testdata/*.yaml files")
	}

	for _, path := range paths {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".yaml"), func(t *testing.T) {
			runGoldenFile(t, path)
		})
	}
}

func runGoldenFile(t *testing.T, path string) {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	var cases []requestCase
	if err := yaml.Unmarshal(data, &cases); err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}

	names := map[string]bool{}
	for i := range cases {
		tc := &cases[i]
		if names[tc.Name] {
			t.Errorf("case name %q appears twice in %s", tc.Name, path)
		}
		names[tc.Name] = true

		got := runCase(t, tc)
		if *update {
			tc.Want = got
			continue
		}

		t.Run(tc.Name, func(t *testing.T) {
			compareResult(t, got, tc.Want)
		})
	}

	if *update {
		writeYAML(t, path, leadingComments(data), cases)
	}
}

// leadingComments returns the comment lines at the top of a YAML file, which
// the encoder would otherwise drop when -update rewrites it.
func leadingComments(data []byte) string {
	var header strings.Builder
	for _, line := range strings.SplitAfter(string(data), "\n") {
		if !strings.HasPrefix(line, "#") {
			break
		}
		header.WriteString(line)
	}
	return header.String()
}

func compareResult(t *testing.T, got, want requestResult) {
	t.Helper()

	if got.Error != want.Error {
		t.Errorf("error:\n got %q\nwant %q", got.Error, want.Error)
	}
	if got.Batch != want.Batch {
		t.Errorf("batch = %v, want %v", got.Batch, want.Batch)
	}
	if len(got.Elements) != len(want.Elements) {
		t.Fatalf("got %d elements, want %d:\n%s", len(got.Elements), len(want.Elements), dumpYAML(got))
	}

	for i := range want.Elements {
		g, w := got.Elements[i], want.Elements[i]
		if g.Decision != w.Decision {
			t.Errorf("element %d decision:\n got %q\nwant %q", i, g.Decision, w.Decision)
		}
		if g.Message != w.Message {
			t.Errorf("element %d message:\n got %q\nwant %q", i, g.Message, w.Message)
		}
		if !slices.Equal(g.Operations, w.Operations) {
			t.Errorf("element %d operations:\n got %q\nwant %q", i, g.Operations, w.Operations)
		}
		if g.Executed != w.Executed {
			t.Errorf("element %d executed operation = %q, want %q", i, g.Executed, w.Executed)
		}
		if g.Variables != w.Variables {
			t.Errorf("element %d variables:\n got %s\nwant %s", i, g.Variables, w.Variables)
		}
	}
}

func runCase(t *testing.T, tc *requestCase) requestResult {
	t.Helper()

	grant, problems := scope.Parse(tc.Scopes)
	if len(problems) > 0 {
		t.Fatalf("case %q: scopes %q have problems: %v", tc.Name, tc.Scopes, problems)
	}

	method := tc.Method
	if method == "" {
		method = "POST"
	}
	contentType := "application/json"
	if tc.ContentType != nil {
		contentType = *tc.ContentType
	}
	values, err := url.ParseQuery(tc.URLQuery)
	if err != nil {
		t.Fatalf("case %q: url_query: %v", tc.Name, err)
	}

	req, err := ParseRequest(method, contentType, values, caseBody(t, tc))
	if err != nil {
		var rerr *RequestError
		if !errors.As(err, &rerr) {
			t.Fatalf("case %q: error %T is not a *RequestError", tc.Name, err)
		}
		if req != nil {
			t.Errorf("case %q: ParseRequest returned a request together with an error", tc.Name)
		}
		return requestResult{Error: fmt.Sprintf("%d %s: %s", rerr.Status, rerr.Reason, rerr.Message)}
	}

	Authorize(req, grant)
	return describeRequest(req)
}

func caseBody(t *testing.T, tc *requestCase) []byte {
	t.Helper()

	switch {
	case tc.Body != "":
		return []byte(tc.Body)
	case tc.Batch != nil:
		var members []map[string]string
		for _, document := range tc.Batch {
			members = append(members, map[string]string{"query": document})
		}
		return mustMarshal(t, members)
	case tc.Document != "":
		return documentBody(t, tc)
	}
	return nil
}

func documentBody(t *testing.T, tc *requestCase) []byte {
	t.Helper()

	var body bytes.Buffer
	body.WriteString(`{"query":`)
	body.Write(mustMarshal(t, tc.Document))
	if tc.OperationName != "" {
		body.WriteString(`,"operationName":`)
		body.Write(mustMarshal(t, tc.OperationName))
	}
	if tc.Variables != "" {
		body.WriteString(`,"variables":`)
		body.WriteString(tc.Variables)
	}
	if tc.VariablesString != "" {
		body.WriteString(`,"variables":`)
		body.Write(mustMarshal(t, tc.VariablesString))
	}
	body.WriteString("}")
	return body.Bytes()
}

func mustMarshal(t *testing.T, value any) []byte {
	t.Helper()

	// SetEscapeHTML(false) keeps GraphQL text such as "=>" readable in
	// failure output; the bytes are equivalent JSON either way.
	var out bytes.Buffer
	encoder := json.NewEncoder(&out)
	encoder.SetEscapeHTML(false)
	if err := encoder.Encode(value); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSpace(out.Bytes())
}

func describeRequest(req *Request) requestResult {
	result := requestResult{Batch: req.Batch}
	for i := range req.Elements {
		result.Elements = append(result.Elements, describeElement(&req.Elements[i]))
	}
	return result
}

func describeElement(element *Element) elementResult {
	verdict := "deny"
	if element.Decision.Allow {
		verdict = "allow"
	}
	decision := verdict + " " + string(element.Decision.Reason)
	if element.Decision.Scope != "" {
		decision += " " + element.Decision.Scope
	}

	result := elementResult{Decision: decision, Message: element.Decision.Message}
	for i := range element.Operations {
		result.Operations = append(result.Operations, describeOperation(&element.Operations[i]))
	}
	if executed := element.Operation(); executed != nil {
		result.Executed = operationLabel(executed)
	}
	if element.Variables != nil {
		variables, err := json.Marshal(element.Variables)
		if err != nil {
			variables = []byte(err.Error())
		}
		result.Variables = string(variables)
	}
	return result
}

func describeOperation(operation *Operation) string {
	return operationLabel(operation) + ": " + strings.Join(operation.FieldNames(), ", ")
}

func operationLabel(operation *Operation) string {
	name := operation.Name
	if name == "" {
		name = "(anonymous)"
	}
	return string(operation.Type) + " " + name
}

func writeYAML(t *testing.T, path, header string, value any) {
	t.Helper()

	if err := os.WriteFile(path, []byte(header+dumpYAML(value)), 0o644); err != nil {
		t.Fatal(err)
	}
}

func dumpYAML(value any) string {
	var out bytes.Buffer
	encoder := yaml.NewEncoder(&out)
	encoder.SetIndent(2)
	if err := encoder.Encode(value); err != nil {
		return fmt.Sprintf("encode YAML: %v", err)
	}
	return out.String()
}
