package main_test

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// tenantID is the one tenant of the fake Prefect Server. The proxy learns
// it from the upstream at start-up and reports it to Cloud logins.
const tenantID = "5f3a5a9c-0d40-4a0e-9c4b-3a6a4f1f1a11"

// maxBodyBytes is the MAX_BODY_BYTES the proxy runs with: small enough that
// a test body can exceed it, large enough for a registered flow.
const maxBodyBytes = 65536

// uiOrigin is where the Prefect 1 UI is served from by default.
const uiOrigin = "http://localhost:8080"

// unknownKey looks like a generated key but was never created.
const unknownKey = "pap_Xq9vT3kLmN8pR2sW5yZ7bC4dF6gH1jK0aE3iO9uY2tQ"

// Scopes of the keys the flows use, as an operator would grant them to
// each kind of Prefect 1 client.
const (
	viewerScopes   = "query/*"
	operatorScopes = "query/*, mutation/create_flow_run, mutation/cancel_flow_run, mutation/set_flow_run_states"
	ciScopes       = "query/*, mutation/create_project, mutation/create_flow_from_compressed_string, mutation/create_flow, " +
		"mutation/register_tasks, mutation/register_edges, mutation/set_schedule_active"
	agentScopes = "mutation/register_agent, mutation/get_runs_in_queue, mutation/set_flow_run_states, " +
		"mutation/set_task_run_states, mutation/write_run_logs, mutation/update_flow_run_heartbeat, " +
		"mutation/get_or_create_task_run_info, mutation/set_task_run_name, mutation/set_flow_run_name, " +
		"query/hello, query/agent_config, query/flow_run, query/flow_run_by_pk, query/task_run, query/get_task_run_info"
	adminScopes = "admin/*"
)

// e2e is one proxy process in front of a fake Prefect API, with the keys
// of the client flows and the audit events the flows expect.
type e2e struct {
	workDir  string
	keys     *keyStore
	upstream *fakeUpstream
	proxy    *proxyProcess
	client   *client

	viewer, operator, ci, agent, admin, expired apiKey

	audits  []auditWant
	noAudit []string
	// cacheDeleteID is the request whose path carried a key.
	cacheDeleteID string
}

// auditWant is an audit event that a request must have produced. Empty
// fields are not compared.
type auditWant struct {
	RequestID     string
	Decision      string
	Reason        string
	UserID        string
	KeyPrefix     bool
	OperationType string
	RootFields    []string
	Scope         string
	BatchIndex    int // -1 for a request that is not a batch
}

// TestProxyEndToEnd replays the traffic of the Prefect 1 CLI, agent, flow
// runs and UI through the real binary. The subtests share one proxy and
// run in order: the key revocation flow relies on the key cache that
// earlier requests filled, and the log checks read what all of them wrote.
func TestProxyEndToEnd(t *testing.T) {
	e := setUp(t)

	t.Run("auth login", e.testAuthLogin)
	t.Run("auth switch-tenants", e.testSwitchTenants)
	t.Run("rejected keys", e.testRejectedKeys)
	t.Run("get projects", e.testGetProjects)
	t.Run("create project", e.testCreateProject)
	t.Run("flow registration", e.testFlowRegistration)
	t.Run("prefect run", e.testPrefectRun)
	t.Run("agent polling", e.testAgentPolling)
	t.Run("flow run execution", e.testFlowRunExecution)
	t.Run("ui batch", e.testUIBatch)
	t.Run("admin endpoints", e.testAdminEndpoints)
	t.Run("request errors", e.testRequestErrors)
	t.Run("key revocation", e.testKeyRevocation)
	t.Run("upstream down", e.testUpstreamDown)
	t.Run("graceful drain", e.testGracefulDrain)

	// Stops the proxy, or waits for its exit, if the drain test failed
	// before it did.
	e.proxy.stop(t)
	t.Run("logs", e.testLogs)
}

// setUp creates the keys with the binary's own keys command, starts the
// fake upstream and the proxy, and waits until the proxy has asked the
// upstream for its tenant, so that later upstream requests all come from
// test requests.
func setUp(t *testing.T) *e2e {
	workDir := t.TempDir()
	e := &e2e{
		workDir:  workDir,
		keys:     &keyStore{workDir: workDir, dbPath: filepath.Join(workDir, "keys.db")},
		upstream: newFakeUpstream(t, tenantID),
	}
	e.keys.remember(unknownKey)

	e.viewer = e.keys.create(t, "viewer", viewerScopes)
	e.operator = e.keys.create(t, "operator", operatorScopes)
	e.ci = e.keys.create(t, "ci", ciScopes)
	e.agent = e.keys.create(t, "agent", agentScopes)
	e.admin = e.keys.create(t, "admin", adminScopes)
	e.expired = e.keys.create(t, "expired", viewerScopes)
	e.keys.revoke(t, "expired")

	settings := append(e.keys.environ(),
		"API_SERVICE_URL="+e.upstream.url(),
		"LOG_FORMAT=json",
		"LOG_LEVEL=debug",
		fmt.Sprintf("MAX_BODY_BYTES=%d", maxBodyBytes),
		"CORS_ALLOWED_ORIGINS="+uiOrigin,
		// Long enough that a revoked key stays cached for the whole test.
		"KEY_CACHE_TTL=1h",
		"SHUTDOWN_TIMEOUT=20s",
	)
	e.proxy = startProxy(t, workDir, settings)
	e.client = newClient(e.proxy.baseURL, "e2e", e.keys.remember)

	e.upstream.waitFor(t, "the tenant query", func(r upstreamRequest) bool {
		return bytes.Contains(r.Body, []byte("tenant { id name slug }"))
	})
	return e
}

// outcome is what should become of a client request.
type outcome int

const (
	forwarded     outcome = iota // sent upstream with its original body
	servedLocally                // the proxy returns data itself
	deniedScope                  // FORBIDDEN for a missing scope
	deniedKey                    // UNAUTHENTICATED
)

// step is one GraphQL call of the Prefect 1 Python client.
type step struct {
	name string
	// path is the request path, /graphql when empty. A client configured
	// with the bare proxy URL posts to /.
	path    string
	key     apiKey
	noKey   bool // send no Authorization header
	tenant  bool // send X-PREFECT-TENANT-ID, as the client does once it has the tenant id
	headers map[string]string
	query   string
	// variables is the JSON text the client sends as a string, "" for "null".
	variables string
	want      outcome
	// scope is the missing scope item of a deniedScope step.
	scope string
	// reason is the reason code of a deniedKey step.
	reason string
	check  func(t *testing.T, data map[string]json.RawMessage)
}

// cliHeaders are the headers of every Prefect 1.4.1 client request.
func cliHeaders(key apiKey, tenant bool) map[string]string {
	header := map[string]string{
		"Content-Type":           "application/json",
		"User-Agent":             "python-requests/2.28.1",
		"X-PREFECT-CORE-VERSION": "1.4.1",
	}
	if key.Secret != "" {
		header["Authorization"] = "Bearer " + key.Secret
	}
	if tenant {
		header["X-PREFECT-TENANT-ID"] = tenantID
	}
	return header
}

// runSteps runs each step as a subtest.
func (e *e2e) runSteps(t *testing.T, steps []step) {
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			e.runStep(t, s)
		})
	}
}

func (e *e2e) runStep(t *testing.T, s step) clientResponse {
	variables := s.variables
	if variables == "" {
		variables = "null"
	}
	body := cliBody(s.query, variables)

	key := s.key
	if s.noKey {
		key = apiKey{}
	}
	header := cliHeaders(key, s.tenant)
	for name, value := range s.headers {
		header[name] = value
	}

	before := e.upstream.count()
	response := e.client.send(t, clientRequest{Path: s.path, Header: header, Body: body})
	if response.Status != http.StatusOK {
		t.Fatalf("status = %d, expected 200; body: %s", response.Status, response.Body)
	}
	if contentType := response.Header.Get("Content-Type"); !strings.HasPrefix(contentType, "application/json") {
		t.Errorf("Content-Type = %q, expected application/json", contentType)
	}
	if id := response.Header.Get("X-Request-Id"); id != response.RequestID {
		t.Errorf("X-Request-Id = %q, expected the client's %q", id, response.RequestID)
	}
	result := decodeResult(t, response.Body)
	operationType, fields := describeDocument(t, s.query)

	switch s.want {
	case forwarded:
		e.expectData(t, result)
		e.expectForwarded(t, response, body, header)
		e.expectAllowedAudit(response.RequestID, s.key.User, operationType, fields)
	case servedLocally:
		e.expectData(t, result)
		e.expectNotForwarded(t, before, response)
		e.noAudit = append(e.noAudit, response.RequestID)
	case deniedScope:
		expectError(t, result, "FORBIDDEN", "scope-missing", s.scope)
		e.expectNotForwarded(t, before, response)
		e.audits = append(e.audits, auditWant{
			RequestID: response.RequestID, Decision: "BLOCKED", Reason: "scope-missing", UserID: s.key.User,
			OperationType: operationType, RootFields: fields, Scope: s.scope, BatchIndex: -1,
		})
	case deniedKey:
		expectError(t, result, "UNAUTHENTICATED", s.reason, "")
		e.expectNotForwarded(t, before, response)
		// A key that was found names its user, an unknown key only its prefix.
		e.audits = append(e.audits, auditWant{
			RequestID: response.RequestID, Decision: "BLOCKED", Reason: s.reason, UserID: key.User,
			KeyPrefix: key.Secret != "" && key.User == "", OperationType: operationType, RootFields: fields, BatchIndex: -1,
		})
	}

	if s.check != nil && result.Data != nil {
		s.check(t, result.Data)
	}
	return response
}

// expectAllowedAudit records that an allowed mutation must be audited and
// an allowed query must not.
func (e *e2e) expectAllowedAudit(requestID, user, operationType string, fields []string) {
	if operationType != "mutation" {
		e.noAudit = append(e.noAudit, requestID)
		return
	}
	e.audits = append(e.audits, auditWant{
		RequestID: requestID, Decision: "ALLOWED", Reason: "scope-granted", UserID: user,
		OperationType: operationType, RootFields: fields, BatchIndex: -1,
	})
}

func (e *e2e) expectData(t *testing.T, result graphqlResult) {
	t.Helper()
	if len(result.Errors) > 0 {
		t.Fatalf("errors = %+v, expected none", result.Errors)
	}
	if result.Data == nil {
		t.Fatal("data is null, expected an object")
	}
}

// expectError checks a GraphQL error response. An empty scope is not
// compared.
func expectError(t *testing.T, result graphqlResult, code, reason, scope string) {
	t.Helper()
	if result.Data != nil {
		t.Errorf("data = %v, expected null", result.Data)
	}
	if len(result.Errors) != 1 {
		t.Fatalf("got %d errors, expected 1: %+v", len(result.Errors), result.Errors)
	}

	got := result.Errors[0]
	if got.Extensions.Code != code {
		t.Errorf("errors[0].extensions.code = %q, expected %q", got.Extensions.Code, code)
	}
	if got.Extensions.Reason != reason {
		t.Errorf("errors[0].extensions.reason = %q, expected %q", got.Extensions.Reason, reason)
	}
	if scope != "" && got.Extensions.Scope != scope {
		t.Errorf("errors[0].extensions.scope = %q, expected %q", got.Extensions.Scope, scope)
	}
	if scope != "" && !strings.Contains(got.Message, scope) {
		t.Errorf("errors[0].message = %q, expected it to name the scope %q", got.Message, scope)
	}
	if got.Message == "" {
		t.Error("errors[0].message is empty")
	}
}

// expectForwarded checks that the request arrived upstream exactly once,
// with body unchanged, without credentials, with every other header the
// client set, and with X-Forwarded-For naming the client.
func (e *e2e) expectForwarded(t *testing.T, response clientResponse, body []byte, sent map[string]string) upstreamRequest {
	t.Helper()
	arrived := e.upstream.withRequestID(response.RequestID)
	if len(arrived) != 1 {
		t.Fatalf("upstream received request %s %d times, expected once", response.RequestID, len(arrived))
	}

	got := arrived[0]
	if got.Method != http.MethodPost {
		t.Errorf("upstream method = %s, expected POST", got.Method)
	}
	if !strings.HasPrefix(got.Path, "/graphql") {
		t.Errorf("upstream path = %q, expected it under /graphql", got.Path)
	}
	if !bytes.Equal(got.Body, body) {
		t.Errorf("upstream body differs from the client's body:\nupstream (%d bytes): %.300s\nclient   (%d bytes): %.300s",
			len(got.Body), got.Body, len(body), body)
	}
	expectNoCredentials(t, got)

	for name, value := range sent {
		switch http.CanonicalHeaderKey(name) {
		case "Authorization", "X-Prefect-User-Id", "X-Forwarded-For":
			continue
		}
		if got.Header.Get(name) != value {
			t.Errorf("upstream header %s = %q, expected %q as the client sent it", name, got.Header.Get(name), value)
		}
	}
	return got
}

func expectNoCredentials(t *testing.T, got upstreamRequest) {
	t.Helper()
	if values, ok := got.Header["Authorization"]; ok {
		t.Errorf("upstream received an Authorization header (%d values), expected none", len(values))
	}
	if values, ok := got.Header["X-Prefect-User-Id"]; ok {
		t.Errorf("upstream received an X-Prefect-User-Id header (%d values), expected none", len(values))
	}
	if xff := got.Header.Get("X-Forwarded-For"); xff != "127.0.0.1" {
		t.Errorf("upstream X-Forwarded-For = %q, expected the client address 127.0.0.1", xff)
	}
}

// expectNotForwarded checks that nothing reached the upstream since before.
func (e *e2e) expectNotForwarded(t *testing.T, before int, response clientResponse) {
	t.Helper()
	if arrived := e.upstream.withRequestID(response.RequestID); len(arrived) > 0 {
		t.Errorf("upstream received request %s %d times, expected never", response.RequestID, len(arrived))
	}
	if after := e.upstream.count(); after != before {
		t.Errorf("upstream received %d requests during request %s, expected none", after-before, response.RequestID)
	}
}

// field decodes one member of a data object.
func field[T any](t *testing.T, data map[string]json.RawMessage, name string) T {
	t.Helper()
	var value T
	raw, ok := data[name]
	if !ok {
		t.Fatalf("data has no %q member: %v", name, data)
	}
	if err := json.Unmarshal(raw, &value); err != nil {
		t.Fatalf("data.%s = %s: %v", name, raw, err)
	}
	return value
}

// expectKeys checks that an object has exactly the given members, as the
// Prefect 1 CLI requires of the tenant object it turns into a dataclass.
func expectKeys(t *testing.T, name string, object map[string]any, keys ...string) {
	t.Helper()
	var got []string
	for key := range object {
		got = append(got, key)
	}
	slices.Sort(got)
	slices.Sort(keys)
	if !slices.Equal(got, keys) {
		t.Errorf("%s has members %v, expected exactly %v", name, got, keys)
	}
}

const authInfoQuery = `query {
    auth_info {
        tenant_id
    }
}`

const switchTenantQuery = `query($slug: String) {
    tenant(where: {slug: { _eq: $slug } }) {
        id
    }
}`

func tenantByIDQuery(id string) string {
	return fmt.Sprintf(`query {
    tenant(where: { id: { _eq: %q } }) {
        id
        slug
        name
    }
}`, id)
}

func checkTenantID(t *testing.T, data map[string]json.RawMessage) {
	t.Helper()
	info := field[map[string]any](t, data, "auth_info")
	expectKeys(t, "auth_info", info, "tenant_id")
	if info["tenant_id"] != tenantID {
		t.Errorf("auth_info.tenant_id = %v, expected the upstream tenant %s", info["tenant_id"], tenantID)
	}
}

// testAuthLogin replays prefect auth login -k KEY.
func (e *e2e) testAuthLogin(t *testing.T) {
	e.runSteps(t, []step{
		{
			name: "auth_info without tenant header", path: "/", key: e.viewer, query: authInfoQuery,
			want: servedLocally, check: checkTenantID,
		},
		{
			name: "tenant by id", path: "/", key: e.viewer, tenant: true, query: tenantByIDQuery(tenantID),
			want: servedLocally,
			check: func(t *testing.T, data map[string]json.RawMessage) {
				tenants := field[[]map[string]any](t, data, "tenant")
				if len(tenants) != 1 {
					t.Fatalf("tenant has %d elements, expected 1", len(tenants))
				}
				expectKeys(t, "tenant[0]", tenants[0], "id", "slug", "name")
				want := map[string]any{"id": tenantID, "slug": "default", "name": "Default"}
				for key, value := range want {
					if tenants[0][key] != value {
						t.Errorf("tenant[0].%s = %v, expected %v", key, tenants[0][key], value)
					}
				}
			},
		},
		{
			name: "tenant by unknown id", key: e.viewer, tenant: true, query: tenantByIDQuery(fakeOtherID),
			want: servedLocally,
			check: func(t *testing.T, data map[string]json.RawMessage) {
				if tenants := field[[]map[string]any](t, data, "tenant"); len(tenants) != 0 {
					t.Errorf("tenant = %v, expected an empty list", tenants)
				}
			},
		},
		{
			// Agents ask auth_info for the tenant id they register with,
			// though their key grants no query/auth_info.
			name: "auth_info with agent key", key: e.agent, query: authInfoQuery,
			want: servedLocally, check: checkTenantID,
		},
	})
}

// testSwitchTenants replays prefect auth switch-tenants --slug.
func (e *e2e) testSwitchTenants(t *testing.T) {
	e.runSteps(t, []step{
		{
			name: "known slug", key: e.viewer, tenant: true, query: switchTenantQuery,
			variables: `{"slug": "default"}`, want: servedLocally,
			check: func(t *testing.T, data map[string]json.RawMessage) {
				tenants := field[[]map[string]any](t, data, "tenant")
				if len(tenants) != 1 {
					t.Fatalf("tenant has %d elements, expected 1", len(tenants))
				}
				expectKeys(t, "tenant[0]", tenants[0], "id")
				if tenants[0]["id"] != tenantID {
					t.Errorf("tenant[0].id = %v, expected %s", tenants[0]["id"], tenantID)
				}
			},
		},
		{
			name: "auth_info after switch", key: e.viewer, tenant: true, query: authInfoQuery,
			want: servedLocally, check: checkTenantID,
		},
		{
			name: "wrong slug", key: e.viewer, tenant: true, query: switchTenantQuery,
			variables: `{"slug": "someone-else"}`, want: servedLocally,
			check: func(t *testing.T, data map[string]json.RawMessage) {
				if tenants := field[[]map[string]any](t, data, "tenant"); len(tenants) != 0 {
					t.Errorf("tenant = %v, expected an empty list", tenants)
				}
			},
		},
	})
}

// testRejectedKeys replays the login with keys that must not work.
func (e *e2e) testRejectedKeys(t *testing.T) {
	e.runSteps(t, []step{
		{name: "unknown key", key: apiKey{Secret: unknownKey}, query: authInfoQuery, want: deniedKey, reason: "key-unknown"},
		{name: "expired key", key: e.expired, query: authInfoQuery, want: deniedKey, reason: "key-expired"},
		{name: "missing key", noKey: true, query: authInfoQuery, want: deniedKey, reason: "key-missing"},
		{name: "unknown key on query", key: apiKey{Secret: unknownKey}, tenant: true, query: projectsQuery, want: deniedKey, reason: "key-unknown"},
		{name: "expired key on mutation", key: e.expired, tenant: true, query: createProjectMutation, variables: createProjectVariables, want: deniedKey, reason: "key-expired"},
	})
}

const projectsQuery = `query {
    project(where: { _and: { name: { _eq: null } } }, order_by: { name: asc }) {
        name
        created
        description
        flows_aggregate(distinct_on: name) {
            aggregate {
                count
            }
        }
    }
}`

const createProjectMutation = `mutation($input: create_project_input!) {
    create_project(input: $input) {
        id
    }
}`

var createProjectVariables = fmt.Sprintf(`{"input": {"name": "etl", "description": null, "tenant_id": "%s"}}`, tenantID)

// testGetProjects replays prefect get projects.
func (e *e2e) testGetProjects(t *testing.T) {
	e.runSteps(t, []step{
		{
			name: "viewer", path: "/", key: e.viewer, tenant: true, query: projectsQuery, want: forwarded,
			check: func(t *testing.T, data map[string]json.RawMessage) {
				projects := field[[]map[string]any](t, data, "project")
				if len(projects) != 1 || projects[0]["name"] != "project-name" {
					t.Errorf("project = %v, expected the fake's one project", projects)
				}
			},
		},
		{
			// An X-Forwarded-For sent by the client must not reach the
			// upstream: the proxy sets it to the address of the connection.
			name: "forged forwarded-for", key: e.viewer, tenant: true, query: projectsQuery, want: forwarded,
			headers: map[string]string{"X-Forwarded-For": "203.0.113.9"},
		},
		{name: "agent lacks query/project", key: e.agent, tenant: true, query: projectsQuery, want: deniedScope, scope: "query/project"},
	})
}

// testCreateProject replays prefect create project.
func (e *e2e) testCreateProject(t *testing.T) {
	e.runSteps(t, []step{
		{
			name: "existing project lookup", key: e.ci, tenant: true, want: forwarded,
			query: `query {
    project(where: { name: { _eq: "etl" } }) {
        id
    }
}`,
		},
		{
			name: "ci key", key: e.ci, tenant: true, query: createProjectMutation, variables: createProjectVariables, want: forwarded,
			check: func(t *testing.T, data map[string]json.RawMessage) {
				created := field[map[string]any](t, data, "create_project")
				if created["id"] != fakeProjectID {
					t.Errorf("create_project.id = %v, expected %s", created["id"], fakeProjectID)
				}
			},
		},
		{name: "viewer key", key: e.viewer, tenant: true, query: createProjectMutation, variables: createProjectVariables, want: deniedScope, scope: "mutation/create_project"},
		{name: "operator key", key: e.operator, tenant: true, query: createProjectMutation, variables: createProjectVariables, want: deniedScope, scope: "mutation/create_project"},
		{name: "agent key", key: e.agent, tenant: true, query: createProjectMutation, variables: createProjectVariables, want: deniedScope, scope: "mutation/create_project"},
	})
}

// serializedFlow returns a flow as flow.register() uploads it: JSON,
// gzip-compressed and base64-encoded. The task checksums come from a
// seeded generator, so the text is the same in every run and does not
// compress to nothing.
func serializedFlow(t *testing.T) string {
	t.Helper()
	random := rand.New(rand.NewPCG(1, 4))
	tasks := make([]map[string]any, 1200)
	for i := range tasks {
		tasks[i] = map[string]any{
			"name":     fmt.Sprintf("extract-%d", i),
			"slug":     fmt.Sprintf("extract-%d-1", i),
			"type":     "prefect.tasks.core.function.FunctionTask",
			"checksum": fmt.Sprintf("%016x%016x", random.Uint64(), random.Uint64()),
		}
	}
	flow := map[string]any{"name": "etl-flow", "type": "prefect.core.flow.Flow", "tasks": tasks, "__version__": "1.4.1"}

	var compressed bytes.Buffer
	writer := gzip.NewWriter(&compressed)
	if _, err := writer.Write([]byte(mustJSON(flow))); err != nil {
		t.Fatalf("compress flow: %v", err)
	}
	if err := writer.Close(); err != nil {
		t.Fatalf("compress flow: %v", err)
	}
	return base64.StdEncoding.EncodeToString(compressed.Bytes())
}

const createFlowMutation = `mutation($input: create_flow_from_compressed_string_input!) {
    create_flow_from_compressed_string(input: $input) {
        id
    }
}`

// testFlowRegistration replays flow.register(project_name="etl").
func (e *e2e) testFlowRegistration(t *testing.T) {
	flow := serializedFlow(t)
	createFlowVariables := mustJSON(map[string]any{"input": map[string]any{
		"project_id": fakeProjectID, "serialized_flow": flow, "set_schedule_active": false,
		"version_group_id": nil, "idempotency_key": nil,
	}})
	if size := len(createFlowVariables); size < 16<<10 || size > maxBodyBytes-4096 {
		t.Fatalf("create_flow_from_compressed_string variables are %d bytes, expected a large body below MAX_BODY_BYTES", size)
	}
	flowInput := func(member string, list any) string {
		return mustJSON(map[string]any{"input": map[string]any{"flow_id": fakeFlowID, member: list}})
	}
	tasks := []map[string]any{{"slug": "extract-1-1", "type": "prefect.tasks.core.function.FunctionTask"}}
	edges := []map[string]any{{"upstream_task_slug": "extract-1-1", "downstream_task_slug": "extract-2-1", "key": nil}}

	e.runSteps(t, []step{
		{
			name: "project id", key: e.ci, tenant: true, want: forwarded,
			query: `query {
    project(where: { name: { _eq: "etl" } }) {
        id
    }
}`,
		},
		{
			name: "create flow", key: e.ci, tenant: true, query: createFlowMutation, variables: createFlowVariables, want: forwarded,
			check: func(t *testing.T, data map[string]json.RawMessage) {
				created := field[map[string]any](t, data, "create_flow_from_compressed_string")
				if created["id"] != fakeFlowID {
					t.Errorf("create_flow_from_compressed_string.id = %v, expected %s", created["id"], fakeFlowID)
				}
			},
		},
		{
			name: "register tasks", key: e.ci, tenant: true, want: forwarded, variables: flowInput("serialized_tasks", tasks),
			query: `mutation($input: register_tasks_input!) {
    register_tasks(input: $input) {
        success
    }
}`,
		},
		{
			name: "register edges", key: e.ci, tenant: true, want: forwarded, variables: flowInput("serialized_edges", edges),
			query: `mutation($input: register_edges_input!) {
    register_edges(input: $input) {
        success
    }
}`,
		},
		{
			name: "set schedule active", key: e.ci, tenant: true, want: forwarded,
			variables: mustJSON(map[string]any{"input": map[string]any{"flow_id": fakeFlowID}}),
			query: `mutation($input: set_schedule_active_input!) {
    set_schedule_active(input: $input) {
        success
    }
}`,
		},
		{
			name: "flow group", key: e.ci, tenant: true, want: forwarded,
			query: fmt.Sprintf(`query {
    flow_by_pk(id: %q) {
        flow_group_id
    }
}`, fakeFlowID),
		},
		{
			// Without a where argument the tenant query is not a login and
			// must reach Prefect Server, which lists every tenant.
			name: "default tenant slug", key: e.ci, tenant: true, want: forwarded,
			query: `query {
    tenant {
        id
        slug
    }
}`,
			check: func(t *testing.T, data map[string]json.RawMessage) {
				tenants := field[[]map[string]any](t, data, "tenant")
				if len(tenants) != 1 || tenants[0]["id"] != tenantID || tenants[0]["slug"] != "default" {
					t.Errorf("tenant = %v, expected the upstream's tenant", tenants)
				}
			},
		},
		{name: "viewer cannot register", key: e.viewer, tenant: true, query: createFlowMutation, variables: createFlowVariables, want: deniedScope, scope: "mutation/create_flow_from_compressed_string"},
	})
}

const createFlowRunMutation = `mutation($input: create_flow_run_input!) {
    create_flow_run(input: $input) {
        id
    }
}`

const flowRunStatesMutation = `mutation($input: set_flow_run_states_input!) {
    set_flow_run_states(input: $input) {
        states {
            id
            status
            message
        }
    }
}`

func flowRunStateVariables(state string) string {
	return mustJSON(map[string]any{"input": map[string]any{"states": []map[string]any{{
		"flow_run_id": fakeFlowRunID, "version": 1,
		"state": map[string]any{"type": state, "message": "state set by the test", "__version__": "1.4.1"},
	}}}})
}

// testPrefectRun replays prefect run --name etl-flow --project etl --watch,
// ended with Ctrl-C.
func (e *e2e) testPrefectRun(t *testing.T) {
	createFlowRunVariables := mustJSON(map[string]any{"input": map[string]any{
		"flow_id": fakeFlowID, "idempotency_key": "2b0c1f5e-2f0b-4c4e-8a5a-6a0e7d1c9b11",
		"parameters": map[string]any{"day": "2024-05-01"}, "labels": nil, "flow_run_name": nil,
	}})
	cancelVariables := mustJSON(map[string]any{"input": map[string]any{"flow_run_id": fakeFlowRunID}})
	cancelMutation := `mutation($input: cancel_flow_run_input!) {
    cancel_flow_run(input: $input) {
        state
    }
}`

	e.runSteps(t, []step{
		{
			name: "find flow", key: e.operator, tenant: true, want: forwarded,
			query: `query {
    flow(where: { name: { _eq: "etl-flow" }, archived: { _eq: false }, project: { name: { _eq: "etl" } } }, order_by: { created: desc }) {
        id
        settings
        run_config
        serialized_flow
        name
        archived
        project {
            name
        }
        core_version
        storage
        flow_group {
            labels
        }
    }
}`,
		},
		{
			name: "create flow run", key: e.operator, tenant: true, query: createFlowRunMutation, variables: createFlowRunVariables, want: forwarded,
			check: func(t *testing.T, data map[string]json.RawMessage) {
				created := field[map[string]any](t, data, "create_flow_run")
				if created["id"] != fakeFlowRunID {
					t.Errorf("create_flow_run.id = %v, expected %s", created["id"], fakeFlowRunID)
				}
			},
		},
		{
			name: "watch flow run", key: e.operator, tenant: true, want: forwarded,
			query: fmt.Sprintf(`query {
    flow_run(where: { id: { _eq: %q } }) {
        id
        name
        flow_id
        serialized_state
        states {
            timestamp
            serialized_state
        }
        labels
        parameters
        context
        updated
        run_config
    }
}`, fakeFlowRunID),
		},
		{
			name: "agent health hint", key: e.operator, tenant: true, want: forwarded,
			query: `query {
    agent {
        id
        name
        labels
        last_queried
    }
}`,
		},
		{name: "cancel on ctrl-c", key: e.operator, tenant: true, query: cancelMutation, variables: cancelVariables, want: forwarded},
		{name: "viewer cannot run", key: e.viewer, tenant: true, query: createFlowRunMutation, variables: createFlowRunVariables, want: deniedScope, scope: "mutation/create_flow_run"},
		{name: "ci cannot run", key: e.ci, tenant: true, query: createFlowRunMutation, variables: createFlowRunVariables, want: deniedScope, scope: "mutation/create_flow_run"},
	})
}

const agentID = "7a1d4c62-3e0f-4b9a-8c55-2f6e1d0b9a77"

// testAgentPolling replays a local agent's start-up and one polling round
// that finds a run.
func (e *e2e) testAgentPolling(t *testing.T) {
	asAgent := map[string]string{"X-PREFECT-AGENT-ID": agentID}
	registerVariables := mustJSON(map[string]any{"input": map[string]any{
		"type": "LocalAgent", "name": "agent", "labels": []string{"etl"}, "tenant_id": tenantID, "agent_config_id": nil,
	}})
	queueVariables := mustJSON(map[string]any{"input": map[string]any{
		"before": "2024-05-01T10:00:00.000000+00:00", "labels": []string{"etl"}, "tenant_id": tenantID,
	}})
	getRunsMutation := `mutation($input: get_runs_in_queue_input!) {
    get_runs_in_queue(input: $input) {
        flow_run_ids
    }
}`
	logsVariables := mustJSON(map[string]any{"input": map[string]any{"logs": []map[string]any{{
		"flow_run_id": fakeFlowRunID, "task_run_id": nil, "timestamp": "2024-05-01T10:00:01.000000+00:00",
		"name": "agent", "level": "INFO", "message": "Deploying flow run", "info": map[string]any{},
	}}}})
	writeLogsMutation := `mutation($input: write_run_logs_input!) {
    write_run_logs(input: $input) {
        success
    }
}`

	e.runSteps(t, []step{
		{
			name: "register agent", path: "/", key: e.agent, tenant: true, variables: registerVariables, want: forwarded,
			query: `mutation($input: register_agent_input!) {
    register_agent(input: $input) {
        id
    }
}`,
		},
		{
			name: "connection test", key: e.agent, tenant: true, headers: asAgent, query: "query { hello }", want: forwarded,
			check: func(t *testing.T, data map[string]json.RawMessage) {
				if hello := field[string](t, data, "hello"); hello == "" {
					t.Error("hello is empty")
				}
			},
		},
		{
			name: "poll queue", key: e.agent, tenant: true, headers: asAgent, query: getRunsMutation, variables: queueVariables, want: forwarded,
			check: func(t *testing.T, data map[string]json.RawMessage) {
				queue := field[map[string][]string](t, data, "get_runs_in_queue")
				if !slices.Equal(queue["flow_run_ids"], []string{fakeFlowRunID}) {
					t.Errorf("get_runs_in_queue.flow_run_ids = %v, expected [%s]", queue["flow_run_ids"], fakeFlowRunID)
				}
			},
		},
		{
			name: "load runs", key: e.agent, tenant: true, headers: asAgent, want: forwarded,
			query: fmt.Sprintf(`query {
    flow_run(where: { id: { _in: [%q] }, _or: [{ state: { _eq: "Scheduled" } }, { state: { _eq: "Running" }, task_runs: { state_start_time: { _lte: "2024-05-01T10:00:00+00:00" } } }] }) {
        id
        version
        state
        serialized_state
        parameters
        scheduled_start_time
        run_config
        name
        flow {
            id
            name
            environment
            storage
            version
            core_version
        }
        task_runs(where: { state_start_time: { _lte: "2024-05-01T10:00:00+00:00" } }) {
            id
            version
            task_id
            serialized_state
        }
    }
}`, fakeFlowRunID),
		},
		{name: "mark submitted", key: e.agent, tenant: true, headers: asAgent, query: flowRunStatesMutation, variables: flowRunStateVariables("Submitted"), want: forwarded},
		{name: "agent log", key: e.agent, tenant: true, headers: asAgent, query: writeLogsMutation, variables: logsVariables, want: forwarded},
		{name: "viewer cannot poll", key: e.viewer, tenant: true, headers: asAgent, query: getRunsMutation, variables: queueVariables, want: deniedScope, scope: "mutation/get_runs_in_queue"},
		{name: "operator cannot log", key: e.operator, tenant: true, query: writeLogsMutation, variables: logsVariables, want: deniedScope, scope: "mutation/write_run_logs"},
	})
}

// testFlowRunExecution replays a flow run that the agent started with its
// own key: CloudFlowRunner, heartbeats, one task run and its logs.
func (e *e2e) testFlowRunExecution(t *testing.T) {
	taskStatesVariables := mustJSON(map[string]any{"input": map[string]any{"states": []map[string]any{{
		"task_run_id": fakeTaskRunID, "version": 1,
		"state": map[string]any{"type": "Success", "message": "Task run succeeded.", "__version__": "1.4.1"},
	}}}})
	logsVariables := mustJSON(map[string]any{"input": map[string]any{"logs": []map[string]any{{
		"flow_run_id": fakeFlowRunID, "task_run_id": fakeTaskRunID, "timestamp": "2024-05-01T10:00:02.000000+00:00",
		"name": "prefect.TaskRunner", "level": "INFO", "message": "Task 'extract-1': Finished task run", "info": map[string]any{},
	}}}})

	e.runSteps(t, []step{
		{
			name: "load flow", key: e.agent, tenant: true, want: forwarded,
			query: fmt.Sprintf(`query {
    flow_run(where: { id: { _eq: %q } }) {
        flow {
            name
            storage
            run_config
        }
        version
    }
}`, fakeFlowRunID),
		},
		{
			name: "flow run info", key: e.agent, tenant: true, want: forwarded,
			query: fmt.Sprintf(`query {
    flow_run_by_pk(id: %q) {
        id
        name
        flow_id
        parameters
        context
        version
        scheduled_start_time
        serialized_state
        task_runs(where: { map_index: { _eq: -1 } }) {
            id
            task {
                id
                slug
            }
            version
            serialized_state
        }
        flow {
            project {
                name
                id
            }
        }
    }
}`, fakeFlowRunID),
		},
		{
			name: "heartbeat", key: e.agent, tenant: true, headers: map[string]string{"X-PREFECT-HEARTBEAT-ID": fakeFlowRunID}, want: forwarded,
			query: fmt.Sprintf(`mutation {
    update_flow_run_heartbeat(input: { flow_run_id: %q }) {
        success
    }
}`, fakeFlowRunID),
		},
		{name: "running state", key: e.agent, tenant: true, query: flowRunStatesMutation, variables: flowRunStateVariables("Running"), want: forwarded},
		{
			name: "task run info", key: e.agent, tenant: true, want: forwarded,
			query: fmt.Sprintf(`mutation {
    get_or_create_task_run_info(input: { flow_run_id: %q, task_id: %q, map_index: -1 }) {
        id
        version
        serialized_state
    }
}`, fakeFlowRunID, fakeOtherID),
		},
		{
			name: "task run state", key: e.agent, tenant: true, variables: taskStatesVariables, want: forwarded,
			query: `mutation($input: set_task_run_states_input!) {
    set_task_run_states(input: $input) {
        states {
            id
            status
            message
        }
    }
}`,
		},
		{
			name: "cached state lookup", key: e.agent, tenant: true, want: forwarded,
			query: fmt.Sprintf(`query {
    get_task_run_info(task_run_id: %q) {
        serialized_state
    }
}`, fakeTaskRunID),
		},
		{
			name: "task logs", key: e.agent, tenant: true, variables: logsVariables, want: forwarded,
			query: `mutation($input: write_run_logs_input!) {
    write_run_logs(input: $input) {
        success
    }
}`,
		},
		{name: "final state", key: e.agent, tenant: true, query: flowRunStatesMutation, variables: flowRunStateVariables("Success"), want: forwarded},
		{
			name: "delete flow is denied", key: e.agent, tenant: true, want: deniedScope, scope: "mutation/delete_flow",
			query: fmt.Sprintf(`mutation {
    delete_flow(input: { flow_id: %q }) {
        success
    }
}`, fakeFlowID),
		},
	})
}

// uiElement is one operation in a batch from apollo-link-batch-http.
type uiElement struct {
	OperationName string         `json:"operationName"`
	Variables     map[string]any `json:"variables"`
	Query         string         `json:"query"`
}

// uiBatch returns the elements' JSON texts and the array body that joins
// them, as JSON.stringify writes it.
func uiBatch(elements ...uiElement) ([]string, []byte) {
	raws := make([]string, len(elements))
	for i, element := range elements {
		raws[i] = mustJSON(element)
	}
	return raws, []byte("[" + strings.Join(raws, ",") + "]")
}

// uiHeaders are the headers the Prefect 1 UI's header middleware sets on
// every request in Server mode, with the key put in the user id by hand.
func uiHeaders(secret string) map[string]string {
	return map[string]string{
		"Content-Type":                      "application/json",
		"Origin":                            uiOrigin,
		"X-Prefect-UI":                      "true",
		"X-Backend":                         "SERVER",
		"X-Prefect-Tenant-ID":               "null",
		"X-Prefect-User-ID":                 secret,
		"X-Frame-Options":                   "deny",
		"X-Content-Type-Options":            "nosniff",
		"X-Permitted-Cross-Domain-Policies": "none",
		"Content-Security-Policy":           "default-src 'self'",
	}
}

var (
	uiAPI = uiElement{OperationName: "Api", Variables: map[string]any{}, Query: `query Api {
  api {
    backend
    mode
    version
    __typename
  }
}
`}
	uiDashboard = uiElement{OperationName: "FlowRuns", Variables: map[string]any{"heartbeat": "2024-05-01T00:00:00.000Z"}, Query: `query FlowRuns($heartbeat: timestamptz) {
  Success: flow_run_aggregate(where: {state: {_eq: "Success"}, state_timestamp: {_gte: $heartbeat}}) {
    aggregate {
      count
      __typename
    }
    __typename
  }
  Failed: flow_run_aggregate(where: {state: {_eq: "Failed"}, state_timestamp: {_gte: $heartbeat}}) {
    aggregate {
      count
      __typename
    }
    __typename
  }
}
`}
	uiProjects = uiElement{OperationName: "Projects", Variables: map[string]any{}, Query: `query Projects {
  project(order_by: {name: asc}) {
    id
    name
    __typename
  }
}
`}
	uiRestart = uiElement{OperationName: "SetFlowRunStates", Variables: map[string]any{"flowRunId": fakeFlowRunID, "version": 3, "state": map[string]any{"type": "Scheduled", "message": "Flow run restarted from the UI"}}, Query: `mutation SetFlowRunStates($flowRunId: UUID!, $version: Int!, $state: JSON!) {
  set_flow_run_states(input: {states: [{flow_run_id: $flowRunId, version: $version, state: $state}]}) {
    states {
      id
      status
      __typename
    }
    __typename
  }
}
`}
	uiCancel = uiElement{OperationName: "CancelFlowRun", Variables: map[string]any{"flowRunId": fakeFlowRunID}, Query: `mutation CancelFlowRun($flowRunId: UUID!) {
  cancel_flow_run(input: {flow_run_id: $flowRunId}) {
    state
    __typename
  }
}
`}
)

// testUIBatch replays the Prefect 1 UI: a CORS preflight, batched arrays
// from the default Apollo client and a single object from the fallback one.
func (e *e2e) testUIBatch(t *testing.T) {
	t.Run("preflight", func(t *testing.T) {
		requested := "content-type,x-prefect-ui,x-backend,x-prefect-tenant-id,x-prefect-user-id,x-frame-options," +
			"x-content-type-options,x-permitted-cross-domain-policies,content-security-policy"
		before := e.upstream.count()
		response := e.client.send(t, clientRequest{Method: http.MethodOptions, Header: map[string]string{
			"Origin":                         uiOrigin,
			"Access-Control-Request-Method":  "POST",
			"Access-Control-Request-Headers": requested,
		}})

		if response.Status != http.StatusNoContent {
			t.Errorf("status = %d, expected 204", response.Status)
		}
		expectAllowOrigin(t, response, uiOrigin)
		if got := response.Header.Get("Access-Control-Allow-Headers"); got != requested {
			t.Errorf("Access-Control-Allow-Headers = %q, expected the requested %q", got, requested)
		}
		if got := response.Header.Get("Access-Control-Allow-Methods"); !strings.Contains(got, "POST") {
			t.Errorf("Access-Control-Allow-Methods = %q, expected it to contain POST", got)
		}
		e.expectNotForwarded(t, before, response)
	})

	t.Run("preflight from other origin", func(t *testing.T) {
		response := e.client.send(t, clientRequest{Method: http.MethodOptions, Header: map[string]string{
			"Origin":                        "http://evil.example",
			"Access-Control-Request-Method": "POST",
		}})
		if got := response.Header.Values("Access-Control-Allow-Origin"); len(got) != 0 {
			t.Errorf("Access-Control-Allow-Origin = %q, expected none for an origin not in CORS_ALLOWED_ORIGINS", got)
		}
	})

	t.Run("partly denied batch", func(t *testing.T) {
		raws, body := uiBatch(uiAPI, uiDashboard, uiRestart, uiProjects, uiCancel)
		header := uiHeaders(e.viewer.Secret)
		before := e.upstream.count()
		response := e.client.send(t, clientRequest{Header: header, Body: body})

		if response.Status != http.StatusOK {
			t.Fatalf("status = %d, expected 200; body: %s", response.Status, response.Body)
		}
		expectAllowOrigin(t, response, uiOrigin)
		results := decodeBatch(t, response.Body)
		if len(results) != 5 {
			t.Fatalf("response has %d results, expected one per operation (5)", len(results))
		}
		expectBatchData(t, results, 0, "api")
		expectBatchData(t, results, 1, "Success")
		expectBatchData(t, results, 3, "project")
		expectError(t, results[2], "FORBIDDEN", "scope-missing", "mutation/set_flow_run_states")
		expectError(t, results[4], "FORBIDDEN", "scope-missing", "mutation/cancel_flow_run")

		// Only the allowed elements go upstream, byte for byte, as an array.
		forwardedBody := []byte("[" + strings.Join([]string{raws[0], raws[1], raws[3]}, ",") + "]")
		e.expectForwarded(t, response, forwardedBody, header)
		if after := e.upstream.count(); after != before+1 {
			t.Errorf("upstream received %d requests, expected 1", after-before)
		}

		for _, denied := range []struct {
			index int
			field string
		}{{2, "set_flow_run_states"}, {4, "cancel_flow_run"}} {
			e.audits = append(e.audits, auditWant{
				RequestID: response.RequestID, Decision: "BLOCKED", Reason: "scope-missing", UserID: "viewer",
				OperationType: "mutation", RootFields: []string{denied.field}, Scope: "mutation/" + denied.field, BatchIndex: denied.index,
			})
		}
	})

	t.Run("allowed batch", func(t *testing.T) {
		_, body := uiBatch(uiAPI, uiDashboard, uiRestart, uiProjects, uiCancel)
		header := uiHeaders(e.operator.Secret)
		response := e.client.send(t, clientRequest{Header: header, Body: body})

		if response.Status != http.StatusOK {
			t.Fatalf("status = %d, expected 200; body: %s", response.Status, response.Body)
		}
		expectAllowOrigin(t, response, uiOrigin)
		results := decodeBatch(t, response.Body)
		if len(results) != 5 {
			t.Fatalf("response has %d results, expected 5", len(results))
		}
		for i, name := range []string{"api", "Success", "set_flow_run_states", "project", "cancel_flow_run"} {
			expectBatchData(t, results, i, name)
		}
		e.expectForwarded(t, response, body, header)

		for _, allowed := range []struct {
			index int
			field string
		}{{2, "set_flow_run_states"}, {4, "cancel_flow_run"}} {
			e.audits = append(e.audits, auditWant{
				RequestID: response.RequestID, Decision: "ALLOWED", Reason: "scope-granted", UserID: "operator",
				OperationType: "mutation", RootFields: []string{allowed.field}, BatchIndex: allowed.index,
			})
		}
	})

	t.Run("fully denied batch", func(t *testing.T) {
		_, body := uiBatch(uiRestart, uiCancel)
		before := e.upstream.count()
		response := e.client.send(t, clientRequest{Header: uiHeaders(e.viewer.Secret), Body: body})

		if response.Status != http.StatusOK {
			t.Fatalf("status = %d, expected 200; body: %s", response.Status, response.Body)
		}
		expectAllowOrigin(t, response, uiOrigin)
		results := decodeBatch(t, response.Body)
		if len(results) != 2 {
			t.Fatalf("response has %d results, expected 2", len(results))
		}
		expectError(t, results[0], "FORBIDDEN", "scope-missing", "mutation/set_flow_run_states")
		expectError(t, results[1], "FORBIDDEN", "scope-missing", "mutation/cancel_flow_run")
		e.expectNotForwarded(t, before, response)
	})

	t.Run("batch without key", func(t *testing.T) {
		// The UI sends the string "null" until a key is put in its store.
		_, body := uiBatch(uiAPI, uiProjects)
		before := e.upstream.count()
		response := e.client.send(t, clientRequest{Header: uiHeaders("null"), Body: body})

		if response.Status != http.StatusOK {
			t.Fatalf("status = %d, expected 200; body: %s", response.Status, response.Body)
		}
		expectAllowOrigin(t, response, uiOrigin)
		results := decodeBatch(t, response.Body)
		if len(results) != 2 {
			t.Fatalf("response has %d results, expected 2", len(results))
		}
		for i := range results {
			expectError(t, results[i], "UNAUTHENTICATED", "key-missing", "")
		}
		e.expectNotForwarded(t, before, response)
		e.audits = append(e.audits, auditWant{
			RequestID: response.RequestID, Decision: "BLOCKED", Reason: "key-missing",
			OperationType: "query", RootFields: []string{"api"}, BatchIndex: 0,
		})
	})

	t.Run("fallback client object", func(t *testing.T) {
		body := []byte(mustJSON(uiAPI))
		header := uiHeaders(e.viewer.Secret)
		response := e.client.send(t, clientRequest{Header: header, Body: body})

		if response.Status != http.StatusOK {
			t.Fatalf("status = %d, expected 200; body: %s", response.Status, response.Body)
		}
		expectAllowOrigin(t, response, uiOrigin)
		e.expectData(t, decodeResult(t, response.Body))
		e.expectForwarded(t, response, body, header)
	})
}

// expectAllowOrigin checks that a response carries exactly one
// Access-Control-Allow-Origin, the proxy's, and not the upstream's "*".
func expectAllowOrigin(t *testing.T, response clientResponse, origin string) {
	t.Helper()
	got := response.Header.Values("Access-Control-Allow-Origin")
	if len(got) != 1 || got[0] != origin {
		t.Errorf("Access-Control-Allow-Origin = %q, expected exactly [%q]", got, origin)
	}
}

func expectBatchData(t *testing.T, results []graphqlResult, index int, member string) {
	t.Helper()
	result := results[index]
	if len(result.Errors) > 0 {
		t.Errorf("result %d has errors %+v, expected data", index, result.Errors)
		return
	}
	if _, ok := result.Data[member]; !ok {
		t.Errorf("result %d data = %v, expected a %q member", index, result.Data, member)
	}
}

// adminResponse is the body of an admin endpoint's response.
type adminResponse struct {
	Status  string            `json:"status"`
	Ready   bool              `json:"ready"`
	Checks  map[string]string `json:"checks"`
	Removed *bool             `json:"removed"`
	Error   string            `json:"error"`
	Reason  string            `json:"reason"`
	Scope   string            `json:"scope"`
}

func decodeAdmin(t *testing.T, response clientResponse) adminResponse {
	t.Helper()
	var body adminResponse
	if err := json.Unmarshal(response.Body, &body); err != nil {
		t.Fatalf("admin response is not JSON: %v\n%s", err, response.Body)
	}
	return body
}

func bearer(key apiKey) map[string]string {
	return map[string]string{"Authorization": "Bearer " + key.Secret}
}

// testAdminEndpoints checks the proxy's own endpoints and their guard.
func (e *e2e) testAdminEndpoints(t *testing.T) {
	t.Run("healthcheck is public", func(t *testing.T) {
		response := e.client.send(t, clientRequest{Method: http.MethodGet, Path: "/healthcheck"})
		if response.Status != http.StatusOK {
			t.Errorf("status = %d, expected 200", response.Status)
		}
		if body := decodeAdmin(t, response); body.Status != "ok" {
			t.Errorf("status member = %q, expected ok", body.Status)
		}
	})

	t.Run("readyz", func(t *testing.T) {
		response := e.client.send(t, clientRequest{Method: http.MethodGet, Path: "/readyz"})
		if response.Status != http.StatusOK {
			t.Errorf("status = %d, expected 200; body: %s", response.Status, response.Body)
		}
		body := decodeAdmin(t, response)
		if !body.Ready || body.Checks["key_store"] != "ok" || body.Checks["upstream"] != "ok" {
			t.Errorf("readiness = %+v, expected ready with key_store and upstream ok", body)
		}
	})

	cases := []struct {
		name      string
		header    map[string]string
		status    int
		reason    string
		user      string
		keyPrefix bool
	}{
		{name: "cache reset by viewer", header: bearer(e.viewer), status: http.StatusForbidden, reason: "scope-missing", user: "viewer"},
		{name: "cache reset without key", status: http.StatusUnauthorized, reason: "key-missing"},
		{name: "cache reset by unknown key", header: bearer(apiKey{Secret: unknownKey}), status: http.StatusUnauthorized, reason: "key-unknown", keyPrefix: true},
		{name: "cache reset by expired key", header: bearer(e.expired), status: http.StatusUnauthorized, reason: "key-expired", user: "expired"},
		{name: "cache reset by admin", header: bearer(e.admin), status: http.StatusOK, user: "admin"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := e.upstream.count()
			response := e.client.send(t, clientRequest{Method: http.MethodPost, Path: "/cache/reset", Header: c.header})

			if response.Status != c.status {
				t.Errorf("status = %d, expected %d; body: %s", response.Status, c.status, response.Body)
			}
			body := decodeAdmin(t, response)
			e.expectNotForwarded(t, before, response)

			if c.status == http.StatusOK {
				if body.Status != "cache reset" {
					t.Errorf("status member = %q, expected \"cache reset\"", body.Status)
				}
				e.audits = append(e.audits, auditWant{RequestID: response.RequestID, Decision: "ALLOWED", Reason: "scope-granted", UserID: c.user, Scope: "admin/*", BatchIndex: -1})
				return
			}
			if body.Reason != c.reason {
				t.Errorf("reason = %q, expected %q", body.Reason, c.reason)
			}
			if c.reason == "scope-missing" && body.Scope != "admin/cache" {
				t.Errorf("scope = %q, expected admin/cache", body.Scope)
			}
			e.audits = append(e.audits, auditWant{
				RequestID: response.RequestID, Decision: "BLOCKED", Reason: c.reason, UserID: c.user, KeyPrefix: c.keyPrefix, BatchIndex: -1,
			})
		})
	}

	t.Run("log level by viewer", func(t *testing.T) {
		response := e.client.send(t, clientRequest{Method: http.MethodPost, Path: "/logs/error", Header: bearer(e.viewer)})
		if response.Status != http.StatusForbidden {
			t.Errorf("status = %d, expected 403; body: %s", response.Status, response.Body)
		}
		if body := decodeAdmin(t, response); body.Scope != "admin/logs" {
			t.Errorf("scope = %q, expected admin/logs", body.Scope)
		}
	})
}

// testRequestErrors sends requests that cannot be authorized at all, and
// one whose body is exactly MAX_BODY_BYTES long, which is still forwarded.
func (e *e2e) testRequestErrors(t *testing.T) {
	t.Run("body at limit", func(t *testing.T) {
		padding := maxBodyBytes - len(cliBody("query { hello }", "null"))
		body := cliBody("query { hello }"+strings.Repeat(" ", padding), "null")
		if len(body) != maxBodyBytes {
			t.Fatalf("test body is %d bytes, expected %d", len(body), maxBodyBytes)
		}
		header := cliHeaders(e.viewer, true)
		response := e.client.send(t, clientRequest{Header: header, Body: body})

		if response.Status != http.StatusOK {
			t.Fatalf("status = %d, expected 200; body: %.300s", response.Status, response.Body)
		}
		e.expectData(t, decodeResult(t, response.Body))
		e.expectForwarded(t, response, body, header)
	})

	largeQuery := "query { hello }" + strings.Repeat(" ", maxBodyBytes)
	largeBody := cliBody(largeQuery, "null")
	viewerCLI := cliHeaders(e.viewer, true)

	cases := []struct {
		name    string
		request clientRequest
		status  int
		reason  string
		allow   string // expected Allow header of a 405
	}{
		{
			name:    "body over limit",
			request: clientRequest{Header: viewerCLI, Body: largeBody},
			status:  http.StatusRequestEntityTooLarge, reason: "body-too-large",
		},
		{
			name:    "chunked body over limit",
			request: clientRequest{Header: viewerCLI, Body: largeBody, Chunked: true},
			status:  http.StatusRequestEntityTooLarge, reason: "body-too-large",
		},
		{
			name: "plain text body",
			request: clientRequest{
				Header: map[string]string{"Authorization": "Bearer " + e.viewer.Secret, "Content-Type": "text/plain"},
				Body:   cliBody("query { hello }", "null"),
			},
			status: http.StatusUnsupportedMediaType, reason: "content-type-unsupported",
		},
		{
			name: "mutation over GET",
			request: clientRequest{
				Method: http.MethodGet, Header: bearer(e.admin),
				Path: "/graphql?query=" + strings.ReplaceAll(`mutation{create_project(input:{name:"x"}){id}}`, " ", "%20"),
			},
			status: http.StatusMethodNotAllowed, reason: "mutation-over-get", allow: "GET, POST",
		},
		{
			name:    "malformed JSON",
			request: clientRequest{Header: viewerCLI, Body: []byte(`{"query": "query { hello }", "variables": `)},
			status:  http.StatusBadRequest, reason: "request-invalid",
		},
		{
			name:    "PUT method",
			request: clientRequest{Method: http.MethodPut, Header: viewerCLI, Body: cliBody("query { hello }", "null")},
			status:  http.StatusMethodNotAllowed, reason: "method-not-allowed", allow: "GET, POST",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := e.upstream.count()
			response := e.client.send(t, c.request)

			if response.Status != c.status {
				t.Errorf("status = %d, expected %d; body: %s", response.Status, c.status, response.Body)
			}
			if got := response.Header.Get("Allow"); got != c.allow {
				t.Errorf("Allow = %q, expected %q", got, c.allow)
			}
			result := decodeResult(t, response.Body)
			expectError(t, result, "BAD_REQUEST", c.reason, "")
			e.expectNotForwarded(t, before, response)
			// Every case sends a key, and the request is rejected before the
			// key is looked up, so the event names the key by its prefix.
			e.audits = append(e.audits, auditWant{RequestID: response.RequestID, Decision: "BLOCKED", Reason: c.reason, KeyPrefix: true, BatchIndex: -1})
		})
	}
}

// testKeyRevocation revokes keys that the proxy has cached and checks that
// the cache endpoints make the revocation effective at once.
func (e *e2e) testKeyRevocation(t *testing.T) {
	hello := func(key apiKey, want outcome, reason string) step {
		return step{name: "hello", key: key, tenant: true, query: "query { hello }", want: want, reason: reason}
	}

	t.Run("DELETE cache key", func(t *testing.T) {
		leaver := e.keys.create(t, "leaver", viewerScopes)
		e.runStep(t, hello(leaver, forwarded, ""))
		e.keys.revoke(t, "leaver")
		// The key stays cached for KEY_CACHE_TTL (1h here).
		e.runStep(t, hello(leaver, forwarded, ""))

		response := e.client.send(t, clientRequest{Method: http.MethodDelete, Path: "/cache/" + leaver.Secret, Header: bearer(e.admin)})
		if response.Status != http.StatusOK {
			t.Fatalf("DELETE /cache/{key} status = %d, expected 200; body: %s", response.Status, response.Body)
		}
		if body := decodeAdmin(t, response); body.Removed == nil || !*body.Removed {
			t.Errorf("DELETE /cache/{key} response = %s, expected removed true", response.Body)
		}
		e.cacheDeleteID = response.RequestID

		e.runStep(t, hello(leaver, deniedKey, "key-expired"))
	})

	t.Run("cache reset", func(t *testing.T) {
		leaver := e.keys.create(t, "leaver2", viewerScopes)
		e.runStep(t, hello(leaver, forwarded, ""))
		e.keys.revoke(t, "leaver2")

		response := e.client.send(t, clientRequest{Method: http.MethodPost, Path: "/cache/reset", Header: bearer(e.admin)})
		if response.Status != http.StatusOK {
			t.Fatalf("POST /cache/reset status = %d, expected 200; body: %s", response.Status, response.Body)
		}

		e.runStep(t, hello(leaver, deniedKey, "key-expired"))
	})
}

// testUpstreamDown runs a second proxy in front of a closed port, with
// GRAPHQL_DENIAL_STATUS=http, on the same key file.
func (e *e2e) testUpstreamDown(t *testing.T) {
	settings := append(e.keys.environ(),
		fmt.Sprintf("API_SERVICE_URL=http://127.0.0.1:%d/graphql", freePort(t)),
		"LOG_FORMAT=json",
		"LOG_LEVEL=debug",
		"GRAPHQL_DENIAL_STATUS=http",
		"SHUTDOWN_TIMEOUT=20s",
	)
	proxy := startProxy(t, e.workDir, settings)
	down := newClient(proxy.baseURL, "down", e.keys.remember)

	cases := []struct {
		name      string
		key       apiKey
		query     string
		variables string
		status    int
		code      string
	}{
		{name: "allowed query", key: e.viewer, query: projectsQuery, variables: "null", status: http.StatusBadGateway, code: "BAD_GATEWAY"},
		{name: "missing scope", key: e.viewer, query: createProjectMutation, variables: createProjectVariables, status: http.StatusForbidden, code: "FORBIDDEN"},
		{name: "unknown key", key: apiKey{Secret: unknownKey}, query: projectsQuery, variables: "null", status: http.StatusUnauthorized, code: "UNAUTHENTICATED"},
		// Without the upstream the proxy cannot learn the tenant id.
		{name: "login", key: e.viewer, query: authInfoQuery, variables: "null", status: http.StatusServiceUnavailable, code: "INTERNAL_SERVER_ERROR"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			response := down.send(t, clientRequest{Header: cliHeaders(c.key, true), Body: cliBody(c.query, c.variables)})
			if response.Status != c.status {
				t.Errorf("status = %d, expected %d; body: %s", response.Status, c.status, response.Body)
			}
			result := decodeResult(t, response.Body)
			if len(result.Errors) != 1 || result.Errors[0].Extensions.Code != c.code {
				t.Errorf("errors = %+v, expected one with code %s", result.Errors, c.code)
			}
		})
	}

	t.Run("readyz", func(t *testing.T) {
		response := down.send(t, clientRequest{Method: http.MethodGet, Path: "/readyz"})
		if response.Status != http.StatusServiceUnavailable {
			t.Errorf("status = %d, expected 503; body: %s", response.Status, response.Body)
		}
		if body := decodeAdmin(t, response); body.Ready || body.Checks["upstream"] == "ok" {
			t.Errorf("readiness = %+v, expected not ready because of the upstream", body)
		}
	})

	proxy.stop(t)
	lines := proxy.output.lines()
	parseLogLines(t, lines)
	expectNoSecrets(t, lines, e.keys.allSecrets())
}

// testGracefulDrain sends SIGTERM while a request waits for the upstream,
// and checks that the request still gets its response and the proxy exits 0.
func (e *e2e) testGracefulDrain(t *testing.T) {
	id := e.client.requestID()
	arrived, release := e.upstream.hold(id)
	defer release()

	header := cliHeaders(e.viewer, true)
	header["X-Request-Id"] = id
	body := cliBody(projectsQuery, "null")
	type outcome struct {
		response clientResponse
		err      error
	}
	done := make(chan outcome, 1)
	go func() {
		response, err := e.client.do(clientRequest{Header: header, Body: body})
		done <- outcome{response, err}
	}()

	select {
	case <-arrived:
	case <-time.After(requestTimeout):
		t.Fatalf("request %s did not reach the upstream within %s", id, requestTimeout)
	}
	e.proxy.terminate(t)
	e.proxy.waitListenerClosed(t)
	release()

	result := <-done
	if result.err != nil {
		t.Fatalf("request in flight at SIGTERM failed: %v", result.err)
	}
	if result.response.Status != http.StatusOK {
		t.Errorf("status of the request in flight = %d, expected 200; body: %s", result.response.Status, result.response.Body)
	}
	e.expectData(t, decodeResult(t, result.response.Body))
	e.expectForwarded(t, result.response, body, header)
	e.proxy.waitExit(t)
}

// testLogs reads the stopped proxy's output: every line is a JSON object,
// the audit trail has the expected events, and no key appears anywhere.
func (e *e2e) testLogs(t *testing.T) {
	lines := e.proxy.output.lines()
	records := parseLogLines(t, lines)

	t.Run("no keys", func(t *testing.T) {
		expectNoSecrets(t, lines, e.keys.allSecrets())
	})

	t.Run("audit events", func(t *testing.T) {
		for _, want := range e.audits {
			expectAudit(t, records, want)
		}
	})

	t.Run("no audit for allowed queries", func(t *testing.T) {
		for _, id := range e.noAudit {
			for _, record := range records {
				if record["msg"] == "PREFECT_AUDIT_TRAIL" && record["request_id"] == id {
					t.Errorf("request %s has an audit event, expected none for an allowed query: %v", id, record)
				}
			}
		}
	})

	t.Run("key path hidden", func(t *testing.T) {
		if e.cacheDeleteID == "" {
			t.Skip("the key revocation flow did not run")
		}
		found := false
		for _, record := range records {
			if record["msg"] == "request" && record["request_id"] == e.cacheDeleteID {
				found = true
				if record["path"] != "/cache/<key>" {
					t.Errorf("access log path = %v, expected /cache/<key>", record["path"])
				}
			}
		}
		if !found {
			t.Errorf("no access log line for request %s", e.cacheDeleteID)
		}
	})

	t.Run("graceful stop", func(t *testing.T) {
		for _, record := range records {
			if record["msg"] == "stopped" {
				return
			}
		}
		t.Error("no \"stopped\" line after SIGTERM")
	})
}

// parseLogLines checks that every output line is a JSON object, as
// LOG_FORMAT=json promises, and returns the objects.
func parseLogLines(t *testing.T, lines []string) []map[string]any {
	t.Helper()
	if len(lines) == 0 {
		t.Fatal("the proxy wrote no output")
	}

	var records []map[string]any
	for i, line := range lines {
		var record map[string]any
		if err := json.Unmarshal([]byte(line), &record); err != nil {
			t.Errorf("output line %d is not a JSON object: %v\n%s", i+1, err, line)
			continue
		}
		records = append(records, record)
	}
	return records
}

// expectAudit finds the audit event of a request (and batch position) and
// compares it with want.
func expectAudit(t *testing.T, records []map[string]any, want auditWant) {
	t.Helper()
	var event map[string]any
	for _, record := range records {
		if record["msg"] != "PREFECT_AUDIT_TRAIL" || record["request_id"] != want.RequestID {
			continue
		}
		index, hasIndex := record["batch_index"].(float64)
		if (want.BatchIndex < 0 && !hasIndex) || (hasIndex && int(index) == want.BatchIndex) {
			event = record
			break
		}
	}
	if event == nil {
		t.Errorf("no audit event for request %s (batch index %d), expected %+v", want.RequestID, want.BatchIndex, want)
		return
	}

	compare := func(key, expected string) {
		got, _ := event[key].(string)
		if got != expected {
			t.Errorf("request %s: audit %s = %q, expected %q", want.RequestID, key, got, expected)
		}
	}
	compare("decision", want.Decision)
	compare("reason", want.Reason)
	compare("user_id", want.UserID)
	if want.OperationType != "" {
		compare("operation_type", want.OperationType)
	}
	if want.Scope != "" {
		compare("scope", want.Scope)
	}
	if want.RootFields != nil {
		var got []string
		fields, _ := event["root_fields"].([]any)
		for _, field := range fields {
			name, _ := field.(string)
			got = append(got, name)
		}
		if !slices.Equal(got, want.RootFields) {
			t.Errorf("request %s: audit root_fields = %v, expected %v", want.RequestID, got, want.RootFields)
		}
	}
	if _, has := event["key_prefix"]; has != want.KeyPrefix {
		t.Errorf("request %s: audit has key_prefix = %v, expected %v", want.RequestID, has, want.KeyPrefix)
	}
}

// expectNoSecrets checks that no output line contains one of secrets: the
// keys and every credential header value the clients sent.
func expectNoSecrets(t *testing.T, lines, secrets []string) {
	t.Helper()
	for i, line := range lines {
		for _, secret := range secrets {
			if strings.Contains(line, secret) {
				t.Errorf("output line %d contains the key of prefix %.8s…", i+1, secret)
			}
		}
	}
}
