package rest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"

	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/authz"
)

// Rule changes a route's class from the request. When the condition holds,
// the request's class is Rule.Class instead of Route.Class. Each rule reads
// the request the way Prefect's server reads it (FastAPI and pydantic),
// and where the two could disagree it errs toward the stricter class.
type Rule struct {
	// Condition describes when the rule applies, for messages and the
	// roles listing. It reads after "with", e.g. "include_secrets=true".
	Condition string
	// Class is the request's class when the condition holds.
	Class Class
	// Reason is the denial reason when the condition holds and the key's
	// roles allow the route but not Class. Empty means scope-missing.
	Reason authz.Reason
	// NeedsBody is set when the condition reads the request body.
	NeedsBody bool

	condition condition
}

// condition is the check of a Rule. It is a kind and not a func value, so
// that the calls are static and RequestFacts does not escape to the heap.
type condition uint8

const (
	conditionSecretsInQuery condition = iota + 1
	conditionSecretsInBody
	conditionUIHeader
	conditionPausedOnly
	conditionActiveOnly
)

// holds reports whether the rule's condition holds for the request.
func (r *Rule) holds(req *RequestFacts) bool {
	switch r.condition {
	case conditionSecretsInQuery:
		return querySecretsRequested(req)
	case conditionSecretsInBody:
		return bodySecretsRequested(req)
	case conditionUIHeader:
		return uiHeaderSet(req)
	case conditionPausedOnly:
		return bodySetsOnly(req.Body, "paused")
	case conditionActiveOnly:
		return bodySetsOnly(req.Body, "active")
	}
	return false
}

// The rules of the route table.
var (
	// secretsInQuery: GET block document routes return secret values when
	// the query has include_secrets=true. The Python client asks for
	// them by default.
	secretsInQuery = Rule{
		Condition: "include_secrets=true",
		Class:     ClassSecret,
		Reason:    authz.ReasonSecretsRefused,
		condition: conditionSecretsInQuery,
	}
	// secretsInBody: POST /block_documents/filter reads include_secrets
	// from its JSON body.
	secretsInBody = Rule{
		Condition: `"include_secrets": true in the body`,
		Class:     ClassSecret,
		Reason:    authz.ReasonSecretsRefused,
		NeedsBody: true,
		condition: conditionSecretsInBody,
	}
	// uiHeader: POST /work_queues/{id}/get_runs only reads when the UI
	// header is set; without it, it marks the queue as polled.
	uiHeader = Rule{
		Condition: "X-Prefect-Ui: true",
		Class:     ClassRead | ClassRuntime,
		condition: conditionUIHeader,
	}
	// pausedOnly: the UI's pause switch is a PATCH of the deployment whose
	// body sets only paused.
	pausedOnly = Rule{
		Condition: `the body {"paused": true|false}`,
		Class:     ClassRun | ClassDeploy,
		NeedsBody: true,
		condition: conditionPausedOnly,
	}
	// activeOnly: the UI's schedule switch is a PATCH of the schedule
	// whose body sets only active.
	activeOnly = Rule{
		Condition: `the body {"active": true|false}`,
		Class:     ClassRun | ClassDeploy,
		NeedsBody: true,
		condition: conditionActiveOnly,
	}
)

// classFor returns the route's class for this request and whether a rule
// changed it.
func (r *Route) classFor(req *RequestFacts) (Class, bool) {
	if r.Rule != nil && r.Rule.holds(req) {
		return r.Rule.Class, true
	}
	return r.Class, false
}

// Words that pydantic 2 accepts for a bool field, compared
// case-insensitively (pydantic documentation, "Booleans").
var (
	trueWords  = []string{"true", "1", "yes", "on", "t", "y"}
	falseWords = []string{"false", "0", "no", "off", "f", "n"}
)

func isWord(value string, words []string) bool {
	for _, word := range words {
		if strings.EqualFold(value, word) {
			return true
		}
	}
	return false
}

// querySecretsRequested reports whether any include_secrets value is not a
// false word. Prefect reads only one of the values, so the proxy counts
// every value that could request secrets. A value that pydantic rejects
// gets a 422 from the upstream anyway.
func querySecretsRequested(req *RequestFacts) bool {
	for _, value := range req.Query["include_secrets"] {
		if !isWord(value, falseWords) {
			return true
		}
	}
	return false
}

// bodySecretsRequested reports whether the JSON body may request secrets:
// a top-level include_secrets whose value is not false, in any of its
// occurrences (Python keeps the last duplicate key). A body that is not a
// JSON object counts as a request, because the proxy cannot read it. An
// empty body does not, because Prefect's default is false.
func bodySecretsRequested(req *RequestFacts) bool {
	if len(bytes.TrimLeft(req.Body, " \t\r\n")) == 0 {
		return false
	}

	requested := false
	err := eachField(req.Body, func(key string, value json.RawMessage) {
		if key == "include_secrets" && string(value) != "false" {
			requested = true
		}
	})
	return requested || err != nil
}

// uiHeaderSet reports whether X-Prefect-Ui is present and every value of
// it is a true word, so that the upstream reads true whichever value it
// picks.
func uiHeaderSet(req *RequestFacts) bool {
	values := req.Header.Values("X-Prefect-Ui")
	for _, value := range values {
		if !isWord(value, trueWords) {
			return false
		}
	}
	return len(values) > 0
}

// bodySetsOnly reports whether the body is a JSON object whose top-level
// keys are all key, each with a JSON boolean. Keys are compared exactly,
// after JSON unescaping, as pydantic compares them. An empty object sets
// nothing and counts too.
func bodySetsOnly(body []byte, key string) bool {
	only := true
	err := eachField(body, func(name string, value json.RawMessage) {
		if name != key || string(value) != "true" && string(value) != "false" {
			only = false
		}
	})
	return err == nil && only
}

// eachField calls fn with every top-level key of a JSON object, in order
// and duplicates included, and with the raw value. It fails when the body
// is not exactly one JSON object.
func eachField(body []byte, fn func(key string, value json.RawMessage)) error {
	decoder := json.NewDecoder(bytes.NewReader(body))
	if open, err := decoder.Token(); err != nil || open != json.Delim('{') {
		return errors.New("not a JSON object")
	}

	for decoder.More() {
		token, err := decoder.Token()
		if err != nil {
			return err
		}
		key, _ := token.(string)

		var value json.RawMessage
		if err := decoder.Decode(&value); err != nil {
			return err
		}
		fn(key, value)
	}

	if _, err := decoder.Token(); err != nil {
		return err
	}
	if _, err := decoder.Token(); err != io.EOF {
		return errors.New("data after the JSON object")
	}
	return nil
}
