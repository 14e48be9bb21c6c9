package audit

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestRedactVariables(t *testing.T) {
	secret := "handwritten-key-001"
	generated := "pap_hvQQzmZHmMAA6Rtag2eECdxeBeZkQc0EVktDm3quR0k"
	variables := map[string]any{
		"input": map[string]any{
			"name":       "etl",
			"parameters": map[string]any{"note": "uses " + secret, "PREFECT_API_KEY": "x", "db_password": "hunter2"},
			"labels":     []any{"a", generated},
			"count":      3.0,
		},
		"token": "t",
	}

	encoded, _ := json.Marshal(RedactVariables(variables, secret))
	text := string(encoded)

	for _, leaked := range []string{secret, generated, "hunter2", `"x"`, `"t"`} {
		if strings.Contains(text, leaked) {
			t.Errorf("redacted variables still contain %s: %s", leaked, text)
		}
	}
	for _, kept := range []string{`"name":"etl"`, `"count":3`, `"a"`} {
		if !strings.Contains(text, kept) {
			t.Errorf("redacted variables lost %s: %s", kept, text)
		}
	}
}
