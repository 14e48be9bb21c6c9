package scope

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

var update = flag.Bool("update", false, "rewrite the expected results in testdata/*.yaml")

// parseCase is one entry of testdata/parse.yaml. Grant and Problems are the
// expected results, which -update rewrites.
type parseCase struct {
	Name     string   `yaml:"name"`
	Scopes   string   `yaml:"scopes"`
	Grant    string   `yaml:"grant"`
	Problems []string `yaml:"problems,omitempty"`
}

func TestParseGolden(t *testing.T) {
	path := filepath.Join("testdata", "parse.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	var cases []parseCase
	if err := yaml.Unmarshal(data, &cases); err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}

	for i := range cases {
		tc := &cases[i]
		grant, problems := Parse(tc.Scopes)
		gotProblems := errorStrings(problems)

		if *update {
			tc.Grant = grant.String()
			tc.Problems = gotProblems
			continue
		}

		t.Run(tc.Name, func(t *testing.T) {
			if got := grant.String(); got != tc.Grant {
				t.Errorf("Parse(%q) grant = %q, want %q", tc.Scopes, got, tc.Grant)
			}
			if !slices.Equal(gotProblems, tc.Problems) {
				t.Errorf("Parse(%q) problems =\n%s\nwant\n%s", tc.Scopes,
					strings.Join(gotProblems, "\n"), strings.Join(tc.Problems, "\n"))
			}
		})
	}

	if *update {
		writeYAML(t, path, cases)
	}
}

func writeYAML(t *testing.T, path string, value any) {
	t.Helper()

	var out bytes.Buffer
	encoder := yaml.NewEncoder(&out)
	encoder.SetIndent(2)
	if err := encoder.Encode(value); err != nil {
		t.Fatalf("encode %s: %v", path, err)
	}
	if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func errorStrings(errs []error) []string {
	var out []string
	for _, err := range errs {
		out = append(out, err.Error())
	}
	return out
}

func TestGrantAllowField(t *testing.T) {
	grant, problems := Parse("query/*, mutation/create_flow_run, mutation/cancel_flow_run, subscription/flow_run")
	if len(problems) > 0 {
		t.Fatalf("unexpected problems: %v", problems)
	}

	tests := []struct {
		op       Operation
		field    string
		wantItem string
		wantOK   bool
	}{
		{Query, "flow", "query/*", true},
		{Query, "__schema", "query/*", true},
		{Query, "__type", "query/*", true},
		{Query, "__typename", "", true},
		{Mutation, "create_flow_run", "mutation/create_flow_run", true},
		{Mutation, "cancel_flow_run", "mutation/cancel_flow_run", true},
		{Mutation, "Create_flow_run", "", false},
		{Mutation, "delete_project", "", false},
		{Mutation, "__typename", "", true},
		{Mutation, "__schema", "", false},
		{Subscription, "flow_run", "subscription/flow_run", true},
		{Subscription, "flow", "", false},
		{Operation("Query"), "flow", "", false},
		{Operation("fragment"), "flow", "", false},
		{Operation(""), "flow", "", false},
		{Mutation, "", "", false},
	}
	for _, tc := range tests {
		item, ok := grant.AllowField(tc.op, tc.field)
		if item != tc.wantItem || ok != tc.wantOK {
			t.Errorf("AllowField(%q, %q) = (%q, %v), want (%q, %v)",
				tc.op, tc.field, item, ok, tc.wantItem, tc.wantOK)
		}
	}
}

func TestGrantIntrospectionFields(t *testing.T) {
	grant, _ := Parse("query/__schema")

	if item, ok := grant.AllowField(Query, "__schema"); !ok || item != "query/__schema" {
		t.Errorf("AllowField(query, __schema) = (%q, %v), want (query/__schema, true)", item, ok)
	}
	if _, ok := grant.AllowField(Query, "__type"); ok {
		t.Error("query/__schema allows __type")
	}
	if _, ok := grant.AllowField(Query, "flow"); ok {
		t.Error("query/__schema allows flow")
	}
}

func TestGrantAllowAdmin(t *testing.T) {
	tests := []struct {
		scopes   string
		area     string
		wantItem string
		wantOK   bool
	}{
		{"admin/logs", AdminLogs, "admin/logs", true},
		{"admin/logs", AdminCache, "", false},
		{"admin/cache", AdminCache, "admin/cache", true},
		{"ADMIN/Cache", AdminCache, "admin/cache", true},
		{"admin/*", AdminLogs, "admin/*", true},
		{"admin/*", AdminCache, "admin/*", true},
		{"admin/*", "keys", "admin/*", true},
		{"admin/*", "", "", false},
		{"admin/logs", "LOGS", "", false},
		{"query/*, mutation/*", AdminLogs, "", false},
		{"", AdminLogs, "", false},
	}
	for _, tc := range tests {
		grant, _ := Parse(tc.scopes)
		item, ok := grant.AllowAdmin(tc.area)
		if item != tc.wantItem || ok != tc.wantOK {
			t.Errorf("Parse(%q).AllowAdmin(%q) = (%q, %v), want (%q, %v)",
				tc.scopes, tc.area, item, ok, tc.wantItem, tc.wantOK)
		}
	}
}

func TestGrantNil(t *testing.T) {
	var grant *Grant

	if _, ok := grant.AllowField(Query, "flow"); ok {
		t.Error("nil grant allows query flow")
	}
	if _, ok := grant.AllowField(Query, "__typename"); !ok {
		t.Error("nil grant refuses __typename")
	}
	if _, ok := grant.AllowAdmin(AdminLogs); ok {
		t.Error("nil grant allows admin logs")
	}
	if got := grant.String(); got != "" {
		t.Errorf("nil grant String() = %q, want empty", got)
	}
	if got := grant.Items(); got != nil {
		t.Errorf("nil grant Items() = %q, want nil", got)
	}
}

func TestGrantItemsCopy(t *testing.T) {
	grant, _ := Parse("query/flow, mutation/*")

	items := grant.Items()
	if want := []string{"query/flow", "mutation/*"}; !slices.Equal(items, want) {
		t.Fatalf("Items() = %q, want %q", items, want)
	}

	items[0] = "query/*"
	if _, ok := grant.AllowField(Query, "project"); ok {
		t.Error("changing the slice from Items changed the grant")
	}
	if got := grant.Items()[0]; got != "query/flow" {
		t.Errorf("Items()[0] after change = %q, want query/flow", got)
	}
}

func TestParseProblemTypes(t *testing.T) {
	tests := []struct {
		scopes string
		want   error
	}{
		{"query", ErrItemUnknown},
		{"graphql/flow", ErrItemUnknown},
		{"query/flow-run", ErrFieldInvalid},
		{"admin/keys", ErrAdminAreaUnknown},
		{"role/admin", ErrRoleUnknown},
		{"GTE:/api/flows/*", ErrMethodUnknown},
		{"GET:/api/../flows", ErrPatternInvalid},
		{"/api/flows?x=1", ErrPatternInvalid},
		{`{"GET": "/api/flows"}`, ErrRouteMapInvalid},
		{`{"GET": ["/api/flows"]`, ErrRouteMapInvalid},
		{`{"FETCH": ["/api/flows"]}`, ErrMethodUnknown},
		{`["GET:/api/flows"]`, ErrRouteListInvalid},
	}
	for _, tc := range tests {
		grant, problems := Parse(tc.scopes)
		if len(problems) != 1 {
			t.Errorf("Parse(%q) returned %d problems, want 1", tc.scopes, len(problems))
			continue
		}

		var itemErr *ItemError
		if !errors.As(problems[0], &itemErr) {
			t.Errorf("Parse(%q) problem %T is not an *ItemError", tc.scopes, problems[0])
		}
		if !errors.Is(problems[0], tc.want) {
			t.Errorf("Parse(%q) problem = %v, want %v", tc.scopes, problems[0], tc.want)
		}
		if got := grant.String(); got != "" {
			t.Errorf("Parse(%q) grant = %q, want empty", tc.scopes, got)
		}
	}
}

func TestRequiredItem(t *testing.T) {
	if got := RequiredItem(Mutation, "create_flow_run"); got != "mutation/create_flow_run" {
		t.Errorf("RequiredItem(mutation, create_flow_run) = %q", got)
	}
	if got := RequiredItem(Query, "__schema"); got != "query/__schema" {
		t.Errorf("RequiredItem(query, __schema) = %q", got)
	}
}

func TestLookupsDoNotAllocate(t *testing.T) {
	grant, _ := Parse("query/flow, query/project, mutation/create_flow_run, admin/logs")
	wildcardGrant, _ := Parse("query/*, admin/*")
	field := strings.Repeat("create_flow_run", 1)

	allocs := testing.AllocsPerRun(100, func() {
		grant.AllowField(Query, "flow")
		grant.AllowField(Mutation, field)
		grant.AllowField(Mutation, "delete_project")
		grant.AllowField(Query, "__typename")
		grant.AllowAdmin(AdminLogs)
		grant.AllowAdmin(AdminCache)
		wildcardGrant.AllowField(Query, "anything")
		wildcardGrant.AllowAdmin(AdminCache)
	})
	if allocs != 0 {
		t.Errorf("lookups allocate %v times per run, want 0", allocs)
	}
}

func FuzzParse(f *testing.F) {
	seeds := []string{
		"",
		"mutation/*, query/*",
		"query/project,mutation/create_flow_run",
		"admin/*, admin/logs, ADMIN/cache",
		`GET:/api/flows/*, {"GET": ["/a", "/b"]}, role/viewer`,
		`["a,b", {"c": "d\"e,"}], query/x`,
		"query/1x, query/, /x, ,,, query/__schema",
		"Subscription/flow_run, MUTATION/x",
		`{"GET": ["api/flows/*", "api/deployments/*"], "POST": ["api/*"]}`,
		"role/viewer, ROLE/Owner, role/x, *:/api/flows/{id}, /api/*, api/health, get:api/x",
		`{"*": ["*.svg"], "get": ["/a/{b}/c/*"], "GET": [1]}, {"POST": []}`,
	}
	for _, seed := range seeds {
		f.Add(seed)
	}

	f.Fuzz(func(t *testing.T, text string) {
		grant, problems := Parse(text)
		if grant == nil {
			t.Fatal("Parse returned a nil grant")
		}
		for _, problem := range problems {
			if _, ok := problem.(*ItemError); !ok {
				t.Fatalf("problem %T is not an *ItemError", problem)
			}
		}

		// The canonical form must parse cleanly back into the same grant.
		again, againProblems := Parse(grant.String())
		if len(againProblems) > 0 {
			t.Fatalf("canonical form %q has problems: %v", grant.String(), againProblems)
		}
		if again.String() != grant.String() {
			t.Fatalf("canonical form is not stable: %q then %q", grant.String(), again.String())
		}

		// Every item must allow what it names.
		for _, item := range grant.Items() {
			checkItemAllowsItself(t, grant, item)
		}
	})
}

// checkItemAllowsItself fails when a canonical item does not allow what it
// names. A route item must allow its own glob with each "*" removed and
// each {name} replaced by one segment, which is a path the glob matches.
func checkItemAllowsItself(t *testing.T, grant *Grant, item string) {
	t.Helper()

	if method, pattern, ok := strings.Cut(item, ":/"); ok && isMethodName(method) {
		if method == anyMethod {
			method = "PATCH"
		}
		path := examplePath("/" + pattern)
		if _, ok := grant.AllowRoute(method, path); !ok {
			t.Fatalf("item %q does not allow %s %q", item, method, path)
		}
		return
	}

	keyword, name, _ := strings.Cut(item, "/")
	switch keyword {
	case "admin":
		if _, ok := grant.AllowAdmin(name); !ok && name != wildcard {
			t.Fatalf("item %q does not allow its own area", item)
		}
	case "role":
		if !grant.HasRole(name) {
			t.Fatalf("item %q does not grant its own role", item)
		}
	default:
		if _, ok := grant.AllowField(Operation(keyword), name); !ok {
			t.Fatalf("item %q does not allow its own field", item)
		}
	}
}

// examplePath turns a glob into a path that it matches.
func examplePath(pattern string) string {
	var out strings.Builder
	for i := 0; i < len(pattern); i++ {
		switch c := pattern[i]; c {
		case '*':
		case '{':
			i += strings.IndexByte(pattern[i:], '}')
			out.WriteString("x")
		default:
			out.WriteByte(c)
		}
	}
	return out.String()
}

func TestGrantRoles(t *testing.T) {
	grant, problems := Parse("ROLE/Runner, role/viewer, role/runner, query/*")
	if len(problems) > 0 {
		t.Fatalf("unexpected problems: %v", problems)
	}

	if want := []string{RoleViewer, RoleRunner}; !slices.Equal(grant.Roles(), want) {
		t.Errorf("Roles() = %q, want %q", grant.Roles(), want)
	}
	for _, name := range []string{RoleViewer, RoleRunner} {
		if !grant.HasRole(name) {
			t.Errorf("HasRole(%q) = false, want true", name)
		}
	}
	for _, name := range []string{RoleWorker, RoleDeveloper, RoleOwner, "Runner", "", "admin"} {
		if grant.HasRole(name) {
			t.Errorf("HasRole(%q) = true, want false", name)
		}
	}

	var empty *Grant
	if empty.HasRole(RoleViewer) || empty.Roles() != nil {
		t.Error("nil grant has roles")
	}
}

func TestRoleNamesAndItems(t *testing.T) {
	want := []string{"viewer", "runner", "worker", "developer", "owner"}
	if got := RoleNames(); !slices.Equal(got, want) {
		t.Errorf("RoleNames() = %q, want %q", got, want)
	}
	for _, name := range want {
		if got := RoleItem(name); got != "role/"+name {
			t.Errorf("RoleItem(%q) = %q", name, got)
		}
	}
}

func TestGrantAllowRoute(t *testing.T) {
	grant, problems := Parse(`query/*, POST:/api/deployments/*/create_flow_run, get:api/flows/*, ` +
		`*:/api/variables/name/{name}, /api/logs/, {"DELETE": ["api/artifacts/*"], "*": ["api/ui/*"]}`)
	if len(problems) > 0 {
		t.Fatalf("unexpected problems: %v", problems)
	}

	tests := []struct {
		method, path string
		wantItem     string
		wantOK       bool
	}{
		{"POST", "/api/deployments/5f3a/create_flow_run", "POST:/api/deployments/*/create_flow_run", true},
		{"post", "/api/deployments/5f3a/create_flow_run", "POST:/api/deployments/*/create_flow_run", true},
		{"POST", "/api/deployments/a/b/create_flow_run", "POST:/api/deployments/*/create_flow_run", true},
		{"GET", "/api/deployments/5f3a/create_flow_run", "", false},
		{"POST", "/api/deployments/5f3a/create_flow_run/bulk", "", false},
		{"GET", "/api/flows", "GET:/api/flows/*", true},
		{"GET", "/api/flows/", "GET:/api/flows/*", true},
		{"GET", "/api/flows/1/2", "GET:/api/flows/*", true},
		{"GET", "/api/flowsx", "", false},
		{"PATCH", "/api/flows/1", "", false},
		{"PATCH", "/api/variables/name/x", "*:/api/variables/name/{name}", true},
		{"GET", "/api/variables/name/x/y", "", false},
		{"GET", "/api/variables/name/", "", false},
		{"POST", "/api/logs/", "*:/api/logs/", true},
		{"POST", "/api/logs", "", false},
		{"DELETE", "/api/artifacts/1", "DELETE:/api/artifacts/*", true},
		{"PUT", "/api/ui/flows/next-runs", "*:/api/ui/*", true},
		{"GET", "/api", "", false},
	}
	for _, tc := range tests {
		item, ok := grant.AllowRoute(tc.method, tc.path)
		if item != tc.wantItem || ok != tc.wantOK {
			t.Errorf("AllowRoute(%q, %q) = (%q, %v), want (%q, %v)",
				tc.method, tc.path, item, ok, tc.wantItem, tc.wantOK)
		}
	}

	var empty *Grant
	if _, ok := empty.AllowRoute("GET", "/api/flows"); ok {
		t.Error("nil grant allows a route")
	}
}

func TestGraphQLGrantIgnoresRoutes(t *testing.T) {
	grant, problems := Parse(`query/flow, role/owner, *:/*, {"*": ["*"]}`)
	if len(problems) > 0 {
		t.Fatalf("unexpected problems: %v", problems)
	}

	if _, ok := grant.AllowField(Mutation, "delete_flow"); ok {
		t.Error("route items and roles allow a GraphQL mutation")
	}
	if _, ok := grant.AllowAdmin(AdminCache); ok {
		t.Error("route items and roles allow an admin area")
	}
}

func TestParseRouteMap(t *testing.T) {
	set, err := ParseRouteMap(`{"GET": ["api/health", "/api/ready", "*.svg"], "post": ["api/flows/filter"], "GET": ["api/health"], "DELETE": []}`)
	if err != nil {
		t.Fatal(err)
	}

	want := []string{"GET:/*.svg", "POST:/api/flows/filter", "GET:/api/health", "GET:/api/ready"}
	if got := set.Items(); !slices.Equal(got, want) {
		t.Errorf("Items() = %q, want %q", got, want)
	}
	if set.Len() != 4 {
		t.Errorf("Len() = %d, want 4", set.Len())
	}
	if _, ok := set.Allow("GET", "/img/logo.svg"); !ok {
		t.Error("GET:/*.svg does not allow /img/logo.svg")
	}
	if _, ok := set.Allow("POST", "/api/health"); ok {
		t.Error("GET:/api/health allows POST")
	}
}

func TestParseRouteMapErrors(t *testing.T) {
	tests := []struct {
		text string
		want error
	}{
		{``, ErrRouteMapInvalid},
		{`[]`, ErrRouteMapInvalid},
		{`{"GET": ["/a"]} {}`, ErrRouteMapInvalid},
		{`{"GET": ["/a"],}`, ErrRouteMapInvalid},
		{`{"GET": null}`, ErrRouteMapInvalid},
		{`{"GET": [null]}`, ErrRouteMapInvalid},
		{`{"GET": ["/a", 2]}`, ErrRouteMapInvalid},
		{`{"get it": ["/a"]}`, ErrMethodUnknown},
		{`{"GET": ["/a/../b"]}`, ErrPatternInvalid},
		{`{"GET": ["/a", "/b?c"], "POST": ["//x"]}`, ErrPatternInvalid},
	}
	for _, tc := range tests {
		set, err := ParseRouteMap(tc.text)
		if !errors.Is(err, tc.want) {
			t.Errorf("ParseRouteMap(%q) error = %v, want %v", tc.text, err, tc.want)
		}
		if set != nil {
			t.Errorf("ParseRouteMap(%q) returned a set with an error", tc.text)
		}
	}

	var empty *RouteSet
	if _, ok := empty.Allow("GET", "/"); ok || empty.Items() != nil || empty.Len() != 0 {
		t.Error("nil RouteSet is not empty")
	}
}

func TestRouteLookupsDoNotAllocate(t *testing.T) {
	grant, _ := Parse(`role/viewer, POST:/api/deployments/*/create_flow_run, GET:/api/flows/*, ` +
		`*:/api/variables/name/{name}, {"DELETE": ["api/artifacts/*"], "*": ["api/ui/*/count"]}`)
	method := strings.ToLower("get")

	allocs := testing.AllocsPerRun(100, func() {
		grant.AllowRoute("POST", "/api/deployments/5f3a5a9c-0d40-4a0e-9c4b-3a6a4f1f1a11/create_flow_run")
		grant.AllowRoute(method, "/api/flows")
		grant.AllowRoute("GET", "/api/variables/name/x")
		grant.AllowRoute("PUT", "/api/ui/task_runs/count")
		grant.AllowRoute("PATCH", "/api/work_pools/default/queues/default")
		grant.HasRole(RoleViewer)
		grant.HasRole(RoleOwner)
	})
	if allocs != 0 {
		t.Errorf("route lookups allocate %v times per run, want 0", allocs)
	}
}
