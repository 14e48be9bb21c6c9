package main_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
)

// proxyBinary is the prefect-auth-proxy binary that TestMain builds once.
var proxyBinary string

// Upper bounds for waiting on the proxy process. They only stop a hung test
// and never decide whether a test passes.
const (
	startTimeout   = 60 * time.Second
	stopTimeout    = 60 * time.Second
	requestTimeout = 30 * time.Second
)

// TestMain builds the real binary, because the end-to-end test runs the
// proxy as a separate process exactly as it is deployed.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "prefect-auth-proxy-e2e-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "create build directory: %v\n", err)
		os.Exit(1)
	}

	proxyBinary = filepath.Join(dir, "prefect-auth-proxy")
	if err := buildProxy(proxyBinary); err != nil {
		fmt.Fprintf(os.Stderr, "build prefect-auth-proxy: %v\n", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}

	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildProxy compiles the package in the working directory, which go test
// sets to this package's directory. go test puts the go command of the
// running toolchain first in PATH, so LookPath finds the same toolchain.
func buildProxy(output string) error {
	goTool, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("find the go command: %w", err)
	}

	build := exec.Command(goTool, "build", "-o", output, ".")
	var messages bytes.Buffer
	build.Stdout = &messages
	build.Stderr = &messages
	if err := build.Run(); err != nil {
		return fmt.Errorf("go build: %w\n%s", err, messages.String())
	}
	return nil
}

// apiKey is a key made with the binary's keys create command.
type apiKey struct {
	User   string
	Secret string
}

// keyStore runs the binary's keys commands against one SQLite file, and
// remembers every secret so that the logs can be searched for them.
type keyStore struct {
	workDir string
	dbPath  string

	mu      sync.Mutex
	secrets []string
}

func (s *keyStore) environ() []string {
	return []string{"DB_TYPE=sqlite", "DB_DATABASE=" + s.dbPath}
}

// create makes a key for user with the given scopes and returns it.
func (s *keyStore) create(t *testing.T, user, scopes string) apiKey {
	t.Helper()
	stdout := s.run(t, "keys", "create", "--user", user, "--scopes", scopes)

	secret := strings.TrimSpace(stdout)
	if secret == "" || strings.ContainsAny(secret, " \n") {
		t.Fatalf("keys create --user %s printed %q, expected one key", user, stdout)
	}
	s.remember(secret)
	return apiKey{User: user, Secret: secret}
}

// revoke makes the user's key expire now.
func (s *keyStore) revoke(t *testing.T, user string) {
	t.Helper()
	s.run(t, "keys", "revoke", "--user", user)
}

// remember adds a secret to the list that must never appear in a log.
func (s *keyStore) remember(secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.secrets = append(s.secrets, secret)
}

func (s *keyStore) allSecrets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.secrets...)
}

func (s *keyStore) run(t *testing.T, args ...string) string {
	t.Helper()
	command := exec.Command(proxyBinary, args...)
	command.Dir = s.workDir
	command.Env = s.environ()

	var stdout, stderr bytes.Buffer
	command.Stdout = &stdout
	command.Stderr = &stderr
	if err := command.Run(); err != nil {
		t.Fatalf("prefect-auth-proxy %s: %v\nstderr: %s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// upstreamRequest is one request that the fake Prefect API received.
type upstreamRequest struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
}

// fakeUpstream is a stand-in for Prefect 1's Apollo server. It records
// every request and responds to every GraphQL operation with data shaped like
// its selection set: an object for a JSON object body and an array of
// results for a JSON array body, as Apollo Server 2 batching does.
type fakeUpstream struct {
	server   *httptest.Server
	tenantID string

	mu       sync.Mutex
	requests []upstreamRequest
	arrived  chan struct{}
	// held is the request that waits for release before the fake responds.
	held *heldRequest
}

// heldRequest is a request that the fake keeps open, so that a test can act
// while the proxy waits for the response.
type heldRequest struct {
	id      string
	arrived chan struct{}
	release chan struct{}
}

func newFakeUpstream(t *testing.T, tenantID string) *fakeUpstream {
	t.Helper()
	fake := &fakeUpstream{tenantID: tenantID, arrived: make(chan struct{}, 1)}
	fake.server = httptest.NewServer(http.HandlerFunc(fake.serveHTTP))
	t.Cleanup(fake.server.Close)
	return fake
}

// url is the API_SERVICE_URL of the fake, with the /graphql path that
// selects the proxy's GraphQL mode.
func (f *fakeUpstream) url() string {
	return f.server.URL + "/graphql"
}

func (f *fakeUpstream) serveHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.record(upstreamRequest{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body})
	f.waitIfHeld(r.Header.Get("X-Request-Id"))

	// Apollo's CORS middleware allows every origin. The proxy must replace
	// this header with its own, never send both.
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Content-Type", "application/json")

	if r.Method != http.MethodPost {
		// Apollo responds to a GET without a query with 400.
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"errors":[{"message":"GET query missing."}]}`)
		return
	}

	response, err := f.respond(body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]string{{"message": err.Error()}}})
		return
	}
	_, _ = w.Write(response)
}

func (f *fakeUpstream) record(request upstreamRequest) {
	f.mu.Lock()
	f.requests = append(f.requests, request)
	f.mu.Unlock()

	select {
	case f.arrived <- struct{}{}:
	default:
	}
}

// hold makes the request with X-Request-Id id wait until release is
// called. arrived is closed when that request has been received.
func (f *fakeUpstream) hold(id string) (arrived <-chan struct{}, release func()) {
	held := &heldRequest{id: id, arrived: make(chan struct{}), release: make(chan struct{})}
	f.mu.Lock()
	f.held = held
	f.mu.Unlock()

	var once sync.Once
	return held.arrived, func() { once.Do(func() { close(held.release) }) }
}

func (f *fakeUpstream) waitIfHeld(id string) {
	f.mu.Lock()
	held := f.held
	f.mu.Unlock()
	if held == nil || held.id != id {
		return
	}

	close(held.arrived)
	<-held.release
}

// count returns the number of requests received so far.
func (f *fakeUpstream) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.requests)
}

// withRequestID returns the requests that carried the X-Request-Id header
// id. The proxy forwards the client's header unchanged, so every test
// request can be found by the id the test gave it.
func (f *fakeUpstream) withRequestID(id string) []upstreamRequest {
	f.mu.Lock()
	defer f.mu.Unlock()

	var found []upstreamRequest
	for _, request := range f.requests {
		if request.Header.Get("X-Request-Id") == id {
			found = append(found, request)
		}
	}
	return found
}

// waitFor waits until a request that matches has arrived.
func (f *fakeUpstream) waitFor(t *testing.T, description string, match func(upstreamRequest) bool) {
	t.Helper()
	deadline := time.After(startTimeout)
	for {
		f.mu.Lock()
		for _, request := range f.requests {
			if match(request) {
				f.mu.Unlock()
				return
			}
		}
		f.mu.Unlock()

		select {
		case <-f.arrived:
		case <-deadline:
			t.Fatalf("the fake Prefect API did not receive %s within %s", description, startTimeout)
		}
	}
}

// respond returns the GraphQL response for a request body.
func (f *fakeUpstream) respond(body []byte) ([]byte, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) > 0 && trimmed[0] == '[' {
		var batch []json.RawMessage
		if err := json.Unmarshal(trimmed, &batch); err != nil {
			return nil, fmt.Errorf("decode batch: %w", err)
		}
		results := make([]json.RawMessage, len(batch))
		for i, element := range batch {
			result, err := f.respondElement(element)
			if err != nil {
				return nil, fmt.Errorf("batch element %d: %w", i, err)
			}
			results[i] = result
		}
		return json.Marshal(results)
	}
	return f.respondElement(trimmed)
}

// wireRequest is a GraphQL request object. Variables may be an object or,
// as the Prefect 1 Python client sends them, a string of JSON text.
type wireRequest struct {
	Query         string          `json:"query"`
	OperationName string          `json:"operationName"`
	Variables     json.RawMessage `json:"variables"`
}

func (f *fakeUpstream) respondElement(raw []byte) ([]byte, error) {
	var request wireRequest
	if err := json.Unmarshal(raw, &request); err != nil {
		return nil, fmt.Errorf("decode request: %w", err)
	}
	operation, err := selectOperation(request.Query, request.OperationName)
	if err != nil {
		return nil, err
	}

	data := map[string]any{}
	for _, selection := range operation.SelectionSet {
		field, ok := selection.(*ast.Field)
		if !ok {
			return nil, errors.New("the fake Prefect API does not expand fragments")
		}
		data[field.Alias] = f.resolve(field, string(operation.Operation)+"_root")
	}
	return json.Marshal(map[string]any{"data": data})
}

// selectOperation parses a document and returns the operation that
// operationName names, or its only operation.
func selectOperation(query, operationName string) (*ast.OperationDefinition, error) {
	document, err := parser.ParseQuery(&ast.Source{Input: query})
	if err != nil {
		return nil, fmt.Errorf("parse document: %w", err)
	}
	for _, operation := range document.Operations {
		if operation.Name == operationName || len(document.Operations) == 1 {
			return operation, nil
		}
	}
	return nil, fmt.Errorf("no operation named %q", operationName)
}

// listFields are the Prefect 1 fields whose value is a list of objects.
var listFields = map[string]bool{
	"tenant": true, "project": true, "flow": true, "flow_run": true, "task_run": true,
	"agent": true, "logs": true, "states": true, "task_runs": true, "task": true,
}

// Fixed ids in the fake's responses.
const (
	fakeProjectID = "0b5e8e0f-6f53-4c8e-9b2f-3c0d6f1b2a01"
	fakeFlowID    = "0b5e8e0f-6f53-4c8e-9b2f-3c0d6f1b2a02"
	fakeFlowRunID = "0b5e8e0f-6f53-4c8e-9b2f-3c0d6f1b2a03"
	fakeTaskRunID = "0b5e8e0f-6f53-4c8e-9b2f-3c0d6f1b2a04"
	fakeAgentID   = "0b5e8e0f-6f53-4c8e-9b2f-3c0d6f1b2a05"
	fakeOtherID   = "0b5e8e0f-6f53-4c8e-9b2f-3c0d6f1b2a06"
)

// idOf maps the field an object comes from to the id the fake gives it.
var idOf = map[string]string{
	"project": fakeProjectID, "create_project": fakeProjectID,
	"flow": fakeFlowID, "flow_by_pk": fakeFlowID, "create_flow": fakeFlowID,
	"create_flow_from_compressed_string": fakeFlowID,
	"flow_run":                           fakeFlowRunID, "flow_run_by_pk": fakeFlowRunID, "create_flow_run": fakeFlowRunID,
	"task_run": fakeTaskRunID, "task_runs": fakeTaskRunID, "get_or_create_task_run_info": fakeTaskRunID,
	"agent": fakeAgentID, "register_agent": fakeAgentID,
}

// resolve returns a plausible value for field, whose parent object comes
// from the field named parent.
func (f *fakeUpstream) resolve(field *ast.Field, parent string) any {
	if len(field.SelectionSet) == 0 {
		return f.leaf(field.Name, parent)
	}

	object := map[string]any{}
	for _, selection := range field.SelectionSet {
		if sub, ok := selection.(*ast.Field); ok {
			object[sub.Alias] = f.resolve(sub, field.Name)
		}
	}
	if listFields[field.Name] {
		return []any{object}
	}
	return object
}

func (f *fakeUpstream) leaf(name, parent string) any {
	switch name {
	case "__typename":
		return parent
	case "hello":
		return "Hello, World!"
	case "id":
		if parent == "tenant" {
			return f.tenantID
		}
		if id, ok := idOf[parent]; ok {
			return id
		}
		return fakeOtherID
	case "tenant_id":
		return f.tenantID
	case "flow_id", "flow_group_id", "version_group_id":
		return fakeFlowID
	case "task_id":
		return fakeOtherID
	case "flow_run_ids":
		return []string{fakeFlowRunID}
	case "name":
		if parent == "tenant" {
			return "Default"
		}
		return parent + "-name"
	case "slug":
		return "default"
	case "success", "archived":
		return name == "success"
	case "count", "version":
		return 1
	case "status":
		return "SUCCESS"
	case "serialized_state":
		return map[string]any{"type": "Scheduled", "message": "scheduled by the fake", "__version__": "1.4.1"}
	case "labels":
		return []string{}
	case "settings", "parameters", "context", "run_config", "storage", "environment", "info":
		return map[string]any{}
	}
	return name + "-value"
}

// lineBuffer collects a process's output. exec calls Write from one
// goroutine at a time when stdout and stderr share it.
type lineBuffer struct {
	mu     sync.Mutex
	buffer bytes.Buffer
}

func (b *lineBuffer) Write(data []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buffer.Write(data)
}

func (b *lineBuffer) lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()

	var lines []string
	scanner := bufio.NewScanner(bytes.NewReader(b.buffer.Bytes()))
	scanner.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for scanner.Scan() {
		lines = append(lines, scanner.Text())
	}
	return lines
}

func (b *lineBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buffer.String()
}

// proxyProcess is a running prefect-auth-proxy serve process.
type proxyProcess struct {
	command *exec.Cmd
	baseURL string
	output  *lineBuffer
	exited  chan struct{}
	stopped bool // SIGTERM was sent, or the process was killed
	checked bool // the exit code was checked
}

// startProxy starts the proxy on a free port of 127.0.0.1 with the given
// settings and waits until GET /healthcheck returns 200. The port is found
// by listening on port 0 and closing the listener, so another process may
// take it in between: the start is then retried on a new port.
func startProxy(t *testing.T, workDir string, settings []string) *proxyProcess {
	t.Helper()
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		proxy, err := tryStartProxy(t, workDir, settings, freePort(t))
		if err == nil {
			return proxy
		}
		lastErr = err
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	t.Fatalf("start proxy: %v", lastErr)
	return nil
}

func tryStartProxy(t *testing.T, workDir string, settings []string, port int) (*proxyProcess, error) {
	command := exec.Command(proxyBinary)
	command.Dir = workDir
	command.Env = append([]string{"HOST=127.0.0.1", fmt.Sprintf("PORT=%d", port)}, settings...)
	output := &lineBuffer{}
	command.Stdout = output
	command.Stderr = output

	if err := command.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", proxyBinary, err)
	}
	proxy := &proxyProcess{
		command: command,
		baseURL: fmt.Sprintf("http://127.0.0.1:%d", port),
		output:  output,
		exited:  make(chan struct{}),
	}
	go func() {
		_ = command.Wait()
		close(proxy.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-proxy.exited:
		default:
			_ = command.Process.Kill()
			<-proxy.exited
		}
		if t.Failed() {
			t.Logf("output of the proxy on %s:\n%s", proxy.baseURL, output.String())
		}
	})

	if err := proxy.waitHealthy(); err != nil {
		return nil, err
	}
	return proxy, nil
}

// waitHealthy polls GET /healthcheck until it returns 200 or the process
// exits.
func (p *proxyProcess) waitHealthy() error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			return fmt.Errorf("proxy exited with code %d before it was healthy:\n%s",
				p.command.ProcessState.ExitCode(), p.output.String())
		default:
		}

		response, err := client.Get(p.baseURL + "/healthcheck")
		if err == nil {
			response.Body.Close()
			if response.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = p.command.Process.Kill()
	<-p.exited
	p.stopped = true
	return fmt.Errorf("proxy was not healthy within %s:\n%s", startTimeout, p.output.String())
}

// stop sends SIGTERM, unless terminate has sent it already, and checks that
// the proxy drains and exits with 0.
func (p *proxyProcess) stop(t *testing.T) {
	t.Helper()
	if !p.stopped {
		p.terminate(t)
	}
	p.waitExit(t)
}

// terminate sends SIGTERM without waiting for the exit.
func (p *proxyProcess) terminate(t *testing.T) {
	t.Helper()
	p.stopped = true
	if err := p.command.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("send SIGTERM to the proxy: %v", err)
	}
}

// waitExit waits for the process to end and checks that its exit code is
// 0, once.
func (p *proxyProcess) waitExit(t *testing.T) {
	t.Helper()
	if p.checked {
		return
	}
	p.checked = true
	select {
	case <-p.exited:
	case <-time.After(stopTimeout):
		_ = p.command.Process.Kill()
		<-p.exited
		t.Fatalf("proxy did not exit within %s of SIGTERM", stopTimeout)
	}
	if code := p.command.ProcessState.ExitCode(); code != 0 {
		t.Errorf("proxy exit code after SIGTERM = %d, expected 0", code)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	port := listener.Addr().(*net.TCPAddr).Port
	listener.Close()
	return port
}

// clientRequest is a request as a Prefect client sends it to the proxy.
type clientRequest struct {
	Method string
	Path   string
	Header map[string]string
	Body   []byte
	// Chunked hides the body's length, so it is sent with chunked transfer
	// encoding and no Content-Length.
	Chunked bool
	// Host replaces the Host header, which is the proxy's address when
	// empty.
	Host string
}

// clientResponse is what the client received, with the X-Request-Id the
// test gave the request.
type clientResponse struct {
	RequestID string
	Status    int
	Header    http.Header
	Body      []byte
}

// client sends requests to one proxy and numbers them with X-Request-Id.
type client struct {
	baseURL string
	http    *http.Client
	prefix  string
	// remember receives every credential header value sent, which must
	// never appear in a log.
	remember func(value string)

	mu   sync.Mutex
	next int
}

func newClient(baseURL, prefix string, remember func(string)) *client {
	return &client{baseURL: baseURL, http: &http.Client{Timeout: requestTimeout}, prefix: prefix, remember: remember}
}

func (c *client) requestID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.next++
	return fmt.Sprintf("%s-%04d", c.prefix, c.next)
}

func (c *client) send(t *testing.T, request clientRequest) clientResponse {
	t.Helper()
	response, err := c.do(request)
	if err != nil {
		t.Fatal(err)
	}
	return response
}

// do is send for goroutines, which must not call t.Fatal.
func (c *client) do(request clientRequest) (clientResponse, error) {
	method := request.Method
	if method == "" {
		method = http.MethodPost
	}
	path := request.Path
	if path == "" {
		path = "/graphql"
	}

	var body io.Reader
	if request.Body != nil {
		body = bytes.NewReader(request.Body)
		if request.Chunked {
			body = io.MultiReader(body)
		}
	}
	httpRequest, err := http.NewRequest(method, c.baseURL+path, body)
	if err != nil {
		return clientResponse{}, fmt.Errorf("build request: %w", err)
	}
	if request.Host != "" {
		httpRequest.Host = request.Host
	}
	for name, value := range request.Header {
		httpRequest.Header.Set(name, value)
		if isCredentialHeader(name) && value != "null" {
			c.remember(value)
		}
	}
	// A caller that must know the id in advance sets it itself.
	id := httpRequest.Header.Get("X-Request-Id")
	if id == "" {
		id = c.requestID()
		httpRequest.Header.Set("X-Request-Id", id)
	}

	response, err := c.http.Do(httpRequest)
	if err != nil {
		return clientResponse{}, fmt.Errorf("%s %s (request %s): %w", method, path, id, err)
	}
	defer response.Body.Close()
	responseBody, err := io.ReadAll(response.Body)
	if err != nil {
		return clientResponse{}, fmt.Errorf("read response to request %s: %w", id, err)
	}
	return clientResponse{RequestID: id, Status: response.StatusCode, Header: response.Header, Body: responseBody}, nil
}

func isCredentialHeader(name string) bool {
	name = http.CanonicalHeaderKey(name)
	return name == "Authorization" || name == "X-Prefect-User-Id"
}

// cliBody builds a request body as the Prefect 1.4.1 Python client does:
// json.dumps of {"query": ..., "variables": json.dumps(variables)}, with
// Python's ", " and ": " separators. variables is JSON text, "null" when
// the call has none.
func cliBody(query, variables string) []byte {
	return fmt.Appendf(nil, `{"query": %s, "variables": %s}`, jsonString(query), jsonString(variables))
}

// jsonString encodes s as a JSON string without HTML escaping, as Python's
// json module writes it.
func jsonString(s string) string {
	var out bytes.Buffer
	encoder := json.NewEncoder(&out)
	encoder.SetEscapeHTML(false)
	_ = encoder.Encode(s)
	return strings.TrimSuffix(out.String(), "\n")
}

// mustJSON encodes a value that cannot fail to encode.
func mustJSON(value any) string {
	encoded, err := json.Marshal(value)
	if err != nil {
		panic(fmt.Sprintf("encode %T: %v", value, err))
	}
	return string(encoded)
}

// graphqlResult is a GraphQL response object.
type graphqlResult struct {
	Data   map[string]json.RawMessage `json:"data"`
	Errors []graphqlError             `json:"errors"`
}

type graphqlError struct {
	Message    string `json:"message"`
	Extensions struct {
		Code   string `json:"code"`
		Reason string `json:"reason"`
		Scope  string `json:"scope"`
	} `json:"extensions"`
}

func decodeResult(t *testing.T, body []byte) graphqlResult {
	t.Helper()
	var result graphqlResult
	if err := json.Unmarshal(body, &result); err != nil {
		t.Fatalf("response is not a GraphQL result object: %v\n%s", err, body)
	}
	return result
}

func decodeBatch(t *testing.T, body []byte) []graphqlResult {
	t.Helper()
	var results []graphqlResult
	if err := json.Unmarshal(body, &results); err != nil {
		t.Fatalf("response is not an array of GraphQL results: %v\n%s", err, body)
	}
	return results
}

// describeDocument returns the operation type and root field names of a
// one-operation document, as the audit trail names them.
func describeDocument(t *testing.T, query string) (string, []string) {
	t.Helper()
	operation, err := selectOperation(query, "")
	if err != nil {
		t.Fatalf("test document: %v", err)
	}
	var fields []string
	for _, selection := range operation.SelectionSet {
		fields = append(fields, selection.(*ast.Field).Name)
	}
	return string(operation.Operation), fields
}

// waitListenerClosed waits until the proxy refuses new connections, which
// http.Server.Shutdown does first, before it waits for open requests.
func (p *proxyProcess) waitListenerClosed(t *testing.T) {
	t.Helper()
	address := strings.TrimPrefix(p.baseURL, "http://")
	deadline := time.Now().Add(stopTimeout)
	for time.Now().Before(deadline) {
		connection, err := net.DialTimeout("tcp", address, time.Second)
		if err != nil {
			return
		}
		connection.Close()
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("proxy still accepted connections %s after SIGTERM", stopTimeout)
}
