package graphql

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/authz"
)

// Error codes in the extensions of a GraphQL error, as Apollo Server uses
// them. The Prefect 1 Python client turns any error whose text contains
// UNAUTHENTICATED into an AuthorizationError.
const (
	CodeUnauthenticated = "UNAUTHENTICATED"
	CodeForbidden       = "FORBIDDEN"
	CodeBadRequest      = "BAD_REQUEST"
	CodeInternal        = "INTERNAL_SERVER_ERROR"
)

// ErrUpstreamResponse is returned by MergeResponse when the upstream response
// to a forwarded batch is not a JSON array with one result per forwarded
// element. The server should respond with 502 Bad Gateway.
var ErrUpstreamResponse = errors.New("upstream batch response does not match the forwarded batch")

// ErrorCode returns the GraphQL error code for a denial reason.
func ErrorCode(reason authz.Reason) string {
	switch reason {
	case authz.ReasonKeyMissing, authz.ReasonKeyUnknown, authz.ReasonKeyExpired,
		authz.ReasonKeyNotYetValid, authz.ReasonKeyUserMismatch:
		return CodeUnauthenticated
	case authz.ReasonScopeMissing, authz.ReasonSecretsRefused:
		return CodeForbidden
	case authz.ReasonKeyStoreUnavailable, authz.ReasonTenantUnknown:
		return CodeInternal
	}
	return CodeBadRequest
}

type errorResult struct {
	Data   *struct{}      `json:"data"` // always null
	Errors []errorMessage `json:"errors"`
}

type errorMessage struct {
	Message    string          `json:"message"`
	Extensions errorExtensions `json:"extensions"`
}

type errorExtensions struct {
	Code   string       `json:"code"`
	Reason authz.Reason `json:"reason"`
	Scope  string       `json:"scope,omitempty"`
}

// ErrorResult returns a GraphQL result object for a denial:
//
//	{"data":null,"errors":[{"message":"...","extensions":{"code":"FORBIDDEN","reason":"scope-missing","scope":"mutation/create_flow_run"}}]}
//
// The message is the decision's Message, or the reason code when the
// message is empty. The scope member is left out when the decision has no
// scope.
func ErrorResult(decision authz.Decision) []byte {
	message := decision.Message
	if message == "" {
		message = string(decision.Reason)
	}

	result := errorResult{Errors: []errorMessage{{
		Message: message,
		Extensions: errorExtensions{
			Code:   ErrorCode(decision.Reason),
			Reason: decision.Reason,
			Scope:  decision.Scope,
		},
	}}}

	// json.Marshal fails only on unsupported types and values, and
	// errorResult contains only strings and a nil pointer.
	body, _ := json.Marshal(result)
	return body
}

// ForwardBody returns the body to forward for a batch of which only some
// elements go upstream: a JSON array of the original bytes of the elements
// that ForwardCount counts, in request order. When every element goes
// upstream, forward the original body instead. It fails for a request that
// is not a JSON batch or that has no element to forward.
func ForwardBody(req *Request) ([]byte, error) {
	if !req.Batch {
		return nil, errors.New("build forwarded batch: request is not a batch")
	}

	var body bytes.Buffer
	body.WriteByte('[')
	count := 0
	for i := range req.Elements {
		element := &req.Elements[i]
		if !element.forwarded() {
			continue
		}
		if count > 0 {
			body.WriteByte(',')
		}
		body.Write(element.Raw)
		count++
	}
	body.WriteByte(']')

	if count == 0 {
		return nil, errors.New("build forwarded batch: no element is to be forwarded")
	}
	return body.Bytes(), nil
}

// MergeResponse builds the response to a request from the upstream response
// to its forwarded elements.
//
// For a batch, upstream must be the JSON array that the upstream server
// returned for the body from ForwardBody (or the original body), with one
// result per forwarded element in order. The merged response is an array
// of the request's length and order: the upstream results at the forwarded
// positions, Local at the allowed positions that have it, and an
// ErrorResult at each denied one. When no element is forwarded, upstream
// is ignored and may be nil. An upstream response of another shape or
// length fails with an error that wraps ErrUpstreamResponse.
//
// For a single request, the response is the element's ErrorResult when it
// is denied, Local when it has one, and upstream unchanged otherwise.
func MergeResponse(req *Request, upstream []byte) ([]byte, error) {
	if !req.Batch {
		return resultAt(&req.Elements[0], upstream), nil
	}

	results, err := upstreamResults(upstream, req.ForwardCount())
	if err != nil {
		return nil, err
	}

	var body bytes.Buffer
	body.Grow(len(upstream) + 2)
	body.WriteByte('[')
	next := 0
	for i := range req.Elements {
		if i > 0 {
			body.WriteByte(',')
		}

		element := &req.Elements[i]
		if element.forwarded() {
			body.Write(results[next])
			next++
			continue
		}
		body.Write(resultAt(element, nil))
	}
	body.WriteByte(']')

	return body.Bytes(), nil
}

// resultAt returns the result of one element, given the upstream result
// for a forwarded element.
func resultAt(element *Element, upstream []byte) []byte {
	switch {
	case !element.Decision.Allow:
		return ErrorResult(element.Decision)
	case element.Local != nil:
		return element.Local
	}
	return upstream
}

// upstreamResults splits the upstream response into want results.
func upstreamResults(upstream []byte, want int) ([]json.RawMessage, error) {
	if want == 0 {
		return nil, nil
	}

	trimmed := trimSpace(upstream)
	if !json.Valid(trimmed) {
		return nil, fmt.Errorf("merge batch response: %w: body is not valid JSON", ErrUpstreamResponse)
	}
	if trimmed[0] != '[' {
		return nil, fmt.Errorf("merge batch response: %w: body is not a JSON array", ErrUpstreamResponse)
	}

	results := splitArray(trimmed)
	if len(results) != want {
		return nil, fmt.Errorf("merge batch response: %w: got %d results for %d forwarded elements",
			ErrUpstreamResponse, len(results), want)
	}
	return results, nil
}
