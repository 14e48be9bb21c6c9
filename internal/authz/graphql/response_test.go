package graphql

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/authz"
)

// graphQLResult is the decoded form of one GraphQL result object.
type graphQLResult struct {
	Data   json.RawMessage `json:"data"`
	Errors []struct {
		Message    string            `json:"message"`
		Extensions map[string]string `json:"extensions"`
	} `json:"errors"`
}

func decodeResult(t *testing.T, data []byte) graphQLResult {
	t.Helper()

	var result graphQLResult
	if err := json.Unmarshal(data, &result); err != nil {
		t.Fatalf("decode result %s: %v", data, err)
	}
	return result
}

func TestErrorResult(t *testing.T) {
	decision := authz.Denied(authz.ReasonScopeMissing, "mutation/create_flow_run",
		`mutation field "create_flow_run" requires the scope "mutation/create_flow_run"`)

	body := ErrorResult(decision)

	want := `{"data":null,"errors":[{"message":"mutation field \"create_flow_run\" requires the scope \"mutation/create_flow_run\"",` +
		`"extensions":{"code":"FORBIDDEN","reason":"scope-missing","scope":"mutation/create_flow_run"}}]}`
	if string(body) != want {
		t.Errorf("ErrorResult =\n%s\nwant\n%s", body, want)
	}
}

func TestErrorResultWithoutScopeOrMessage(t *testing.T) {
	body := ErrorResult(authz.Denied(authz.ReasonKeyUnknown, "", ""))

	want := `{"data":null,"errors":[{"message":"key-unknown","extensions":{"code":"UNAUTHENTICATED","reason":"key-unknown"}}]}`
	if string(body) != want {
		t.Errorf("ErrorResult =\n%s\nwant\n%s", body, want)
	}
}

func TestErrorCode(t *testing.T) {
	tests := []struct {
		reason authz.Reason
		want   string
	}{
		{authz.ReasonKeyMissing, CodeUnauthenticated},
		{authz.ReasonKeyUnknown, CodeUnauthenticated},
		{authz.ReasonKeyExpired, CodeUnauthenticated},
		{authz.ReasonKeyNotYetValid, CodeUnauthenticated},
		{authz.ReasonKeyUserMismatch, CodeUnauthenticated},
		{authz.ReasonScopeMissing, CodeForbidden},
		{authz.ReasonSecretsRefused, CodeForbidden},
		{authz.ReasonKeyStoreUnavailable, CodeInternal},
		{authz.ReasonTenantUnknown, CodeInternal},
		{authz.ReasonGraphQLInvalid, CodeBadRequest},
		{authz.ReasonOperationNameUnknown, CodeBadRequest},
		{authz.ReasonMutationOverGet, CodeBadRequest},
		{authz.ReasonRequestInvalid, CodeBadRequest},
		{authz.ReasonContentTypeUnsupported, CodeBadRequest},
	}
	for _, tc := range tests {
		if got := ErrorCode(tc.reason); got != tc.want {
			t.Errorf("ErrorCode(%q) = %q, want %q", tc.reason, got, tc.want)
		}
	}
}

// partialBatch returns a batch of four elements of which the first and
// third are allowed.
func partialBatch(t *testing.T) *Request {
	t.Helper()

	req := mustParse(t, http.MethodPost, "application/json", `[
		{"query": "{ hello }"},
		{"query": "mutation { delete_flow(input: {}) { success } }"},
		{"query": "query F { flow { id } }", "operationName": "F"},
		{"query": "{ broken"}
	]`)
	Authorize(req, mustGrant(t, "query/*"))
	return req
}

func TestForwardBodyPartialBatch(t *testing.T) {
	req := partialBatch(t)

	body, err := ForwardBody(req)
	if err != nil {
		t.Fatal(err)
	}

	want := `[{"query": "{ hello }"},{"query": "query F { flow { id } }", "operationName": "F"}]`
	if string(body) != want {
		t.Errorf("ForwardBody =\n%s\nwant\n%s", body, want)
	}
}

func TestForwardBodyErrors(t *testing.T) {
	single := mustParse(t, http.MethodPost, "application/json", `{"query": "{ hello }"}`)
	Authorize(single, mustGrant(t, "query/*"))
	if _, err := ForwardBody(single); err == nil {
		t.Error("ForwardBody accepted a single request")
	}

	denied := mustParse(t, http.MethodPost, "application/json", `[{"query": "{ hello }"}]`)
	Authorize(denied, mustGrant(t, ""))
	if _, err := ForwardBody(denied); err == nil {
		t.Error("ForwardBody accepted a batch with no allowed element")
	}
}

func TestMergeResponsePartialBatch(t *testing.T) {
	req := partialBatch(t)
	upstream := []byte(` [ {"data": {"hello": "world"}} ,
		{"data": {"flow": [{"id": "f1"}]}} ] `)

	body, err := MergeResponse(req, upstream)
	if err != nil {
		t.Fatal(err)
	}

	var results []json.RawMessage
	if err := json.Unmarshal(body, &results); err != nil {
		t.Fatalf("merged body is not a JSON array: %v\n%s", err, body)
	}
	if len(results) != 4 {
		t.Fatalf("merged %d results, want 4", len(results))
	}
	if got := string(results[0]); got != `{"data": {"hello": "world"}}` {
		t.Errorf("result 0 = %s, want the first upstream result", got)
	}
	if got := string(results[2]); got != `{"data": {"flow": [{"id": "f1"}]}}` {
		t.Errorf("result 2 = %s, want the second upstream result", got)
	}

	denied := decodeResult(t, results[1])
	if string(denied.Data) != "null" || len(denied.Errors) != 1 {
		t.Fatalf("result 1 = %s, want one error and null data", results[1])
	}
	if got := denied.Errors[0].Extensions["scope"]; got != "mutation/delete_flow" {
		t.Errorf("result 1 scope = %q, want mutation/delete_flow", got)
	}
	if got := denied.Errors[0].Extensions["code"]; got != CodeForbidden {
		t.Errorf("result 1 code = %q, want FORBIDDEN", got)
	}

	invalid := decodeResult(t, results[3])
	if got := invalid.Errors[0].Extensions["reason"]; got != string(authz.ReasonGraphQLInvalid) {
		t.Errorf("result 3 reason = %q, want graphql-invalid", got)
	}
}

func TestMergeResponseNothingAllowed(t *testing.T) {
	req := mustParse(t, http.MethodPost, "application/json", `[{"query": "{ hello }"}, {"query": "{ flow { id } }"}]`)
	DenyAll(req, authz.Denied(authz.ReasonKeyMissing, "", "API key is missing"))

	body, err := MergeResponse(req, nil)
	if err != nil {
		t.Fatal(err)
	}

	var results []json.RawMessage
	if err := json.Unmarshal(body, &results); err != nil || len(results) != 2 {
		t.Fatalf("merged body = %s, want an array of 2 results", body)
	}
	for i, raw := range results {
		result := decodeResult(t, raw)
		if got := result.Errors[0].Extensions["code"]; got != CodeUnauthenticated {
			t.Errorf("result %d code = %q, want UNAUTHENTICATED", i, got)
		}
	}
}

func TestMergeResponseSingle(t *testing.T) {
	req := mustParse(t, http.MethodPost, "application/json", `{"query": "{ hello }"}`)
	upstream := []byte(`{"data": {"hello": "world"}}`)

	Authorize(req, mustGrant(t, "query/hello"))
	body, err := MergeResponse(req, upstream)
	if err != nil || string(body) != string(upstream) {
		t.Errorf("allowed single: MergeResponse = %s, %v, want upstream unchanged", body, err)
	}

	Authorize(req, mustGrant(t, ""))
	body, err = MergeResponse(req, upstream)
	if err != nil {
		t.Fatal(err)
	}
	if got := decodeResult(t, body).Errors[0].Extensions["reason"]; got != string(authz.ReasonScopeMissing) {
		t.Errorf("denied single: reason = %q, want scope-missing", got)
	}
}

func TestMergeResponseBadUpstream(t *testing.T) {
	tests := []struct {
		name     string
		upstream string
	}{
		{"empty", ""},
		{"not JSON", "<html>Bad Gateway</html>"},
		{"object", `{"errors": [{"message": "batching is disabled"}]}`},
		{"too short", `[{"data": {}}]`},
		{"too long", `[{"data": {}}, {"data": {}}, {"data": {}}]`},
		{"truncated", `[{"data": {}}, {"data": {}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := partialBatch(t)

			_, err := MergeResponse(req, []byte(tc.upstream))
			if !errors.Is(err, ErrUpstreamResponse) {
				t.Errorf("MergeResponse error = %v, want ErrUpstreamResponse", err)
			}
		})
	}
}

func TestMergeResponseLocalResults(t *testing.T) {
	req := mustParse(t, http.MethodPost, "application/json", `[
		{"query": "{ auth_info { tenant_id } }"},
		{"query": "{ hello }"},
		{"query": "mutation { delete_flow(input: {}) { success } }"}
	]`)
	Authorize(req, mustGrant(t, "query/*"))
	local := `{"data":{"auth_info":{"tenant_id":"5f3a5a9c-0d40-4a0e-9c4b-3a6a4f1f1a11"}}}`
	req.Elements[0].Local = []byte(local)
	req.Elements[0].Decision = authz.Allowed(authz.ReasonCloudLogin, "")

	if got := req.ForwardCount(); got != 1 {
		t.Fatalf("ForwardCount() = %d, want 1", got)
	}
	forwarded, err := ForwardBody(req)
	if err != nil {
		t.Fatal(err)
	}
	if want := `[{"query": "{ hello }"}]`; string(forwarded) != want {
		t.Errorf("ForwardBody = %s, want %s", forwarded, want)
	}

	merged, err := MergeResponse(req, []byte(`[{"data":{"hello":"world"}}]`))
	if err != nil {
		t.Fatal(err)
	}
	var results []json.RawMessage
	if err := json.Unmarshal(merged, &results); err != nil || len(results) != 3 {
		t.Fatalf("merged = %s, want an array of 3 results", merged)
	}
	if got := string(results[0]); got != local {
		t.Errorf("result 0 = %s, want the local result", got)
	}
	if got := string(results[1]); got != `{"data":{"hello":"world"}}` {
		t.Errorf("result 1 = %s, want the upstream result", got)
	}
	if got := decodeResult(t, results[2]).Errors[0].Extensions["scope"]; got != "mutation/delete_flow" {
		t.Errorf("result 2 scope = %q, want mutation/delete_flow", got)
	}
}

func TestMergeResponseSingleLocal(t *testing.T) {
	req := mustParse(t, http.MethodPost, "application/json", `{"query": "{ auth_info { tenant_id } }"}`)
	Authorize(req, mustGrant(t, "query/auth_info"))
	req.Elements[0].Local = []byte(`{"data":{"auth_info":{"tenant_id":"t"}}}`)

	if got := req.ForwardCount(); got != 0 {
		t.Errorf("ForwardCount() = %d, want 0", got)
	}
	body, err := MergeResponse(req, nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(body) != string(req.Elements[0].Local) {
		t.Errorf("MergeResponse = %s, want the local result", body)
	}
}

func TestMergeResponseDeniedLocalIgnored(t *testing.T) {
	req := mustParse(t, http.MethodPost, "application/json", `{"query": "{ auth_info { tenant_id } }"}`)
	req.Elements[0].Local = []byte(`{"data":{"auth_info":{"tenant_id":"t"}}}`)
	DenyAll(req, authz.Denied(authz.ReasonKeyUnknown, "", "API key is not valid"))

	body, err := MergeResponse(req, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := decodeResult(t, body).Errors[0].Extensions["reason"]; got != string(authz.ReasonKeyUnknown) {
		t.Errorf("reason = %q, want key-unknown", got)
	}
}
