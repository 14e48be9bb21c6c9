package graphql

import (
	"encoding/base64"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"testing"
)

// uiDocuments are documents in the shape the Prefect 1 UI sends through its
// batch link: named operations, aliases, __typename in every selection set.
var uiDocuments = []struct {
	name, variables, query string
}{
	{"Agents", `{}`, "query Agents {\n  agent {\n    id\n    name\n    labels\n    last_queried\n    __typename\n  }\n}\n"},
	{"FlowRuns", `{"limit": 10, "offset": 0}`, "query FlowRuns($limit: Int, $offset: Int) {\n  flow_run(limit: $limit, offset: $offset, order_by: {start_time: desc}) {\n    id\n    name\n    state\n    start_time\n    flow {\n      id\n      name\n      __typename\n    }\n    __typename\n  }\n}\n"},
	{"Dashboard", `{"projectId": null}`, "query Dashboard($projectId: uuid) {\n  Success: flow_run_aggregate(where: {state: {_eq: \"Success\"}, flow: {project_id: {_eq: $projectId}}}) {\n    aggregate {\n      count\n      __typename\n    }\n    __typename\n  }\n  Failed: flow_run_aggregate(where: {state: {_eq: \"Failed\"}, flow: {project_id: {_eq: $projectId}}}) {\n    aggregate {\n      count\n      __typename\n    }\n    __typename\n  }\n  Running: flow_run_aggregate(where: {state: {_eq: \"Running\"}, flow: {project_id: {_eq: $projectId}}}) {\n    aggregate {\n      count\n      __typename\n    }\n    __typename\n  }\n}\n"},
	{"Projects", `{}`, "query Projects {\n  projects: project(order_by: {name: asc}) {\n    id\n    name\n    description\n    __typename\n  }\n}\n"},
	{"SetProjectName", `{"input": {"project_id": "p1", "name": "renamed"}}`, "mutation SetProjectName($input: set_project_name_input!) {\n  set_project_name(input: $input) {\n    success\n    __typename\n  }\n}\n"},
}

// uiBatchBody returns a JSON array of 25 UI operations, the UI's batchMax.
func uiBatchBody(b *testing.B) []byte {
	b.Helper()

	type member struct {
		OperationName string          `json:"operationName"`
		Variables     json.RawMessage `json:"variables"`
		Query         string          `json:"query"`
	}
	var members []member
	for i := 0; i < 25; i++ {
		document := uiDocuments[i%len(uiDocuments)]
		members = append(members, member{document.name, json.RawMessage(document.variables), document.query})
	}

	body, err := json.Marshal(members)
	if err != nil {
		b.Fatal(err)
	}
	return body
}

// registrationBody returns a create_flow_from_compressed_string call in the
// Python client's wire shape, with variables as a JSON-encoded string that
// holds about 20 KB of base64 serialized flow.
func registrationBody(b *testing.B) []byte {
	b.Helper()

	random := rand.New(rand.NewPCG(1, 2))
	flow := make([]byte, 15000)
	for i := range flow {
		flow[i] = byte(random.UintN(256))
	}

	variables, err := json.Marshal(map[string]any{"input": map[string]any{
		"project_id":          "5f3a5a9c-0d40-4a0e-9c4b-3a6a4f1f1a11",
		"serialized_flow":     base64.StdEncoding.EncodeToString(flow),
		"set_schedule_active": false,
		"version_group_id":    nil,
		"idempotency_key":     "8d3c0d6c1b1e4f6a",
	}})
	if err != nil {
		b.Fatal(err)
	}

	body, err := json.Marshal(map[string]string{
		"query":     "mutation($input: create_flow_from_compressed_string_input!) {\n    create_flow_from_compressed_string(input: $input) {\n        id\n    }\n}",
		"variables": string(variables),
	})
	if err != nil {
		b.Fatal(err)
	}
	return body
}

func BenchmarkAuthorize(b *testing.B) {
	grant := mustGrant(b, "query/*, mutation/set_project_name, mutation/create_flow_from_compressed_string")
	bodies := []struct {
		name string
		body []byte
	}{
		{"ui-batch-25", uiBatchBody(b)},
		{"registration-20KB", registrationBody(b)},
		{"one-field-query", []byte(`{"query": "query {\n    hello\n}", "variables": "null"}`)},
	}

	for _, tc := range bodies {
		b.Run(tc.name+"/parse-and-authorize", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(tc.body)))
			for b.Loop() {
				req, err := ParseRequest(http.MethodPost, "application/json", nil, tc.body)
				if err != nil {
					b.Fatal(err)
				}
				Authorize(req, grant)
				if !req.AllAllowed() {
					b.Fatal("benchmark request denied")
				}
			}
		})

		b.Run(tc.name+"/authorize-only", func(b *testing.B) {
			req, err := ParseRequest(http.MethodPost, "application/json", nil, tc.body)
			if err != nil {
				b.Fatal(err)
			}

			b.ReportAllocs()
			for b.Loop() {
				Authorize(req, grant)
			}
		})
	}
}
