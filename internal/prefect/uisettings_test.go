package prefect

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"testing"
)

const prefect38Settings = `{"api_url":"http://0.0.0.0:4200/api","csrf_enabled":false,"auth":null,"flags":[],"default_ui":"v2","available_uis":["v1","v2"],"v1_base_url":"/","v2_base_url":"/v2"}`

func TestRewriteUISettings(t *testing.T) {
	var compressed bytes.Buffer
	writer := gzip.NewWriter(&compressed)
	_, _ = writer.Write([]byte(prefect38Settings))
	_ = writer.Close()

	cases := []struct {
		name     string
		body     []byte
		encoding string
	}{
		{name: "plain", body: []byte(prefect38Settings)},
		{name: "gzip", body: compressed.Bytes(), encoding: "gzip"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rewritten, err := RewriteUISettings(tc.body, tc.encoding, "https://prefect.example.com/api")
			if err != nil {
				t.Fatal(err)
			}

			var settings map[string]any
			if err := json.Unmarshal(rewritten, &settings); err != nil {
				t.Fatalf("rewritten answer is not JSON: %s", rewritten)
			}
			if settings["auth"] != "BASIC" {
				t.Errorf("auth = %v, want BASIC", settings["auth"])
			}
			if settings["api_url"] != "https://prefect.example.com/api" {
				t.Errorf("api_url = %v", settings["api_url"])
			}
			if settings["default_ui"] != "v2" || settings["v2_base_url"] != "/v2" {
				t.Errorf("other fields were not kept: %s", rewritten)
			}
		})
	}
}

func TestRewriteUISettingsRejects(t *testing.T) {
	cases := map[string]struct {
		body     string
		encoding string
	}{
		"not JSON":     {body: "<html>"},
		"JSON array":   {body: "[]"},
		"JSON null":    {body: "null"},
		"brotli":       {body: prefect38Settings, encoding: "br"},
		"corrupt gzip": {body: "not gzip", encoding: "gzip"},
	}
	for name, tc := range cases {
		if _, err := RewriteUISettings([]byte(tc.body), tc.encoding, "/api"); err == nil {
			t.Errorf("%s: expected an error", name)
		}
	}
}
