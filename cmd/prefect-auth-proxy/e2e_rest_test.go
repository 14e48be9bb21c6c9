package main_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// upstreamAuthString is PREFECT_SERVER_API_AUTH_STRING of the fake Prefect
// server and UPSTREAM_AUTH_STRING of the proxy in front of it.
const upstreamAuthString = "prefect-admin:upstream-password-7Qx"

// publicURL is the PUBLIC_URL of the proxy without an upstream auth string.
const publicURL = "https://prefect.example.com"

// permittedRoutes is the PERMITTED_ROUTES_JSON of the proxy without an
// upstream auth string.
const permittedRoutes = `{"GET": ["api/version", "api/flows/*"]}`

// routeKeyScopes are the scopes of the key that has route scopes and no
// role.
const routeKeyScopes = "GET:/api/flows/*, POST:/api/flows/filter"

// Ids in the replayed paths and bodies.
const (
	restFlowID       = "3b1f6a52-8c4e-4d1a-9f07-2e6b5c8d9a01"
	restDeploymentID = "3b1f6a52-8c4e-4d1a-9f07-2e6b5c8d9a02"
	restFlowRunID    = "3b1f6a52-8c4e-4d1a-9f07-2e6b5c8d9a03"
	restBlockID      = "3b1f6a52-8c4e-4d1a-9f07-2e6b5c8d9a04"
	restQueueID      = "3b1f6a52-8c4e-4d1a-9f07-2e6b5c8d9a05"
	restScheduleID   = "3b1f6a52-8c4e-4d1a-9f07-2e6b5c8d9a06"
	restWorkerID     = "3b1f6a52-8c4e-4d1a-9f07-2e6b5c8d9a07"
	restCSRFClient   = "3b1f6a52-8c4e-4d1a-9f07-2e6b5c8d9a08"
)

// poolPath is the API path of a work pool whose name has a space, which
// the Python client percent-encodes and the proxy must forward as sent.
const poolPath = "/api/work_pools/k8s%20pool"

// Headers of the Prefect 3.6.22 Python client, and of a browser running
// the Prefect UI.
const (
	clientUserAgent  = "prefect/3.6.22 (API 0.8.4)"
	browserUserAgent = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
)

// roleSet is the built-in roles that may make a request.
type roleSet []string

var (
	everyRole    = roleSet{"viewer", "runner", "worker", "developer", "owner"}
	runtimeRoles = roleSet{"worker", "developer", "owner"}
	runRoles     = roleSet{"runner", "developer", "owner"}
	// stateRoles may call set_state (run control or runtime) and
	// create_flow_run (run control, or run_deployment() in a worker's flow).
	stateRoles  = roleSet{"runner", "worker", "developer", "owner"}
	deployRoles = roleSet{"developer", "owner"}
	ownerRole   = roleSet{"owner"}
)

// restKey is a key of the suite: one per built-in role, and one with
// route scopes only (role "").
type restKey struct {
	role string
	key  apiKey
}

func (k restKey) name() string {
	if k.role == "" {
		return "route scopes"
	}
	return k.role
}

// authStyle is how a client sends its key.
type authStyle int

const (
	authBasicUserKey authStyle = iota // PREFECT_API_AUTH_STRING=<user_id>:<key>
	authBasicKey                      // the UI login form with the key typed in
	authBearer                        // PREFECT_API_KEY=<key>
)

func (a authStyle) String() string {
	switch a {
	case authBasicUserKey:
		return "basic user_id:key"
	case authBasicKey:
		return "basic key"
	}
	return "bearer"
}

// restCall is one request of a replayed client.
type restCall struct {
	name   string
	method string
	// path is the escaped path and query, exactly as the client sends it
	// and as the upstream must receive it.
	path string
	// header is added to the client's headers. An empty value removes
	// one of them.
	header map[string]string
	body   string
	// allow lists the roles that may make the call. A route-scope key may
	// make it when routeKeyAllows returns true.
	allow roleSet
	// public calls need no key at all.
	public bool
	// status is the upstream's status, which the client must receive.
	// Zero means 200.
	status int
	// audit is the route of the ALLOWED audit event that a write or a read
	// of secret values produces. Other reads have no audit event.
	audit string
	// secrets marks calls that request secret values: a viewer or runner,
	// who may read the route otherwise, is rejected with secrets-refused.
	secrets bool
}

// restAudit is an audit event that the proxy must have written.
type restAudit struct {
	requestID string
	decision  string
	reason    string
	userID    string
	// method is "WEBSOCKET" for a websocket session.
	method    string
	route     string
	keyPrefix bool
	// headers are the attribution header members, e.g.
	// "header_x_prefect_worker_name".
	headers map[string]string
}

// restE2E is a proxy in REST mode in front of a fake Prefect 3 server.
type restE2E struct {
	keys         *keyStore
	upstreamAuth string
	upstream     *fakePrefect
	proxy        *proxyProcess
	client       *client
	sockets      *socketClient
	roleKeys     []restKey

	audits  []restAudit
	noAudit []string
}

// TestRESTEndToEnd replays the traffic of Prefect 3 workers, flow runs,
// the UI, runners and prefect deploy through the real binary, under every
// built-in role, against a fake Prefect 3 server with an auth string. The
// subtests run in order, and the log checks read what all of them wrote.
func TestRESTEndToEnd(t *testing.T) {
	workDir := t.TempDir()
	keys := &keyStore{workDir: workDir, dbPath: filepath.Join(workDir, "keys.db")}
	keys.remember(unknownKey)

	var roleKeys []restKey
	for _, role := range everyRole {
		roleKeys = append(roleKeys, restKey{role: role, key: keys.create(t, role, "role/"+role)})
	}
	roleKeys = append(roleKeys, restKey{key: keys.create(t, "flows-reader", routeKeyScopes)})

	e := startREST(t, keys, roleKeys, upstreamAuthString, "KEY_CACHE_TTL=1s", "WEBSOCKET_CHECK_INTERVAL=200ms")

	t.Run("worker and flow run", e.testWorkerFlowRun)
	t.Run("ui session", e.testUISession)
	t.Run("ui without key", e.testUIWithoutKey)
	t.Run("runner", e.testRunner)
	t.Run("prefect deploy", e.testDeploy)
	t.Run("rejected credentials", e.testRejectedCredentials)
	t.Run("path tricks", e.testPathTricks)
	t.Run("websockets", e.testWebSockets)
	t.Run("websocket revocation", e.testWebSocketRevocation)

	e.proxy.stop(t)
	t.Run("logs", e.testLogs)

	t.Run("without upstream auth string", func(t *testing.T) {
		plain := startREST(t, keys, roleKeys, "", "PUBLIC_URL="+publicURL, "PERMITTED_ROUTES_JSON="+permittedRoutes)
		plain.testWithoutUpstreamAuth(t)
		plain.proxy.stop(t)
		t.Run("logs", plain.testLogs)
	})
}

// startREST starts a fake Prefect 3 server with authString and a proxy in
// REST mode in front of it, with UPSTREAM_AUTH_STRING=authString.
func startREST(t *testing.T, keys *keyStore, roleKeys []restKey, authString string, settings ...string) *restE2E {
	t.Helper()
	e := &restE2E{keys: keys, upstreamAuth: authString, upstream: newFakePrefect(t, authString), roleKeys: roleKeys}

	environ := append(keys.environ(),
		"API_SERVICE_URL="+e.upstream.url(),
		"LOG_FORMAT=json",
		"LOG_LEVEL=debug",
		"SHUTDOWN_TIMEOUT=20s",
	)
	if authString != "" {
		environ = append(environ, "UPSTREAM_AUTH_STRING="+authString)
	}
	e.proxy = startProxy(t, keys.workDir, append(environ, settings...))

	prefix := "rest"
	if authString == "" {
		prefix = "plain"
	}
	e.client = newClient(e.proxy.baseURL, prefix, keys.remember)
	e.sockets = &socketClient{
		address:  strings.TrimPrefix(e.proxy.baseURL, "http://"),
		remember: keys.remember,
		next:     e.client.requestID,
	}
	return e
}

// keyOf returns the key of a built-in role.
func (e *restE2E) keyOf(role string) restKey {
	for _, k := range e.roleKeys {
		if k.role == role {
			return k
		}
	}
	panic("no key for role " + role)
}

// proxyHost is the Host header of requests sent to the proxy's address.
func (e *restE2E) proxyHost() string {
	return strings.TrimPrefix(e.proxy.baseURL, "http://")
}

// authorization returns the Authorization header value for a key. The
// base64 text is remembered as a secret, because a log line might hold
// it without the scheme.
func (e *restE2E) authorization(style authStyle, key apiKey) string {
	switch style {
	case authBasicUserKey:
		e.keys.remember(base64.StdEncoding.EncodeToString([]byte(key.User + ":" + key.Secret)))
		return basicAuthorization(key.User + ":" + key.Secret)
	case authBasicKey:
		e.keys.remember(base64.StdEncoding.EncodeToString([]byte(key.Secret)))
		return basicAuthorization(key.Secret)
	}
	return "Bearer " + key.Secret
}

// routeKeyAllows reports whether the route-scope key's items
// (routeKeyScopes) allow a call: GET on /api/flows and below, and POST
// /api/flows/filter.
func routeKeyAllows(method, path string) bool {
	path, _, _ = strings.Cut(path, "?")
	if method == http.MethodGet {
		return path == "/api/flows" || strings.HasPrefix(path, "/api/flows/")
	}
	return method == http.MethodPost && path == "/api/flows/filter"
}

// allows reports whether the key may make the call.
func (c restCall) allows(k restKey) bool {
	if c.public {
		return true
	}
	if k.role == "" {
		return routeKeyAllows(c.method, c.path)
	}
	return slices.Contains(c.allow, k.role)
}

// rejectionReason is the reason code with which the call is rejected for k.
func (c restCall) rejectionReason(k restKey) string {
	if c.secrets && (k.role == "viewer" || k.role == "runner") {
		return "secrets-refused"
	}
	return "scope-missing"
}

// replay sends every call with the key and checks the outcome.
func (e *restE2E) replay(t *testing.T, k restKey, style authStyle, base map[string]string, calls []restCall) {
	for _, call := range calls {
		t.Run(call.name, func(t *testing.T) {
			header := map[string]string{}
			for name, value := range base {
				header[name] = value
			}
			for name, value := range call.header {
				header[name] = value
				if value == "" {
					delete(header, name)
				}
			}
			if call.body != "" {
				header["Content-Type"] = "application/json"
			}
			header["Authorization"] = e.authorization(style, k.key)

			e.expectCall(t, call, header, k)
		})
	}
}

// expectCall sends one call and checks that it was forwarded or rejected as
// the key's role decides.
func (e *restE2E) expectCall(t *testing.T, call restCall, header map[string]string, k restKey) {
	t.Helper()
	var body []byte
	if call.body != "" {
		body = []byte(call.body)
	}
	before := e.upstream.activity()
	response := e.client.send(t, clientRequest{Method: call.method, Path: call.path, Header: header, Body: body})

	if !call.allows(k) {
		reason := call.rejectionReason(k)
		e.expectRejected(t, response, before, http.StatusForbidden, reason)
		e.audits = append(e.audits, restAudit{
			requestID: response.RequestID, decision: "BLOCKED", reason: reason, userID: k.key.User,
			method: call.method, route: call.audit,
		})
		return
	}

	status := call.status
	if status == 0 {
		status = http.StatusOK
	}
	if response.Status != status {
		t.Fatalf("status = %d, expected %d from the upstream; body: %s", response.Status, status, response.Body)
	}
	e.expectForwarded(t, response, call.method, call.path, e.proxyHost(), header, body)

	if call.audit == "" {
		e.noAudit = append(e.noAudit, response.RequestID)
		return
	}
	e.audits = append(e.audits, restAudit{
		requestID: response.RequestID, decision: "ALLOWED", reason: "scope-granted", userID: k.key.User,
		method: call.method, route: call.audit, headers: attributionMembers(header),
	})
}

// attributionMembers returns the audit members that the attribution
// headers among header produce.
func attributionMembers(header map[string]string) map[string]string {
	members := map[string]string{}
	for _, name := range []string{"X-Prefect-Worker-Name", "X-Prefect-Deployment-Name", "X-Prefect-Flow-Name"} {
		if value, ok := header[name]; ok {
			members["header_"+strings.ToLower(strings.ReplaceAll(name, "-", "_"))] = value
		}
	}
	return members
}

// expectForwarded checks that a request reached the upstream exactly once,
// at the same escaped path and query, with the client's Host, with the
// client's Authorization replaced by the upstream's (or removed), and with
// every other header and the body unchanged.
func (e *restE2E) expectForwarded(t *testing.T, response clientResponse, method, target, host string, sent map[string]string, body []byte) {
	t.Helper()
	arrived := e.upstream.withRequestID(response.RequestID)
	if len(arrived) != 1 {
		t.Fatalf("upstream received request %s %d times, expected once", response.RequestID, len(arrived))
	}
	got := arrived[0]

	if got.Method != method {
		t.Errorf("upstream method = %s, expected %s", got.Method, method)
	}
	if got.RequestURI != target {
		t.Errorf("upstream request target = %q, expected %q as the client sent it", got.RequestURI, target)
	}
	if got.Host != host {
		t.Errorf("upstream Host = %q, expected the client's %q", got.Host, host)
	}
	e.expectUpstreamAuthorization(t, got.Header)
	e.expectNoSecretsUpstream(t, got.Header)
	if values, ok := got.Header["X-Prefect-User-Id"]; ok {
		t.Errorf("upstream received X-Prefect-User-Id (%d values), expected none", len(values))
	}
	if string(got.Body) != string(body) {
		t.Errorf("upstream body = %q, expected the client's %q", got.Body, body)
	}

	for name, value := range sent {
		if http.CanonicalHeaderKey(name) == "Authorization" {
			continue
		}
		if got.Header.Get(name) != value {
			t.Errorf("upstream header %s = %q, expected %q as the client sent it", name, got.Header.Get(name), value)
		}
	}
}

// expectUpstreamAuthorization checks that the upstream received exactly
// Basic base64(UPSTREAM_AUTH_STRING), or no Authorization without it.
func (e *restE2E) expectUpstreamAuthorization(t *testing.T, header http.Header) {
	t.Helper()
	values := header.Values("Authorization")
	if e.upstreamAuth == "" {
		if len(values) > 0 {
			t.Errorf("upstream Authorization = %q, expected none without UPSTREAM_AUTH_STRING", values)
		}
		return
	}
	if len(values) != 1 || values[0] != basicAuthorization(e.upstreamAuth) {
		t.Errorf("upstream Authorization = %q, expected only Basic base64(UPSTREAM_AUTH_STRING)", values)
	}
}

// expectNoSecretsUpstream checks that no header the upstream received
// contains a key or a credential that a client sent.
func (e *restE2E) expectNoSecretsUpstream(t *testing.T, header http.Header) {
	t.Helper()
	secrets := e.keys.allSecrets()
	for name, values := range header {
		for _, value := range values {
			for _, secret := range secrets {
				if strings.Contains(value, secret) {
					t.Errorf("upstream header %s contains the client credential of prefix %.8s…", name, secret)
				}
			}
		}
	}
}

// restDenial is the JSON body of a rejected REST request.
type restDenial struct {
	Detail           string `json:"detail"`
	ExceptionMessage string `json:"exception_message"`
	Reason           string `json:"reason"`
	Scope            string `json:"scope"`
}

// expectRejected checks a rejection as Prefect's clients and UIs read it, and
// that nothing reached the upstream since before.
func (e *restE2E) expectRejected(t *testing.T, response clientResponse, before, status int, reason string) {
	t.Helper()
	if response.Status != status {
		t.Fatalf("status = %d, expected %d; body: %s", response.Status, status, response.Body)
	}
	expectDenialBody(t, response.Header, response.Body, reason)
	if after := e.upstream.activity(); after != before {
		t.Errorf("upstream received %d requests during rejected request %s, expected none", after-before, response.RequestID)
	}
	if arrived := e.upstream.withRequestID(response.RequestID); len(arrived) > 0 {
		t.Errorf("upstream received rejected request %s", response.RequestID)
	}
}

// expectDenialBody checks the headers and JSON body of a rejection under
// /api.
func expectDenialBody(t *testing.T, header http.Header, body []byte, reason string) {
	t.Helper()
	if contentType := header.Get("Content-Type"); !strings.HasPrefix(contentType, "application/json") {
		t.Errorf("Content-Type = %q, expected application/json", contentType)
	}
	if value, ok := header["Www-Authenticate"]; ok {
		t.Errorf("WWW-Authenticate = %q, expected none under /api", value)
	}
	if value, ok := header["Prefect-Maintenance"]; ok {
		t.Errorf("Prefect-Maintenance = %q, expected none: Prefect clients retry it without limit", value)
	}
	if strings.Contains(string(body), "Invalid CSRF token") {
		t.Errorf("body contains \"Invalid CSRF token\", which makes Prefect clients retry: %s", body)
	}

	var denial restDenial
	if err := json.Unmarshal(body, &denial); err != nil {
		t.Fatalf("body is not a JSON object: %v\n%s", err, body)
	}
	if denial.Detail == "" {
		t.Errorf("detail is empty, expected a message: %s", body)
	}
	if denial.ExceptionMessage == "" {
		t.Errorf("exception_message is empty, expected a message: %s", body)
	}
	if reason != "" && denial.Reason != reason {
		t.Errorf("reason = %q, expected %q; detail: %s", denial.Reason, reason, denial.Detail)
	}
	if reason == "scope-missing" && denial.Scope == "" {
		t.Errorf("scope is empty, expected the role or route that would allow the request: %s", body)
	}
}

// workerHeaders are the headers of a Prefect 3.6.22 worker's requests.
func workerHeaders() map[string]string {
	return map[string]string{
		"User-Agent":            clientUserAgent,
		"X-Prefect-Api-Version": "0.8.4",
		"X-Prefect-Worker-Id":   restWorkerID,
		"X-Prefect-Worker-Name": "k8s-worker-1",
		"Prefect-Csrf-Token":    "csrf-token-value",
		"Prefect-Csrf-Client":   restCSRFClient,
	}
}

// flowRunHeaders are the attribution headers of the flow-run process
// that a worker starts.
var flowRunHeaders = map[string]string{
	"X-Prefect-Flow-Id":         restFlowID,
	"X-Prefect-Flow-Name":       "etl",
	"X-Prefect-Deployment-Id":   restDeploymentID,
	"X-Prefect-Deployment-Name": "etl-nightly",
}

// workerCalls are the HTTP calls of a worker and the flow run it starts.
func workerCalls() []restCall {
	return []restCall{
		{name: "version check", method: "GET", path: "/api/admin/version", allow: everyRole},
		{name: "csrf token", method: "GET", path: "/api/csrf-token?client=" + restCSRFClient, allow: everyRole},
		{name: "read pool", method: "GET", path: poolPath, allow: everyRole},
		{
			name: "create missing pool", method: "POST", path: "/api/work_pools/", body: `{"name": "k8s pool", "type": "kubernetes"}`,
			allow: runtimeRoles, status: http.StatusCreated, audit: "POST /api/work_pools/",
		},
		{
			name: "heartbeat", method: "POST", path: poolPath + "/workers/heartbeat", body: `{"name": "k8s-worker-1", "heartbeat_interval_seconds": 30}`,
			allow: runtimeRoles, audit: "POST /api/work_pools/{work_pool_name}/workers/heartbeat",
		},
		{
			name: "poll", method: "POST", path: poolPath + "/get_scheduled_flow_runs",
			body:  `{"work_queue_names": ["default"], "scheduled_before": "2026-01-01T00:00:10Z"}`,
			allow: runtimeRoles, audit: "POST /api/work_pools/{name}/get_scheduled_flow_runs",
		},
		{name: "read deployment", method: "GET", path: "/api/deployments/" + restDeploymentID, allow: everyRole},
		{name: "read flow", method: "GET", path: "/api/flows/" + restFlowID, allow: everyRole},
		{name: "read flow run", method: "GET", path: "/api/flow_runs/" + restFlowRunID, allow: everyRole},
		{
			name: "set pending", method: "POST", path: "/api/flow_runs/" + restFlowRunID + "/set_state",
			body:  `{"state": {"type": "PENDING", "name": "Pending"}, "force": false}`,
			allow: stateRoles, status: http.StatusCreated, audit: "POST /api/flow_runs/{id}/set_state",
		},
		{
			name: "record infrastructure pid", method: "PATCH", path: "/api/flow_runs/" + restFlowRunID, body: `{"infrastructure_pid": "pod/etl-abc12"}`,
			allow: runtimeRoles, status: http.StatusNoContent, audit: "PATCH /api/flow_runs/{id}",
		},
		{
			name: "labels", method: "PATCH", path: "/api/flow_runs/" + restFlowRunID + "/labels", body: `{"prefect.worker.name": "k8s-worker-1"}`,
			allow: runtimeRoles, status: http.StatusNoContent, audit: "PATCH /api/flow_runs/{id}/labels",
		},
		{
			name: "cancellation fallback poll", method: "POST", path: "/api/flow_runs/filter",
			body: `{"flow_runs": {"state": {"type": {"any_": ["CANCELLING"]}}}}`, allow: everyRole,
		},
		{name: "worker metadata", method: "GET", path: "/api/collections/views/aggregate-worker-metadata", allow: everyRole},

		// The flow-run process, with the worker's key and its own
		// attribution headers.
		{
			name: "set running", method: "POST", path: "/api/flow_runs/" + restFlowRunID + "/set_state", header: flowRunHeaders,
			body:  `{"state": {"type": "RUNNING", "name": "Running"}, "force": false}`,
			allow: stateRoles, status: http.StatusCreated, audit: "POST /api/flow_runs/{id}/set_state",
		},
		{
			name: "logs", method: "POST", path: "/api/logs/", header: flowRunHeaders,
			body:  `[{"name": "prefect.flow_runs", "level": 20, "message": "Beginning flow run", "timestamp": "2026-01-01T00:00:11Z", "flow_run_id": "` + restFlowRunID + `"}]`,
			allow: runtimeRoles, status: http.StatusCreated, audit: "POST /api/logs/",
		},
		{
			name: "result storage block with secrets", method: "GET", path: "/api/block_documents/" + restBlockID + "?include_secrets=true",
			header: flowRunHeaders, allow: runtimeRoles, secrets: true, audit: "GET /api/block_documents/{id}",
		},
		{name: "variable", method: "GET", path: "/api/variables/name/db_host", header: flowRunHeaders, allow: everyRole},
		{
			name: "subflow", method: "POST", path: "/api/flows/", header: flowRunHeaders, body: `{"name": "load"}`,
			allow: runtimeRoles, status: http.StatusCreated, audit: "POST /api/flows/",
		},
		{
			name: "subflow run", method: "POST", path: "/api/flow_runs/", header: flowRunHeaders,
			body:  `{"flow_id": "` + fakeCreatedID + `", "parent_task_run_id": null}`,
			allow: runtimeRoles, status: http.StatusCreated, audit: "POST /api/flow_runs/",
		},
		{
			name: "artifact", method: "POST", path: "/api/artifacts/", header: flowRunHeaders, body: `{"key": "report", "type": "markdown", "data": "# Done"}`,
			allow: runtimeRoles, status: http.StatusCreated, audit: "POST /api/artifacts/",
		},
		{
			name: "concurrency slot", method: "POST", path: "/api/v2/concurrency_limits/increment-with-lease", header: flowRunHeaders,
			body:  `{"names": ["database"], "slots": 1, "mode": "concurrency", "lease_duration": 300}`,
			allow: runtimeRoles, audit: "POST /api/v2/concurrency_limits/increment-with-lease",
		},
		{
			name: "run_deployment", method: "POST", path: "/api/deployments/" + restDeploymentID + "/create_flow_run", header: flowRunHeaders,
			body:  `{"parameters": {}, "state": {"type": "SCHEDULED"}}`,
			allow: stateRoles, status: http.StatusOK, audit: "POST /api/deployments/{id}/create_flow_run",
		},
		{
			name: "set completed", method: "POST", path: "/api/flow_runs/" + restFlowRunID + "/set_state", header: flowRunHeaders,
			body:  `{"state": {"type": "COMPLETED", "name": "Completed"}, "force": false}`,
			allow: stateRoles, status: http.StatusCreated, audit: "POST /api/flow_runs/{id}/set_state",
		},
	}
}

// testWorkerFlowRun replays a worker and its flow run under every key,
// with the key as PREFECT_API_AUTH_STRING and as PREFECT_API_KEY, and the
// event websockets with the key as first-message token.
func (e *restE2E) testWorkerFlowRun(t *testing.T) {
	for _, k := range e.roleKeys {
		for _, style := range []authStyle{authBasicUserKey, authBearer} {
			t.Run(k.name()+"/"+style.String(), func(t *testing.T) {
				e.replay(t, k, style, workerHeaders(), workerCalls())
			})
		}

		t.Run(k.name()+"/events in", func(t *testing.T) {
			e.expectTokenSocket(t, k, "/api/events/in", slices.Contains(runtimeRoles, k.role))
		})
		t.Run(k.name()+"/events out", func(t *testing.T) {
			e.expectTokenSocket(t, k, "/api/events/out", k.role != "")
		})
	}
}

// expectTokenSocket opens a websocket that authenticates with the token
// user_id:key, as a client with PREFECT_API_AUTH_STRING does, and checks
// that it is relayed when allowed and closed with 1008 otherwise.
func (e *restE2E) expectTokenSocket(t *testing.T, k restKey, path string, allowed bool) {
	t.Helper()
	before := e.upstream.activity()
	sockets := e.upstream.socketCount()
	socket, response, body := e.sockets.dial(t, socketDial{path: path, header: map[string]string{"User-Agent": clientUserAgent}})
	if socket == nil {
		t.Fatalf("upgrade rejected with HTTP %d, expected 101 for an upgrade without a credential: %s", response.StatusCode, body)
	}
	token := k.key.User + ":" + k.key.Secret
	socket.authenticate(t, &token)

	route := "GET " + path
	if !allowed {
		code, reason := socket.expectClose(t)
		if code != websocket.ClosePolicyViolation || reason == "" {
			t.Errorf("close = %d %q, expected 1008 with a reason", code, reason)
		}
		if after := e.upstream.activity(); after != before {
			t.Errorf("upstream received %d connections for a rejected token, expected none", after-before)
		}
		e.audits = append(e.audits, restAudit{
			requestID: socket.requestID, decision: "BLOCKED", reason: "scope-missing", userID: k.key.User, method: "WEBSOCKET", route: route,
		})
		return
	}

	socket.expectMessage(t, `{"type":"auth_success"}`)
	e.exchange(t, socket, path)
	upstream := e.upstream.socketsSince(sockets)
	if len(upstream) != 1 {
		t.Fatalf("upstream received %d websocket upgrades, expected 1", len(upstream))
	}
	e.expectUpstreamSocket(t, upstream[0], path, e.proxyHost(), map[string]string{"User-Agent": clientUserAgent})
	socket.closeNormally()
	e.audits = append(e.audits, restAudit{
		requestID: socket.requestID, decision: "ALLOWED", reason: "scope-granted", userID: k.key.User, method: "WEBSOCKET", route: route,
	})
}

// exchange sends one message on an authenticated socket and checks the
// reply: a stream (/events/out, /logs/out) gets a ping and an event after
// its filter, other endpoints echo.
func (e *restE2E) exchange(t *testing.T, socket *openSocket, path string) {
	t.Helper()
	if path != "/api/events/out" && path != "/api/logs/out" {
		event := `{"id":"0d7c2a4e-31b5-4c9e-8f10-6a2b3c4d5e6f","event":"prefect.task-run.Completed","resource":{"prefect.resource.id":"prefect.task-run.1"}}`
		socket.send(t, event)
		socket.expectMessage(t, event)
		return
	}

	socket.send(t, `{"type":"filter","filter":{"event":{"prefix":["prefect.flow-run."]}},"backfill":false}`)
	socket.expectMessage(t, fakeEventMessage)
	// The upstream sent its ping before the event, over one connection, so
	// the client has read the ping by the time it reads the event.
	select {
	case ping := <-socket.pings:
		if ping != upstreamPing {
			t.Errorf("ping payload = %q, expected the upstream's %q", ping, upstreamPing)
		}
	default:
		t.Error("the upstream's ping did not reach the client before the event that followed it")
	}
}

// expectUpstreamSocket checks what the upstream saw of a relayed
// websocket: the path, the client's Host, the upstream credentials in
// place of the client's, and the auth message token replaced.
func (e *restE2E) expectUpstreamSocket(t *testing.T, got *prefectSocket, path, host string, forwarded map[string]string) {
	t.Helper()
	if got.Path != strings.ReplaceAll(path, "%20", " ") {
		t.Errorf("upstream websocket path = %q, expected %q", got.Path, path)
	}
	if got.Host != host {
		t.Errorf("upstream websocket Host = %q, expected the client's %q", got.Host, host)
	}
	if got.Subprotocol != "prefect" {
		t.Errorf("upstream subprotocol = %q, expected prefect", got.Subprotocol)
	}
	e.expectUpstreamAuthorization(t, got.Header)
	e.expectNoSecretsUpstream(t, got.Header)
	for name, value := range forwarded {
		if got.Header.Get(name) != value {
			t.Errorf("upstream upgrade header %s = %q, expected %q as the client sent it", name, got.Header.Get(name), value)
		}
	}

	want := "null"
	if e.upstreamAuth != "" {
		want = mustJSON(e.upstreamAuth)
	}
	if token := got.Token(); token != want {
		t.Errorf("upstream auth token = %s, expected %s", token, want)
	}
}

// prefectUIHeaders are the headers of the Prefect 3 UI's API calls.
func prefectUIHeaders() map[string]string {
	return map[string]string{
		"User-Agent":   browserUserAgent,
		"X-Prefect-Ui": "true",
		"Accept":       "application/json, text/plain, */*",
	}
}

// uiCalls are the calls of a UI session that opens the dashboard and
// browses runs, blocks and work queues.
func uiCalls() []restCall {
	return []restCall{
		{name: "auth check", method: "GET", path: "/api/admin/version", allow: everyRole},
		{name: "health", method: "GET", path: "/api/health", public: true},
		{name: "csrf token", method: "GET", path: "/api/csrf-token?client=" + restCSRFClient, allow: everyRole},
		{name: "hello", method: "GET", path: "/api/hello", allow: everyRole},
		{name: "flow runs", method: "POST", path: "/api/flow_runs/filter", body: `{"sort": "START_TIME_DESC", "limit": 50, "offset": 0}`, allow: everyRole},
		{name: "flow run history", method: "POST", path: "/api/ui/flow_runs/history", body: `{"sort": "EXPECTED_START_TIME_DESC", "limit": 1000}`, allow: everyRole},
		{name: "flow run count", method: "POST", path: "/api/flow_runs/count", body: `{}`, allow: everyRole},
		{name: "task run count", method: "POST", path: "/api/task_runs/count", body: `{"task_runs": {"state": {"type": {"any_": ["COMPLETED"]}}}}`, allow: everyRole},
		{name: "task run dashboard counts", method: "POST", path: "/api/ui/task_runs/dashboard/counts", body: `{}`, allow: everyRole},
		{name: "task run history", method: "POST", path: "/api/task_runs/history", body: `{"history_start": "2026-01-01T00:00:00Z", "history_end": "2026-01-02T00:00:00Z", "history_interval_seconds": 3600}`, allow: everyRole},
		{name: "flows", method: "POST", path: "/api/flows/filter", body: `{"limit": 100}`, allow: everyRole},
		{name: "flows page", method: "POST", path: "/api/flows/paginate", body: `{"page": 1, "limit": 10}`, allow: everyRole},
		{name: "next runs", method: "POST", path: "/api/ui/flows/next-runs", body: `{"flow_ids": ["` + restFlowID + `"]}`, allow: everyRole},
		{name: "deployment count", method: "POST", path: "/api/deployments/count", body: `{}`, allow: everyRole},
		{name: "work pools", method: "POST", path: "/api/work_pools/filter", body: `{}`, allow: everyRole},
		{name: "event counts", method: "POST", path: "/api/events/count-by/day", body: `{"filter": {}, "time_unit": "day", "time_interval": 1}`, allow: everyRole},
		{name: "artifacts", method: "POST", path: "/api/artifacts/filter", body: `{}`, allow: everyRole},
		{name: "saved searches", method: "POST", path: "/api/saved_searches/filter", body: `{}`, allow: everyRole},
		{name: "flow run graph", method: "GET", path: "/api/flow_runs/" + restFlowRunID + "/graph-v2", allow: everyRole},
		{name: "flow", method: "GET", path: "/api/flows/" + restFlowID, allow: everyRole},
		{name: "settings page", method: "GET", path: "/api/admin/settings", allow: everyRole},
		{name: "variable named system-health", method: "GET", path: "/api/variables/name/system-health", allow: everyRole},
		{name: "blocks without secrets", method: "POST", path: "/api/block_documents/filter", body: `{"include_secrets": false, "limit": 50}`, allow: everyRole},
		{
			name: "blocks with secrets in body", method: "POST", path: "/api/block_documents/filter", body: `{"include_secrets": true, "limit": 50}`,
			allow: runtimeRoles, secrets: true, audit: "POST /api/block_documents/filter",
		},
		{name: "block without secrets", method: "GET", path: "/api/block_documents/" + restBlockID + "?include_secrets=false", allow: everyRole},
		{name: "block with secrets in query", method: "GET", path: "/api/block_documents/" + restBlockID + "?include_secrets=true", allow: runtimeRoles, secrets: true,
			audit: "GET /api/block_documents/{id}",
		},
		{
			name: "queue runs from the ui", method: "POST", path: "/api/work_queues/" + restQueueID + "/get_runs", body: `{"limit": 10}`,
			allow: everyRole,
		},
		{
			name: "queue runs without the ui header", method: "POST", path: "/api/work_queues/" + restQueueID + "/get_runs", body: `{"limit": 10}`,
			header: map[string]string{"X-Prefect-Ui": ""}, allow: runtimeRoles, audit: "POST /api/work_queues/{id}/get_runs",
		},
		{
			name: "queue runs with the ui header false", method: "POST", path: "/api/work_queues/" + restQueueID + "/get_runs", body: `{"limit": 10}`,
			header: map[string]string{"X-Prefect-Ui": "false"}, allow: runtimeRoles, audit: "POST /api/work_queues/{id}/get_runs",
		},
	}
}

// testUISession replays a UI session under every key, as the UI sends the
// text typed into its login form: the key alone, or user_id:key.
func (e *restE2E) testUISession(t *testing.T) {
	for _, k := range e.roleKeys {
		for _, style := range []authStyle{authBasicKey, authBasicUserKey} {
			t.Run(k.name()+"/"+style.String(), func(t *testing.T) {
				e.replay(t, k, style, prefectUIHeaders(), uiCalls())
			})
		}
	}
}

// uiSettings is the JSON document of GET /ui-settings.
type uiSettings struct {
	APIURL      string          `json:"api_url"`
	CSRFEnabled *bool           `json:"csrf_enabled"`
	Auth        *string         `json:"auth"`
	Flags       json.RawMessage `json:"flags"`
}

// expectUISettings fetches /ui-settings without a key, as both UIs do,
// accepting gzip, and checks the rewritten document.
func (e *restE2E) expectUISettings(t *testing.T, host, apiURL string) {
	t.Helper()
	header := map[string]string{"Accept-Encoding": "gzip, deflate, br", "User-Agent": browserUserAgent}
	response := e.client.send(t, clientRequest{Method: http.MethodGet, Path: "/ui-settings", Header: header, Host: host})
	if response.Status != http.StatusOK {
		t.Fatalf("status = %d, expected 200; body: %s", response.Status, response.Body)
	}
	if encoding := response.Header.Get("Content-Encoding"); encoding != "" {
		t.Errorf("Content-Encoding = %q, expected none: the proxy returns the rewritten document uncompressed", encoding)
	}

	var settings uiSettings
	if err := json.Unmarshal(response.Body, &settings); err != nil {
		t.Fatalf("ui-settings is not JSON: %v\n%q", err, response.Body)
	}
	if settings.Auth == nil || *settings.Auth != "BASIC" {
		t.Errorf("auth = %v, expected \"BASIC\" so that the UI shows its login form", settings.Auth)
	}
	if settings.APIURL != apiURL {
		t.Errorf("api_url = %q, expected the proxy's API URL %q", settings.APIURL, apiURL)
	}
	if settings.CSRFEnabled == nil || *settings.CSRFEnabled {
		t.Errorf("csrf_enabled = %v, expected the upstream's false", settings.CSRFEnabled)
	}
	if string(settings.Flags) != "[]" {
		t.Errorf("flags = %s, expected the upstream's []", settings.Flags)
	}

	arrived := e.upstream.withRequestID(response.RequestID)
	if len(arrived) != 1 {
		t.Fatalf("upstream received /ui-settings %d times, expected once", len(arrived))
	}
	if arrived[0].Host != host && host != "" {
		t.Errorf("upstream Host = %q, expected the client's %q", arrived[0].Host, host)
	}
}

// testUIWithoutKey checks what the UI loads before its login: the
// settings, the files and deep links of the single-page app, and the
// probes, and that nothing else under /api is public.
func (e *restE2E) testUIWithoutKey(t *testing.T) {
	t.Run("ui-settings", func(t *testing.T) {
		e.expectUISettings(t, "", "http://"+e.proxyHost()+"/api")
	})
	t.Run("ui-settings on another host", func(t *testing.T) {
		e.expectUISettings(t, "prefect.internal.example:8443", "http://prefect.internal.example:8443/api")
	})

	pages := []string{
		"/",
		"/dashboard",
		"/assets/index-4f2a9c1b.js",
		"/assets/index-7d3e0f52.css",
		"/ico/favicon-32x32.png",
		"/ico/site.webmanifest",
		"/favicon.ico",
		"/decorative_iso-pixel-grid_light.svg",
		"/robots.txt",
		"/login?redirect=%2Fdashboard",
		"/runs/flow-run/" + restFlowRunID,
		"/deployments/deployment/" + restDeploymentID + "?tab=Runs",
		"/work-pools/work-pool/k8s%20pool",
		"/v2/runs",
		"/fonts/inter.ttf",
		"/docs",
		"/openapi.json",
	}
	for _, page := range pages {
		t.Run("page "+page, func(t *testing.T) {
			header := map[string]string{"User-Agent": browserUserAgent, "Accept": "text/html", "Sec-Fetch-Mode": "navigate"}
			response := e.client.send(t, clientRequest{Method: http.MethodGet, Path: page, Header: header})
			if response.Status != http.StatusOK {
				t.Fatalf("status = %d, expected 200; body: %s", response.Status, response.Body)
			}
			e.expectForwarded(t, response, http.MethodGet, page, e.proxyHost(), header, nil)
		})
	}

	probes := []string{"/api/health", "/api/ready"}
	for _, probe := range probes {
		t.Run("probe "+probe, func(t *testing.T) {
			response := e.client.send(t, clientRequest{Method: http.MethodGet, Path: probe})
			if response.Status != http.StatusOK {
				t.Fatalf("status = %d, expected 200; body: %s", response.Status, response.Body)
			}
			e.expectForwarded(t, response, http.MethodGet, probe, e.proxyHost(), nil, nil)
		})
	}

	// Prefect 3.2.7 to 3.6.21 let every GET whose path ended in "health"
	// or "ready" through, but the proxy matches the probes exactly.
	notPublic := []struct{ method, path string }{
		{"GET", "/api/variables/name/system-health"},
		{"GET", "/api/variables/name/already"},
		{"GET", "/api/health/"},
		{"GET", "/api/healthz"},
		{"GET", "/api/flows/health"},
		{"POST", "/api/health"},
		{"HEAD", "/api/ready"},
		{"GET", "/api/admin/version"},
		{"GET", "/api/csrf-token?client=" + restCSRFClient},
		{"POST", "/api/flow_runs/filter"},
	}
	for _, c := range notPublic {
		t.Run("no key "+c.method+" "+c.path, func(t *testing.T) {
			before := e.upstream.activity()
			response := e.client.send(t, clientRequest{Method: c.method, Path: c.path, Header: prefectUIHeaders()})
			if c.method == http.MethodHead {
				// A HEAD response has no body to check.
				if response.Status != http.StatusUnauthorized {
					t.Fatalf("status = %d, expected 401", response.Status)
				}
				if after := e.upstream.activity(); after != before {
					t.Errorf("upstream received %d requests, expected none", after-before)
				}
				return
			}
			e.expectRejected(t, response, before, http.StatusUnauthorized, "key-missing")
			e.audits = append(e.audits, restAudit{requestID: response.RequestID, decision: "BLOCKED", reason: "key-missing", method: c.method})
		})
	}
}

// runnerHeaders are the headers of an operator's UI session.
func runnerHeaders() map[string]string {
	headers := prefectUIHeaders()
	headers["Prefect-Csrf-Token"] = "csrf-token-value"
	headers["Prefect-Csrf-Client"] = restCSRFClient
	headers["Prefect-Csrf-Retry-Count"] = "0"
	return headers
}

// runnerCalls run, pause and cancel from the UI and through
// run_deployment().
func runnerCalls() []restCall {
	deployment := "/api/deployments/" + restDeploymentID
	return []restCall{
		{
			name: "run deployment", method: "POST", path: deployment + "/create_flow_run", body: `{"state": {"type": "SCHEDULED", "message": "Run from the Prefect UI"}}`,
			allow: stateRoles, audit: "POST /api/deployments/{id}/create_flow_run",
		},
		{
			name: "pause deployment", method: "POST", path: deployment + "/pause_deployment",
			allow: runRoles, audit: "POST /api/deployments/{id}/pause_deployment",
		},
		{
			name: "resume deployment", method: "POST", path: deployment + "/resume_deployment",
			allow: runRoles, audit: "POST /api/deployments/{id}/resume_deployment",
		},
		{
			name: "pause switch", method: "PATCH", path: deployment, body: `{"paused": true}`,
			allow: runRoles, status: http.StatusNoContent, audit: "PATCH /api/deployments/{id}",
		},
		{
			name: "resume switch", method: "PATCH", path: deployment, body: `{"paused": false}`,
			allow: runRoles, status: http.StatusNoContent, audit: "PATCH /api/deployments/{id}",
		},
		{
			name: "pause switch with an edit", method: "PATCH", path: deployment, body: `{"paused": true, "description": "edited"}`,
			allow: deployRoles, status: http.StatusNoContent, audit: "PATCH /api/deployments/{id}",
		},
		{
			name: "schedule switch", method: "PATCH", path: deployment + "/schedules/" + restScheduleID, body: `{"active": false}`,
			allow: runRoles, status: http.StatusNoContent, audit: "PATCH /api/deployments/{id}/schedules/{schedule_id}",
		},
		{
			name: "cancel", method: "POST", path: "/api/flow_runs/" + restFlowRunID + "/set_state",
			body:  `{"state": {"type": "CANCELLING", "name": "Cancelling", "message": "Cancelled from the Prefect UI"}, "force": true}`,
			allow: stateRoles, status: http.StatusCreated, audit: "POST /api/flow_runs/{id}/set_state",
		},
		{
			name: "resume run", method: "POST", path: "/api/flow_runs/" + restFlowRunID + "/resume", body: `{}`,
			allow: runRoles, audit: "POST /api/flow_runs/{id}/resume",
		},
		{
			name: "delete run", method: "DELETE", path: "/api/flow_runs/" + restFlowRunID,
			allow: ownerRole, status: http.StatusNoContent, audit: "DELETE /api/flow_runs/{id}",
		},
	}
}

// testRunner replays an operator under every key.
func (e *restE2E) testRunner(t *testing.T) {
	for _, k := range e.roleKeys {
		t.Run(k.name(), func(t *testing.T) {
			e.replay(t, k, authBasicUserKey, runnerHeaders(), runnerCalls())
		})
	}
}

// deployCalls are the calls of prefect deploy for a deployment with a
// schedule, a block and a variable, and a trigger.
func deployCalls() []restCall {
	deployment := "/api/deployments/" + restDeploymentID
	return []restCall{
		{name: "version check", method: "GET", path: "/api/admin/version", allow: everyRole},
		{name: "read pool", method: "GET", path: poolPath, allow: everyRole},
		{name: "read deployment by name", method: "GET", path: "/api/deployments/name/etl/etl-nightly", allow: everyRole},
		{
			name: "flow", method: "POST", path: "/api/flows/", body: `{"name": "etl", "tags": [], "labels": {}}`,
			allow: runtimeRoles, status: http.StatusCreated, audit: "POST /api/flows/",
		},
		{
			name: "deployment", method: "POST", path: "/api/deployments/",
			body:  `{"name": "etl-nightly", "flow_id": "` + restFlowID + `", "work_pool_name": "k8s pool", "paused": false, "parameters": {}}`,
			allow: deployRoles, status: http.StatusCreated, audit: "POST /api/deployments/",
		},
		{
			name: "update deployment", method: "PATCH", path: deployment, body: `{"description": "Nightly ETL", "paused": false}`,
			allow: deployRoles, status: http.StatusNoContent, audit: "PATCH /api/deployments/{id}",
		},
		{
			name: "schedules", method: "POST", path: deployment + "/schedules", body: `[{"schedule": {"cron": "0 2 * * *"}, "active": true}]`,
			allow: deployRoles, status: http.StatusOK, audit: "POST /api/deployments/{id}/schedules",
		},
		{name: "block type", method: "GET", path: "/api/block_types/slug/s3-bucket", allow: everyRole},
		{
			name: "register block type", method: "POST", path: "/api/block_types/", body: `{"name": "S3 Bucket", "slug": "s3-bucket"}`,
			allow: deployRoles, status: http.StatusCreated, audit: "POST /api/block_types/",
		},
		{
			name: "register block schema", method: "POST", path: "/api/block_schemas/", body: `{"fields": {}, "block_type_id": "` + fakeCreatedID + `"}`,
			allow: deployRoles, status: http.StatusCreated, audit: "POST /api/block_schemas/",
		},
		{
			name: "save block", method: "POST", path: "/api/block_documents/", body: `{"name": "results", "data": {"bucket_name": "etl"}}`,
			allow: deployRoles, status: http.StatusCreated, audit: "POST /api/block_documents/",
		},
		{
			name: "variable", method: "POST", path: "/api/variables/", body: `{"name": "db_host", "value": "db.internal"}`,
			allow: deployRoles, status: http.StatusCreated, audit: "POST /api/variables/",
		},
		{
			name: "update variable", method: "PATCH", path: "/api/variables/name/db_host", body: `{"value": "db2.internal"}`,
			allow: deployRoles, status: http.StatusNoContent, audit: "PATCH /api/variables/name/{name}",
		},
		{
			name: "work queue", method: "POST", path: poolPath + "/queues", body: `{"name": "critical"}`,
			allow: deployRoles, status: http.StatusOK, audit: "POST /api/work_pools/{work_pool_name}/queues",
		},
		{
			name: "remove old triggers", method: "DELETE", path: "/api/automations/owned-by/prefect.deployment." + restDeploymentID,
			allow: ownerRole, status: http.StatusNoContent, audit: "DELETE /api/automations/owned-by/{resource_id}",
		},
		{
			name: "trigger", method: "POST", path: "/api/automations/", body: `{"name": "etl-nightly__automation_1", "trigger": {}, "actions": []}`,
			allow: ownerRole, status: http.StatusCreated, audit: "POST /api/automations/",
		},
		{
			name: "delete deployment", method: "DELETE", path: deployment,
			allow: ownerRole, status: http.StatusNoContent, audit: "DELETE /api/deployments/{id}",
		},
	}
}

// testDeploy replays prefect deploy under every key.
func (e *restE2E) testDeploy(t *testing.T) {
	header := map[string]string{"User-Agent": clientUserAgent, "X-Prefect-Api-Version": "0.8.4"}
	for _, k := range e.roleKeys {
		t.Run(k.name(), func(t *testing.T) {
			e.replay(t, k, authBasicUserKey, header, deployCalls())
		})
	}
}

// testRejectedCredentials sends credentials that match no valid key.
func (e *restE2E) testRejectedCredentials(t *testing.T) {
	viewer := e.keyOf("viewer").key
	runner := e.keyOf("runner").key
	cases := []struct {
		name          string
		authorization string
		reason        string // "" when not compared
		userID        string
		keyPrefix     bool
	}{
		{name: "unknown key", authorization: "Bearer " + unknownKey, reason: "key-unknown", keyPrefix: true},
		{name: "unknown basic key", authorization: basicAuthorization(unknownKey), reason: "key-unknown", keyPrefix: true},
		{name: "key of another user", authorization: basicAuthorization(runner.User + ":" + viewer.Secret), reason: "key-user-mismatch", userID: viewer.User},
		{name: "invalid base64", authorization: "Basic !!not-base64!!"},
		{name: "unsupported scheme", authorization: "Token " + viewer.Secret},
		{name: "bearer null", authorization: "Bearer null", reason: "key-missing"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := e.upstream.activity()
			header := prefectUIHeaders()
			header["Authorization"] = c.authorization
			response := e.client.send(t, clientRequest{Method: http.MethodGet, Path: "/api/admin/version", Header: header})

			e.expectRejected(t, response, before, http.StatusUnauthorized, c.reason)
			if c.reason != "" {
				e.audits = append(e.audits, restAudit{
					requestID: response.RequestID, decision: "BLOCKED", reason: c.reason, userID: c.userID,
					method: http.MethodGet, keyPrefix: c.keyPrefix,
				})
			}
		})
	}
}

// testPathTricks sends paths that a server could read differently from
// the proxy. Each must be rejected with 400 before authorization, even with
// the owner's key, and never forwarded.
func (e *restE2E) testPathTricks(t *testing.T) {
	owner := e.keyOf("owner").key
	targets := []string{
		"/api/flows/../admin/settings",
		"/api/%2e%2e/admin",
		"/api/%2E%2E/admin/settings",
		"/api//flows",
		"/api/flows%2fx",
		"/api/flows%2F..%2Fadmin%2Fsettings",
		`/api\flows`,
		"/api%5cflows",
		"/api/flows%00",
		"/api/./flows",
		"/api/flows/.",
		"/assets/../api/admin/settings",
		"/ui-settings/../api/admin/settings",
		"/api/flows/%ff",
	}
	for _, target := range targets {
		t.Run(target, func(t *testing.T) {
			id := e.client.requestID()
			before := e.upstream.activity()
			authorization := "Bearer " + owner.Secret
			response, body := rawRequest(t, e.proxyHost(), http.MethodGet, target, map[string]string{
				"Authorization": authorization, "X-Request-Id": id,
			})

			if response.StatusCode != http.StatusBadRequest {
				t.Fatalf("status = %d, expected 400; body: %s", response.StatusCode, body)
			}
			expectDenialBody(t, response.Header, body, "path-invalid")
			if after := e.upstream.activity(); after != before {
				t.Errorf("upstream received %d requests, expected none", after-before)
			}
			e.audits = append(e.audits, restAudit{requestID: id, decision: "BLOCKED", reason: "path-invalid", method: http.MethodGet})
		})
	}

	// Go's HTTP server rejects invalid percent-encoding and raw control
	// characters in the request line itself, with a plain-text 400, before
	// the request reaches the proxy.
	for _, target := range []string{"/api/flows/%zz", "/api/flows/%4", "/api/flows%", "/api/flows\x01/x", "/api/flows\x00"} {
		t.Run(target, func(t *testing.T) {
			before := e.upstream.activity()
			response, body := rawRequest(t, e.proxyHost(), http.MethodGet, target, map[string]string{"Authorization": "Bearer " + owner.Secret})
			if response.StatusCode != http.StatusBadRequest {
				t.Fatalf("status = %d, expected 400; body: %s", response.StatusCode, body)
			}
			if after := e.upstream.activity(); after != before {
				t.Errorf("upstream received %d requests, expected none", after-before)
			}
		})
	}
}

// testWebSockets checks the websocket authentication paths one by one.
func (e *restE2E) testWebSockets(t *testing.T) {
	viewer := e.keyOf("viewer").key
	worker := e.keyOf("worker").key
	eventsIn := "/api/events/in"
	forwarded := map[string]string{"User-Agent": clientUserAgent, "X-Prefect-Worker-Name": "k8s-worker-1", "X-Prefect-Api-Version": "0.8.4"}

	// Prefect 3.8.3+ sends Basic base64(auth string) on the /events/in
	// upgrade and the auth string as token.
	t.Run("header and token", func(t *testing.T) {
		sockets := e.upstream.socketCount()
		authorization := e.authorization(authBasicUserKey, worker)
		socket := e.openSocket(t, socketDial{path: eventsIn, authorization: authorization, host: "prefect.internal.example:8443", header: forwarded})
		token := worker.User + ":" + worker.Secret
		socket.authenticate(t, &token)
		socket.expectMessage(t, `{"type":"auth_success"}`)
		e.exchange(t, socket, eventsIn)

		upstream := e.upstream.socketsSince(sockets)
		if len(upstream) != 1 {
			t.Fatalf("upstream received %d websocket upgrades, expected 1", len(upstream))
		}
		e.expectUpstreamSocket(t, upstream[0], eventsIn, "prefect.internal.example:8443", forwarded)
		socket.closeNormally()
		e.expectSocketAudit(socket, "ALLOWED", "scope-granted", worker.User)
	})

	t.Run("bearer header and null token", func(t *testing.T) {
		sockets := e.upstream.socketCount()
		socket := e.openSocket(t, socketDial{path: "/api/task_runs/subscriptions/scheduled", authorization: "Bearer " + worker.Secret, header: forwarded})
		socket.authenticate(t, nil)
		socket.expectMessage(t, `{"type":"auth_success"}`)
		e.exchange(t, socket, "/api/task_runs/subscriptions/scheduled")

		upstream := e.upstream.socketsSince(sockets)
		if len(upstream) != 1 {
			t.Fatalf("upstream received %d websocket upgrades, expected 1", len(upstream))
		}
		e.expectUpstreamSocket(t, upstream[0], "/api/task_runs/subscriptions/scheduled", e.proxyHost(), forwarded)
		socket.closeNormally()
	})

	tokens := []struct {
		name  string
		path  string
		token string
		key   apiKey
	}{
		{name: "key as token", path: "/api/events/out", token: viewer.Secret, key: viewer},
		{name: "user_id:key as token", path: "/api/logs/out", token: viewer.User + ":" + viewer.Secret, key: viewer},
		{name: "worker channel", path: poolPath + "/workers/connect", token: worker.Secret, key: worker},
	}
	for _, c := range tokens {
		t.Run(c.name, func(t *testing.T) {
			sockets := e.upstream.socketCount()
			socket := e.openSocket(t, socketDial{path: c.path, header: forwarded})
			socket.authenticate(t, &c.token)
			socket.expectMessage(t, `{"type":"auth_success"}`)
			e.exchange(t, socket, c.path)

			upstream := e.upstream.socketsSince(sockets)
			if len(upstream) != 1 {
				t.Fatalf("upstream received %d websocket upgrades, expected 1", len(upstream))
			}
			e.expectUpstreamSocket(t, upstream[0], c.path, e.proxyHost(), forwarded)
			socket.closeNormally()
			e.expectSocketAudit(socket, "ALLOWED", "scope-granted", c.key.User)
		})
	}

	rejectedTokens := []struct {
		name    string
		path    string
		message string
		reason  string // close reason that must appear, "" when not compared
		audit   string // audit reason, "" when the session has no audit event
		userID  string
	}{
		{name: "unknown key", path: eventsIn, message: mustJSON(map[string]string{"type": "auth", "token": unknownKey}), audit: "key-unknown"},
		{name: "viewer on events in", path: eventsIn, message: mustJSON(map[string]string{"type": "auth", "token": viewer.Secret}), reason: "role/worker", audit: "scope-missing", userID: viewer.User},
		{name: "key of another user", path: eventsIn, message: mustJSON(map[string]string{"type": "auth", "token": "runner:" + worker.Secret}), audit: "key-user-mismatch", userID: worker.User},
		{name: "null token", path: eventsIn, message: `{"type":"auth","token":null}`, reason: "Auth required but no token provided"},
		{name: "token not a string", path: eventsIn, message: `{"type":"auth","token":42}`, reason: "invalid token"},
		{name: "not an auth message", path: eventsIn, message: `{"type":"event","token":"x"}`, reason: "Expected 'auth' message"},
	}
	for _, c := range rejectedTokens {
		t.Run("rejected "+c.name, func(t *testing.T) {
			before := e.upstream.activity()
			e.keys.remember(c.message)
			socket := e.openSocket(t, socketDial{path: c.path, header: forwarded})
			socket.send(t, c.message)

			code, reason := socket.expectClose(t)
			if code != websocket.ClosePolicyViolation {
				t.Errorf("close code = %d, expected 1008", code)
			}
			if reason == "" || !strings.Contains(reason, c.reason) {
				t.Errorf("close reason = %q, expected one that contains %q", reason, c.reason)
			}
			if strings.Contains(reason, worker.Secret) || strings.Contains(reason, viewer.Secret) || strings.Contains(reason, unknownKey) {
				t.Errorf("close reason %q contains the key", reason)
			}
			if after := e.upstream.activity(); after != before {
				t.Errorf("upstream received %d connections for a rejected token, expected none", after-before)
			}
			if c.audit != "" {
				e.audits = append(e.audits, restAudit{
					requestID: socket.requestID, decision: "BLOCKED", reason: c.audit, userID: c.userID, method: "WEBSOCKET",
					keyPrefix: c.userID == "",
				})
			}
		})
	}

	rejectedUpgrades := []struct {
		name          string
		authorization string
		status        int
		reason        string
		userID        string
	}{
		{name: "unknown key", authorization: "Bearer " + unknownKey, status: http.StatusUnauthorized, reason: "key-unknown"},
		{name: "unknown basic key", authorization: basicAuthorization("nobody:" + unknownKey), status: http.StatusUnauthorized, reason: "key-unknown"},
		{name: "viewer on events in", authorization: "Bearer " + viewer.Secret, status: http.StatusForbidden, reason: "scope-missing", userID: viewer.User},
	}
	for _, c := range rejectedUpgrades {
		t.Run("rejected upgrade "+c.name, func(t *testing.T) {
			before := e.upstream.activity()
			socket, response, body := e.sockets.dial(t, socketDial{path: eventsIn, authorization: c.authorization, header: forwarded})
			if socket != nil {
				socket.conn.Close()
				t.Fatalf("upgrade succeeded, expected HTTP %d before the 101", c.status)
			}
			if response.StatusCode != c.status {
				t.Fatalf("upgrade status = %d, expected %d; body: %s", response.StatusCode, c.status, body)
			}
			expectDenialBody(t, response.Header, body, c.reason)
			if after := e.upstream.activity(); after != before {
				t.Errorf("upstream received %d connections for a rejected upgrade, expected none", after-before)
			}
			e.audits = append(e.audits, restAudit{
				requestID: response.Header.Get("X-Request-Id"), decision: "BLOCKED", reason: c.reason, userID: c.userID,
				keyPrefix: c.userID == "",
			})
		})
	}

	t.Run("legacy client without credentials", func(t *testing.T) {
		before := e.upstream.activity()
		socket := e.openSocket(t, socketDial{path: eventsIn, legacy: true, header: forwarded})
		code, reason := socket.expectClose(t)
		if code != websocket.ClosePolicyViolation || reason == "" {
			t.Errorf("close = %d %q, expected 1008 with a reason", code, reason)
		}
		if after := e.upstream.activity(); after != before {
			t.Errorf("upstream received %d connections, expected none", after-before)
		}
	})
}

// openSocket dials a websocket that must be upgraded.
func (e *restE2E) openSocket(t *testing.T, d socketDial) *openSocket {
	t.Helper()
	socket, response, body := e.sockets.dial(t, d)
	if socket == nil {
		t.Fatalf("upgrade of %s rejected with HTTP %d, expected 101: %s", d.path, response.StatusCode, body)
	}
	return socket
}

func (e *restE2E) expectSocketAudit(socket *openSocket, decision, reason, userID string) {
	e.audits = append(e.audits, restAudit{
		requestID: socket.requestID, decision: decision, reason: reason, userID: userID, method: "WEBSOCKET",
	})
}

// testWebSocketRevocation revokes the key of an open socket and expects the
// proxy to close both sides with 1008. The main proxy runs with
// KEY_CACHE_TTL=1s and WEBSOCKET_CHECK_INTERVAL=200ms, so the close comes
// about a second after the revocation. The read deadline of the socket
// only stops a hung test.
func (e *restE2E) testWebSocketRevocation(t *testing.T) {
	leaver := e.keys.create(t, "leaver", "role/worker")
	sockets := e.upstream.socketCount()
	socket := e.openSocket(t, socketDial{path: "/api/events/out", header: map[string]string{"User-Agent": clientUserAgent}})
	token := leaver.User + ":" + leaver.Secret
	socket.authenticate(t, &token)
	socket.expectMessage(t, `{"type":"auth_success"}`)
	e.exchange(t, socket, "/api/events/out")

	e.keys.revoke(t, "leaver")
	code, reason := socket.expectClose(t)
	if code != websocket.ClosePolicyViolation {
		t.Errorf("close code = %d, expected 1008 after the revocation", code)
	}
	if reason == "" || strings.Contains(reason, leaver.Secret) {
		t.Errorf("close reason = %q, expected a reason without the key", reason)
	}

	upstream := e.upstream.socketsSince(sockets)
	if len(upstream) != 1 {
		t.Fatalf("upstream received %d websocket upgrades, expected 1", len(upstream))
	}
	select {
	case <-upstream[0].ended:
	case <-time.After(requestTimeout):
		t.Fatalf("the upstream websocket was still open %s after the client's was closed", requestTimeout)
	}
	if got := upstream[0].CloseCode(); got != websocket.ClosePolicyViolation {
		t.Errorf("upstream close code = %d, expected 1008", got)
	}
	e.expectSocketAudit(socket, "ALLOWED", "scope-granted", leaver.User)
}

// testWithoutUpstreamAuth runs against a server without an auth string:
// the proxy removes the client's Authorization, sends null as websocket
// token, and reports PUBLIC_URL in /ui-settings.
func (e *restE2E) testWithoutUpstreamAuth(t *testing.T) {
	worker := e.keyOf("worker")

	t.Run("ui-settings with PUBLIC_URL", func(t *testing.T) {
		e.expectUISettings(t, "", publicURL+"/api")
	})
	t.Run("ui-settings with PUBLIC_URL on another host", func(t *testing.T) {
		e.expectUISettings(t, "prefect.internal.example:8443", publicURL+"/api")
	})

	t.Run("worker", func(t *testing.T) {
		for _, style := range []authStyle{authBasicUserKey, authBearer} {
			t.Run(style.String(), func(t *testing.T) {
				e.replay(t, worker, style, workerHeaders(), workerCalls()[:12])
			})
		}
	})

	t.Run("permitted routes", func(t *testing.T) {
		for _, path := range []string{"/api/version", "/api/flows/" + restFlowID} {
			response := e.client.send(t, clientRequest{Method: http.MethodGet, Path: path})
			if response.Status != http.StatusOK {
				t.Fatalf("GET %s status = %d, expected 200 for a permitted route; body: %s", path, response.Status, response.Body)
			}
			e.expectForwarded(t, response, http.MethodGet, path, e.proxyHost(), nil, nil)
		}

		before := e.upstream.activity()
		response := e.client.send(t, clientRequest{Method: http.MethodPost, Path: "/api/flows/filter", Body: []byte(`{}`)})
		e.expectRejected(t, response, before, http.StatusUnauthorized, "key-missing")

		raw, body := rawRequest(t, e.proxyHost(), http.MethodGet, "/api/flows/../admin/settings", nil)
		if raw.StatusCode != http.StatusBadRequest {
			t.Errorf("GET /api/flows/../admin/settings status = %d, expected 400; body: %s", raw.StatusCode, body)
		}
		if after := e.upstream.activity(); after != before {
			t.Errorf("upstream received %d requests, expected none", after-before)
		}
	})

	t.Run("events in by token", func(t *testing.T) {
		e.expectTokenSocket(t, worker, "/api/events/in", true)
	})
	t.Run("events out by header", func(t *testing.T) {
		sockets := e.upstream.socketCount()
		socket := e.openSocket(t, socketDial{path: "/api/events/out", authorization: e.authorization(authBasicKey, worker.key)})
		token := worker.key.User + ":" + worker.key.Secret
		socket.authenticate(t, &token)
		socket.expectMessage(t, `{"type":"auth_success"}`)
		e.exchange(t, socket, "/api/events/out")

		upstream := e.upstream.socketsSince(sockets)
		if len(upstream) != 1 {
			t.Fatalf("upstream received %d websocket upgrades, expected 1", len(upstream))
		}
		e.expectUpstreamSocket(t, upstream[0], "/api/events/out", e.proxyHost(), nil)
		socket.closeNormally()
	})

	// A client before 3.6.14 opens /events/in without the prefect
	// subprotocol. With a key in a custom header, the proxy relays it in
	// Prefect's legacy mode.
	t.Run("legacy client with header", func(t *testing.T) {
		sockets := e.upstream.socketCount()
		socket := e.openSocket(t, socketDial{path: "/api/events/in", legacy: true, authorization: "Bearer " + worker.key.Secret})
		event := `{"id":"0d7c2a4e-31b5-4c9e-8f10-6a2b3c4d5e6f","event":"prefect.flow-run.Completed"}`
		socket.send(t, event)
		socket.expectMessage(t, event)

		upstream := e.upstream.socketsSince(sockets)
		if len(upstream) != 1 {
			t.Fatalf("upstream received %d websocket upgrades, expected 1", len(upstream))
		}
		e.expectUpstreamAuthorization(t, upstream[0].Header)
		if upstream[0].Subprotocol != "" || upstream[0].Token() != "" {
			t.Errorf("upstream subprotocol %q and token %q, expected legacy mode without either", upstream[0].Subprotocol, upstream[0].Token())
		}
		socket.closeNormally()
	})
}

// testLogs reads the stopped proxy's output: every line is JSON, the audit
// trail has the expected events, reads have none, and no line contains a
// key or a credential that a client sent.
func (e *restE2E) testLogs(t *testing.T) {
	lines := e.proxy.output.lines()
	records := parseLogLines(t, lines)

	t.Run("no secrets", func(t *testing.T) {
		expectNoSecrets(t, lines, e.keys.allSecrets())
	})

	t.Run("no upstream auth string", func(t *testing.T) {
		expectNoSecrets(t, lines, []string{upstreamAuthString, base64.StdEncoding.EncodeToString([]byte(upstreamAuthString))})
	})

	t.Run("audit events", func(t *testing.T) {
		if len(e.audits) == 0 {
			t.Fatal("no audit events were expected, so the flows did not run")
		}
		for _, want := range e.audits {
			expectRESTAudit(t, records, want)
		}
	})

	t.Run("no audit for reads", func(t *testing.T) {
		for _, id := range e.noAudit {
			for _, record := range records {
				if record["msg"] == "PREFECT_AUDIT_TRAIL" && record["request_id"] == id {
					t.Errorf("read %s has an audit event, expected none: %v", id, record)
				}
			}
		}
	})

	t.Run("websocket sessions logged", func(t *testing.T) {
		for _, want := range e.audits {
			if want.method != "WEBSOCKET" || want.decision != "ALLOWED" {
				continue
			}
			if !hasRecord(records, "websocket closed", want.requestID) {
				t.Errorf("no \"websocket closed\" line for session %s", want.requestID)
			}
		}
	})
}

func hasRecord(records []map[string]any, message, requestID string) bool {
	for _, record := range records {
		if record["msg"] == message && record["request_id"] == requestID {
			return true
		}
	}
	return false
}

// expectRESTAudit finds the audit event of a request and compares it with
// want. Empty fields of want are not compared, except that user_id and
// key_prefix must be absent when want has none.
func expectRESTAudit(t *testing.T, records []map[string]any, want restAudit) {
	t.Helper()
	var event map[string]any
	for _, record := range records {
		if record["msg"] == "PREFECT_AUDIT_TRAIL" && record["request_id"] == want.requestID {
			event = record
			break
		}
	}
	if event == nil {
		t.Errorf("no audit event for request %s, expected %+v", want.requestID, want)
		return
	}

	compare := func(key, expected string) {
		got, _ := event[key].(string)
		if got != expected {
			t.Errorf("request %s: audit %s = %q, expected %q", want.requestID, key, got, expected)
		}
	}
	compare("decision", want.decision)
	compare("reason", want.reason)
	compare("user_id", want.userID)
	if want.method != "" {
		compare("method", want.method)
	}
	if want.route != "" {
		compare("route", want.route)
	}
	for key, value := range want.headers {
		compare(key, value)
	}
	if _, has := event["key_prefix"]; has != want.keyPrefix {
		t.Errorf("request %s: audit has key_prefix = %v, expected %v", want.requestID, has, want.keyPrefix)
	}
	if want.decision == "ALLOWED" && want.method != "WEBSOCKET" {
		if path, _ := event["path"].(string); path == "" {
			t.Errorf("request %s: audit has no path", want.requestID)
		}
	}
}
