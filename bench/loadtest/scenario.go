package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// apiMode is the Prefect API that a scenario addresses. It decides which
// bare ReverseProxy and which proxy process measure the scenario.
type apiMode string

const (
	// modeGraphQL is Prefect 1: POST of a GraphQL body to the target's URL.
	modeGraphQL apiMode = "graphql"
	// modeREST is Prefect 2 and 3: REST requests under /api.
	modeREST apiMode = "rest"
)

// allModes lists the API modes in the order they are measured and shown.
var allModes = []apiMode{modeGraphQL, modeREST}

// scenario is one request that every target of its mode is measured with.
type scenario struct {
	Name string
	// BenchmarkName names the scenario in BenchmarkPipeline. It has no
	// slash, which would start another level of sub-benchmark names.
	BenchmarkName string
	Mode          apiMode
	Method        string
	// Path is appended to the target's URL: empty for GraphQL, where the
	// URL already names the endpoint, and the request path in REST mode.
	Path string
	// Body is the request body, or nil for none. A request with a body
	// has Content-Type: application/json.
	Body []byte
}

// oneQueryBody is a single Prefect 1 query in the Python client's wire
// shape: variables as the JSON-encoded string "null".
const oneQueryBody = `{"query":"query { flow(limit: 10) { id name } }","variables":"null"}`

// uiDocuments are operations in the shape the Prefect 1 UI sends through its
// batch link: named operations, variables as objects, __typename in every
// selection set. They are the documents of the authorizer benchmark in
// internal/authz/graphql. One of the five is a mutation, so a batch of 25
// carries five mutations, and the proxy writes an audit event for each.
var uiDocuments = []struct {
	name, variables, query string
}{
	{"Agents", `{}`, "query Agents {\n  agent {\n    id\n    name\n    labels\n    last_queried\n    __typename\n  }\n}\n"},
	{"FlowRuns", `{"limit": 10, "offset": 0}`, "query FlowRuns($limit: Int, $offset: Int) {\n  flow_run(limit: $limit, offset: $offset, order_by: {start_time: desc}) {\n    id\n    name\n    state\n    start_time\n    flow {\n      id\n      name\n      __typename\n    }\n    __typename\n  }\n}\n"},
	{"Dashboard", `{"projectId": null}`, "query Dashboard($projectId: uuid) {\n  Success: flow_run_aggregate(where: {state: {_eq: \"Success\"}, flow: {project_id: {_eq: $projectId}}}) {\n    aggregate {\n      count\n      __typename\n    }\n    __typename\n  }\n  Failed: flow_run_aggregate(where: {state: {_eq: \"Failed\"}, flow: {project_id: {_eq: $projectId}}}) {\n    aggregate {\n      count\n      __typename\n    }\n    __typename\n  }\n  Running: flow_run_aggregate(where: {state: {_eq: \"Running\"}, flow: {project_id: {_eq: $projectId}}}) {\n    aggregate {\n      count\n      __typename\n    }\n    __typename\n  }\n}\n"},
	{"Projects", `{}`, "query Projects {\n  projects: project(order_by: {name: asc}) {\n    id\n    name\n    description\n    __typename\n  }\n}\n"},
	{"SetProjectName", `{"input": {"project_id": "p1", "name": "renamed"}}`, "mutation SetProjectName($input: set_project_name_input!) {\n  set_project_name(input: $input) {\n    success\n    __typename\n  }\n}\n"},
}

// keyScopes are the scopes of the GraphQL proxy's API key: every query,
// and the one mutation of the UI batch, so that every request is forwarded.
const keyScopes = "query/*, mutation/set_project_name"

// restKeyScopes are the scopes of the REST proxy's API key. role/viewer
// allows every read, including the POST routes that filter.
const restKeyScopes = "role/viewer"

// flowID is the flow that the REST read scenario requests.
const flowID = "0b8f4c5e-2d1a-4f7b-9a63-5c2e8d1f3a70"

// flowRunFilterBody is a small body of POST /api/flow_runs/filter in the
// schema of Prefect 3's filter routes: the newest ten runs of one flow.
const flowRunFilterBody = `{"flows":{"id":{"any_":["` + flowID + `"]}},"sort":"START_TIME_DESC","limit":10,"offset":0}`

// scenarios returns the measured requests of the given modes, in the order
// of allModes. GraphQL has one small query and a UI batch of uiBatchSize
// operations. REST has a read of one flow and a filter of flow runs.
func scenarios(modes []apiMode) ([]scenario, error) {
	var selected []scenario
	for _, mode := range allModes {
		if !slices.Contains(modes, mode) {
			continue
		}

		switch mode {
		case modeGraphQL:
			batch, err := uiBatchBody()
			if err != nil {
				return nil, err
			}
			batchName := fmt.Sprintf("UI batch of %d", uiBatchSize)
			selected = append(selected,
				scenario{Name: "one query", BenchmarkName: "one query", Mode: modeGraphQL, Method: http.MethodPost, Body: []byte(oneQueryBody)},
				scenario{Name: batchName, BenchmarkName: batchName, Mode: modeGraphQL, Method: http.MethodPost, Body: batch},
			)
		case modeREST:
			selected = append(selected,
				scenario{Name: "GET /api/flows/{id}", BenchmarkName: "REST get flow", Mode: modeREST,
					Method: http.MethodGet, Path: "/api/flows/" + flowID},
				scenario{Name: "POST /api/flow_runs/filter", BenchmarkName: "REST filter flow runs", Mode: modeREST,
					Method: http.MethodPost, Path: "/api/flow_runs/filter", Body: []byte(flowRunFilterBody)},
			)
		}
	}
	return selected, nil
}

// parseModes parses the --modes flag: a comma-separated list of API modes.
func parseModes(text string) ([]apiMode, error) {
	var modes []apiMode
	for _, item := range strings.Split(text, ",") {
		mode := apiMode(strings.TrimSpace(item))
		if !slices.Contains(allModes, mode) {
			return nil, usageError(fmt.Sprintf("--modes: %q is not an API mode: give graphql, rest or both, separated by a comma", item))
		}
		if !slices.Contains(modes, mode) {
			modes = append(modes, mode)
		}
	}
	return modes, nil
}

// uiBatchBody returns a JSON array of uiBatchSize operations that cycles
// through uiDocuments.
func uiBatchBody() ([]byte, error) {
	type operation struct {
		OperationName string          `json:"operationName"`
		Variables     json.RawMessage `json:"variables"`
		Query         string          `json:"query"`
	}

	operations := make([]operation, 0, uiBatchSize)
	for i := range uiBatchSize {
		document := uiDocuments[i%len(uiDocuments)]
		operations = append(operations, operation{document.name, json.RawMessage(document.variables), document.query})
	}

	body, err := json.Marshal(operations)
	if err != nil {
		return nil, fmt.Errorf("encode UI batch: %w", err)
	}
	return body, nil
}
