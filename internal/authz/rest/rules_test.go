package rest

import (
	"net/http"
	"net/url"
	"testing"
)

func TestQuerySecretsRequested(t *testing.T) {
	tests := []struct {
		query string
		want  bool
	}{
		{"", false},
		{"include_secrets=false", false},
		{"include_secrets=False", false},
		{"include_secrets=0", false},
		{"include_secrets=no&include_secrets=off", false},
		{"include_secrets=true", true},
		{"include_secrets=TRUE", true},
		{"include_secrets=1", true},
		{"include_secrets=yes", true},
		{"include_secrets=", true},
		{"include_secrets", true},
		{"include_secrets=false&include_secrets=true", true},
		{"include_secrets=true&include_secrets=false", true},
		{"include%5Fsecrets=true", true},
		{"include_secrets=tru%65", true},
		{"include_secrets=false+", true},
		{"Include_Secrets=true", false},
		{"include_secret=true", false},
	}
	for _, tc := range tests {
		query, err := url.ParseQuery(tc.query)
		if err != nil {
			t.Fatalf("query %q: %v", tc.query, err)
		}
		if got := querySecretsRequested(&RequestFacts{Query: query}); got != tc.want {
			t.Errorf("querySecretsRequested(%q) = %v, want %v", tc.query, got, tc.want)
		}
	}
}

func TestBodySecretsRequested(t *testing.T) {
	tests := []struct {
		body string
		want bool
	}{
		{"", false},
		{" \n", false},
		{`{}`, false},
		{`{"include_secrets": false}`, false},
		{`{"block_documents": {"include_secrets": true}, "limit": 10}`, false},
		{`{"include_secrets": true}`, true},
		{`{"include_secrets": "true"}`, true},
		{`{"include_secrets": "false"}`, true},
		{`{"include_secrets": 1}`, true},
		{`{"include_secrets": null}`, true},
		{`{"include\u005fsecrets": true}`, true},
		{`{"include_secrets": false, "include_secrets": true}`, true},
		{`{"include_secrets": true, "include_secrets": false}`, true},
		{`{"INCLUDE_SECRETS": true}`, false},
		{`{"include_secrets": false, "INCLUDE_SECRETS": true}`, false},
		{`{"include_secrets": false} x`, true},
		{`{"include_secrets": false}{}`, true},
		{`[{"include_secrets": false}]`, true},
		{`{"include_secrets": false`, true},
		{`{"include_secrets": NaN}`, true},
		{"\xef\xbb\xbf{}", true},
		{`"include_secrets"`, true},
	}
	for _, tc := range tests {
		if got := bodySecretsRequested(&RequestFacts{Body: []byte(tc.body)}); got != tc.want {
			t.Errorf("bodySecretsRequested(%q) = %v, want %v", tc.body, got, tc.want)
		}
	}
}

func TestUIHeaderSet(t *testing.T) {
	tests := []struct {
		values []string
		want   bool
	}{
		{nil, false},
		{[]string{"true"}, true},
		{[]string{"True"}, true},
		{[]string{"1"}, true},
		{[]string{"false"}, false},
		{[]string{""}, false},
		{[]string{"true", "true"}, true},
		{[]string{"true", "false"}, false},
		{[]string{"false", "true"}, false},
		{[]string{"true, true"}, false},
		{[]string{"yes please"}, false},
	}
	for _, tc := range tests {
		header := http.Header{}
		for _, value := range tc.values {
			header.Add("X-PREFECT-UI", value)
		}
		if got := uiHeaderSet(&RequestFacts{Header: header}); got != tc.want {
			t.Errorf("uiHeaderSet(%q) = %v, want %v", tc.values, got, tc.want)
		}
	}

	if uiHeaderSet(&RequestFacts{}) {
		t.Error("uiHeaderSet with a nil header = true")
	}
}

func TestBodySetsOnly(t *testing.T) {
	tests := []struct {
		body string
		want bool
	}{
		{`{"paused": true}`, true},
		{`{"paused": false}`, true},
		{` { "paused" : true } `, true},
		{`{}`, true},
		{`{"pa\u0075sed": true}`, true},
		{`{"paused": true, "paused": false}`, true},
		{`{"paused": "true"}`, false},
		{`{"paused": 1}`, false},
		{`{"paused": null}`, false},
		{`{"paused": true, "description": "x"}`, false},
		{`{"paused": true, "Paused": true}`, false},
		{`{"PAUSED": true}`, false},
		{`{"paused": {"x": 1}}`, false},
		{`{"paused": true} {"schedules": []}`, false},
		{`{"paused": true`, false},
		{`[]`, false},
		{``, false},
		{`null`, false},
	}
	for _, tc := range tests {
		if got := bodySetsOnly([]byte(tc.body), "paused"); got != tc.want {
			t.Errorf("bodySetsOnly(%q, paused) = %v, want %v", tc.body, got, tc.want)
		}
	}
}
