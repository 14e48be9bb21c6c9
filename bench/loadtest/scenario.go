package main

import (
	"encoding/json"
	"fmt"
)

// scenario is one request body that every target is measured with.
type scenario struct {
	Name string
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

// keyScopes are the scopes of the load test's API key: every query, and
// the one mutation of the UI batch, so that every request is forwarded.
const keyScopes = "query/*, mutation/set_project_name"

// scenarios returns the measured request bodies: one small query, and a UI
// batch of uiBatchSize operations.
func scenarios() ([]scenario, error) {
	batch, err := uiBatchBody()
	if err != nil {
		return nil, err
	}
	return []scenario{
		{Name: "one query", Body: []byte(oneQueryBody)},
		{Name: fmt.Sprintf("UI batch of %d", uiBatchSize), Body: batch},
	}, nil
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
