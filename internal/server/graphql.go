package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/audit"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/authn"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/authz"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/authz/graphql"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/logging"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/prefect"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/scope"
)

// maxMergedAnswerBytes bounds the upstream response to a partly forwarded
// batch, which must be held in memory to put results back in their
// positions. 64 MiB is far above what a Prefect 1 UI batch returns.
const maxMergedAnswerBytes = 64 << 20

// serveGraphQL authorizes a Prefect 1 GraphQL request and forwards what
// its key allows.
func (s *Server) serveGraphQL(w http.ResponseWriter, r *http.Request) {
	body, ok := s.readBody(w, r)
	if !ok {
		return
	}

	parsed, err := graphql.ParseRequest(r.Method, r.Header.Get("Content-Type"), r.URL.Query(), body)
	if err != nil {
		s.rejectRequest(w, r, err)
		return
	}

	if s.cfg.AllowPublicAccess {
		s.forwardPublic(w, r, parsed, body)
		return
	}

	credential := authn.FromRequest(r)
	identity, err := s.authn.Authenticate(r.Context(), credential)
	if err != nil {
		// An expired or otherwise rejected key that was found still
		// carries its row, so the audit trail names its user.
		graphql.DenyAll(parsed, denialOf(err))
		s.recordElements(r, parsed, credential, identity.Key.UserID)
		s.respondLocally(w, r, parsed)
		return
	}
	infoFrom(r.Context()).UserID = identity.Key.UserID

	grant, _ := identity.Grant.(*scope.Grant)
	graphql.Authorize(parsed, grant)
	s.prepareLogins(r, parsed, identity.Key.UserID)
	s.recordElements(r, parsed, credential, identity.Key.UserID)

	switch forwarded := parsed.ForwardCount(); {
	case forwarded == len(parsed.Elements):
		s.forward(w, r, body)
	case forwarded == 0:
		s.respondLocally(w, r, parsed)
	default:
		s.forwardPartialBatch(w, r, parsed)
	}
}

// readBody reads the whole request body up to MAX_BODY_BYTES. GraphQL
// authorization needs the complete document before any byte goes upstream.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := readLimited(w, r, s.cfg.MaxBodyBytes)
	if err == nil {
		return body, true
	}

	status, decision := bodyDecision(err, s.cfg.MaxBodyBytes)
	s.rejectRequest(w, r, &graphql.RequestError{Status: status, Reason: decision.Reason, Message: decision.Message})
	return nil, false
}

// rejectRequest responds to a request that cannot be authorized at all, with
// its status and a GraphQL error body, and audits it.
func (s *Server) rejectRequest(w http.ResponseWriter, r *http.Request, err error) {
	var requestErr *graphql.RequestError
	if !errors.As(err, &requestErr) {
		requestErr = &graphql.RequestError{Status: http.StatusBadRequest, Reason: authz.ReasonRequestInvalid, Message: err.Error()}
	}
	decision := requestErr.Decision()

	info := infoFrom(r.Context())
	info.Reason = string(decision.Reason)
	s.logger.Info("request rejected", logging.KeyRequestID, info.ID, logging.KeyClient, info.Client,
		logging.KeyReason, decision.Reason, logging.KeyError, decision.Message)
	s.recordRequestDenial(r, decision, authn.FromRequest(r), "")
	s.metrics.ObserveRequest(decision, time.Since(info.Start))

	status := requestErr.Status
	if status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", "GET, POST")
	}
	writeRaw(w, status, graphql.ErrorResult(decision))
}

// recordRequestDenial audits a request that was denied as a whole.
func (s *Server) recordRequestDenial(r *http.Request, decision authz.Decision, credential authn.Credential, userID string) {
	info := infoFrom(r.Context())
	event := audit.Event{
		Reason: decision.Reason, Scope: decision.Scope, Message: decision.Message, UserID: userID,
		RequestID: info.ID, Client: info.Client, Method: r.Method, Path: adminPath(r), Index: -1,
	}
	if userID == "" && credential.Present() {
		event.KeyPrefix = credential.KeyPrefix()
	}
	s.audit.Record(r.Context(), event)
}

// prepareLogins prepares the local responses to the Prefect 1 CLI's Cloud
// login operations. Any valid key may log in, whatever its scopes.
func (s *Server) prepareLogins(r *http.Request, parsed *graphql.Request, userID string) {
	for i := range parsed.Elements {
		element := &parsed.Elements[i]
		operation := element.Operation()
		if element.Err != nil || operation == nil {
			continue
		}
		login, ok := prefect.ParseLogin(operation.Definition, operation.RootFields, element.Variables)
		if !ok {
			continue
		}

		tenant, err := s.tenants.Tenant(r.Context())
		if err != nil {
			element.Decision = authz.Denied(authz.ReasonTenantUnknown, "", tenantMessage(err))
			continue
		}
		element.Local = login.Answer(tenant, userID)
		element.Decision = authz.Allowed(authz.ReasonCloudLogin, "")
	}
}

// tenantMessage explains a failed tenant lookup to the client without the
// upstream's address, which the proxy's log has.
func tenantMessage(err error) string {
	if errors.Is(err, prefect.ErrTenantAmbiguous) {
		return "the proxy cannot choose the Prefect tenant: " + err.Error()
	}
	return "the proxy could not read the Prefect tenant from the upstream: set TENANT_ID on the proxy, or check that the upstream is reachable"
}

// recordElements audits every denied element and every mutation, and
// counts each element in the metrics.
func (s *Server) recordElements(r *http.Request, parsed *graphql.Request, credential authn.Credential, userID string) {
	info := infoFrom(r.Context())
	for i := range parsed.Elements {
		element := &parsed.Elements[i]
		operationType := operationTypeOf(element)
		s.metrics.ObserveOperation(operationType, element.Decision)

		if element.Decision.Allow && operationType != string(scope.Mutation) {
			continue
		}
		operationName, fields := describe(element)
		event := audit.Event{
			Allow: element.Decision.Allow, Reason: element.Decision.Reason, Scope: element.Decision.Scope,
			Message: element.Decision.Message, UserID: userID, RequestID: info.ID, Client: info.Client,
			Method: r.Method, Path: r.URL.Path, OperationType: operationType, OperationName: operationName,
			RootFields: fields, Variables: variablesText(element, credential.Secret()), Index: -1,
		}
		if parsed.Batch {
			event.Index = i
		}
		if userID == "" && credential.Present() {
			event.KeyPrefix = credential.KeyPrefix()
		}
		s.audit.Record(r.Context(), event)
	}

	decision := requestDecision(parsed)
	info.Reason = string(decision.Reason)
	s.metrics.ObserveRequest(decision, time.Since(info.Start))
}

// operationTypeOf returns the operation type of an element for metrics
// and the audit trail: "mutation" when any operation of the document is a
// mutation, otherwise its distinct types joined with commas. The common
// single-operation document needs no allocation.
func operationTypeOf(element *graphql.Element) string {
	if len(element.Operations) == 1 {
		return string(element.Operations[0].Type)
	}

	var types []string
	for i := range element.Operations {
		kind := string(element.Operations[i].Type)
		if kind == string(scope.Mutation) {
			return kind
		}
		types = appendUnique(types, kind)
	}
	return strings.Join(types, ",")
}

// describe returns the operation names, joined with commas, and the
// distinct root field names of an element for the audit trail.
func describe(element *graphql.Element) (operationName string, fields []string) {
	var names []string
	for i := range element.Operations {
		operation := &element.Operations[i]
		if operation.Name != "" {
			names = append(names, operation.Name)
		}
		for _, name := range operation.FieldNames() {
			fields = appendUnique(fields, name)
		}
	}
	return strings.Join(names, ","), fields
}

func appendUnique(list []string, value string) []string {
	for _, existing := range list {
		if existing == value {
			return list
		}
	}
	return append(list, value)
}

// variablesText returns an element's variables for the audit trail, with
// credentials and the request's own key masked.
func variablesText(element *graphql.Element, secret string) string {
	if element.Variables == nil {
		return ""
	}
	encoded, err := json.Marshal(audit.RedactVariables(element.Variables, secret))
	if err != nil {
		return ""
	}
	return string(encoded)
}

// requestDecision is the decision of a whole request for the metrics: the
// first denial, or the first element's decision when all are allowed.
func requestDecision(parsed *graphql.Request) authz.Decision {
	for i := range parsed.Elements {
		if !parsed.Elements[i].Decision.Allow {
			return parsed.Elements[i].Decision
		}
	}
	return parsed.Elements[0].Decision
}

// respondLocally responds to a request of which no element goes upstream.
func (s *Server) respondLocally(w http.ResponseWriter, r *http.Request, parsed *graphql.Request) {
	response, err := graphql.MergeResponse(parsed, nil)
	if err != nil {
		s.logger.Error("build local response failed", logging.KeyRequestID, infoFrom(r.Context()).ID, logging.KeyError, err)
		writeJSON(w, http.StatusInternalServerError, graphqlError("the proxy failed to build its response", "INTERNAL_SERVER_ERROR"))
		return
	}

	status := http.StatusOK
	first := parsed.Elements[0].Decision
	if !first.Allow && (!parsed.Batch || allSame(parsed)) {
		status = s.denialStatus(first)
	}
	writeRaw(w, status, response)
}

// allSame reports whether every element has the same reason, as when a
// whole batch is denied for its key.
func allSame(parsed *graphql.Request) bool {
	for i := range parsed.Elements {
		if parsed.Elements[i].Decision.Reason != parsed.Elements[0].Decision.Reason {
			return false
		}
	}
	return true
}

// forward sends the request upstream with body as it was received.
func (s *Server) forward(w http.ResponseWriter, r *http.Request, body []byte) {
	setBody(r, body)
	s.engine.ServeHTTP(w, r)
}

// forwardPublic forwards every request unchanged when ALLOW_PUBLIC_ACCESS
// is on, auditing mutations as the Node.js proxy did.
func (s *Server) forwardPublic(w http.ResponseWriter, r *http.Request, parsed *graphql.Request, body []byte) {
	for i := range parsed.Elements {
		parsed.Elements[i].Decision = authz.Allowed(authz.ReasonPublicAccess, "")
	}
	s.recordElements(r, parsed, authn.Credential{}, "")
	s.forward(w, r, body)
}

// forwardPartialBatch forwards the allowed elements of a batch, waits for
// the upstream's array and responds with an array in the request's order, with
// an error at each denied position.
func (s *Server) forwardPartialBatch(w http.ResponseWriter, r *http.Request, parsed *graphql.Request) {
	body, err := graphql.ForwardBody(parsed)
	if err != nil {
		s.logger.Error("build forwarded batch failed", logging.KeyRequestID, infoFrom(r.Context()).ID, logging.KeyError, err)
		writeJSON(w, http.StatusInternalServerError, graphqlError("the proxy failed to build the forwarded batch", "INTERNAL_SERVER_ERROR"))
		return
	}

	// The response is merged as JSON, so it must arrive uncompressed.
	r.Header.Del("Accept-Encoding")
	buffer := newBufferWriter(maxMergedAnswerBytes)
	s.forward(buffer, r, body)

	if buffer.status != http.StatusOK || buffer.overflow {
		buffer.copyTo(w)
		return
	}

	merged, err := graphql.MergeResponse(parsed, buffer.body.Bytes())
	if err != nil {
		s.logger.Error("merge batch response failed", logging.KeyRequestID, infoFrom(r.Context()).ID, logging.KeyError, err)
		writeJSON(w, http.StatusBadGateway, graphqlError("the Prefect API returned a batch response of an unexpected shape", "BAD_GATEWAY"))
		return
	}

	copyHeaders(w.Header(), buffer.header)
	writeRaw(w, http.StatusOK, merged)
}
