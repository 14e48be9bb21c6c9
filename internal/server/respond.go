package server

import (
	"encoding/json"
	"net/http"

	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/authz"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/authz/graphql"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/config"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/logging"
)

func writeJSON(w http.ResponseWriter, status int, body any) {
	encoded, _ := json.Marshal(body)
	writeRaw(w, status, encoded)
}

func writeRaw(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Del("Content-Length")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// denialStatus returns the HTTP status of a GraphQL response whose every
// element is denied. The Prefect 1 CLI prints a clean message only for
// HTTP 200, so 200 is the default; GRAPHQL_DENIAL_STATUS=http gives 401 and
// 403. A store outage is 503 either way: it is not a denial of the key, and
// the client's retry is what the operator wants.
func (s *Server) denialStatus(decision authz.Decision) int {
	code := graphql.ErrorCode(decision.Reason)
	if code == graphql.CodeInternal {
		return http.StatusServiceUnavailable
	}
	if s.cfg.GraphQLDenialStatus != config.DenialStatusHTTP {
		return http.StatusOK
	}
	if code == graphql.CodeUnauthenticated {
		return http.StatusUnauthorized
	}
	return http.StatusForbidden
}

// statusClientClosed is the status the proxy engine reports when the
// client cancelled its request, as nginx's 499.
const statusClientClosed = 499

// upstreamError responds to a request whose upstream could not be reached or
// timed out, with a GraphQL error body so that clients show a message.
func (s *Server) upstreamError(w http.ResponseWriter, r *http.Request, status int, err error) {
	info := infoFrom(r.Context())
	if status == statusClientClosed {
		// The client went away before the upstream responded, so no response
		// can be delivered, and nothing failed on the proxy's side.
		s.logger.Debug("client closed the request", logging.KeyRequestID, info.ID, logging.KeyError, err)
		return
	}
	s.logger.Error("upstream request failed", logging.KeyRequestID, info.ID,
		logging.KeyUpstream, s.cfg.APIServiceURL.Redacted(), logging.KeyStatus, status, logging.KeyError, err)
	if status >= 500 {
		s.metrics.ObserveUpstreamError(status)
	}

	message := "the Prefect API behind the proxy is unreachable"
	code := "BAD_GATEWAY"
	if status == http.StatusGatewayTimeout {
		message = "the Prefect API behind the proxy did not respond in time"
		code = "GATEWAY_TIMEOUT"
	}
	writeJSON(w, status, graphqlError(message, code))
}

// graphqlError is a GraphQL result carrying one error with a code.
func graphqlError(message, code string) map[string]any {
	return map[string]any{
		"data": nil,
		"errors": []map[string]any{{
			"message":    message,
			"extensions": map[string]string{"code": code},
		}},
	}
}
