package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/authz"
)

func TestRecordJSONFields(t *testing.T) {
	var out bytes.Buffer
	logger := New(&out, "json", 16)

	logger.Record(context.Background(), Event{
		Allow:         false,
		Reason:        authz.ReasonScopeMissing,
		Scope:         "mutation/create_flow_run",
		UserID:        "alice",
		RequestID:     "req-1",
		Client:        "127.0.0.1",
		OperationType: "mutation",
		OperationName: "CreateFlowRun",
		RootFields:    []string{"create_flow_run"},
		Variables:     `{"id":"3e216621-8e22-4f7f-af69-284c644cba05"}`,
		Index:         -1,
	})

	var event map[string]any
	if err := json.Unmarshal(out.Bytes(), &event); err != nil {
		t.Fatalf("decode event %q: %v", out.String(), err)
	}
	want := map[string]any{
		"msg":            Marker,
		"decision":       Blocked,
		"reason":         "scope-missing",
		"scope":          "mutation/create_flow_run",
		"user_id":        "alice",
		"request_id":     "req-1",
		"client":         "127.0.0.1",
		"operation_type": "mutation",
		"operation_name": "CreateFlowRun",
		"variables":      `{"id":"3e216621-…(truncated)`,
	}
	for key, value := range want {
		if event[key] != value {
			t.Errorf("event[%q] = %v, want %v", key, event[key], value)
		}
	}
	if _, ok := event["batch_index"]; ok {
		t.Error("batch_index is set for a single request")
	}
}

func TestTruncateKeepsUTF8(t *testing.T) {
	cases := []struct {
		input string
		max   int
		want  string
	}{
		{"short", 10, "short"},
		{"abcdef", 3, "abc…(truncated)"},
		{"ééé", 3, "é…(truncated)"},
	}
	for _, tc := range cases {
		got := Truncate(tc.input, tc.max)
		if got != tc.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", tc.input, tc.max, got, tc.want)
		}
		if !strings.HasPrefix(tc.input, strings.TrimSuffix(got, "…(truncated)")) {
			t.Errorf("Truncate(%q, %d) = %q is not a prefix", tc.input, tc.max, got)
		}
	}
}
