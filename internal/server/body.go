package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/authz"
)

// readLimited reads the whole request body, failing with an
// *http.MaxBytesError when it is larger than limit bytes.
func readLimited(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, &http.MaxBytesError{Limit: limit}
	}
	return io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
}

// bodyDecision maps a failed body read to its status and denial.
func bodyDecision(err error, limit int64) (int, authz.Decision) {
	var limitErr *http.MaxBytesError
	if errors.As(err, &limitErr) {
		return http.StatusRequestEntityTooLarge, authz.Denied(authz.ReasonBodyTooLarge, "",
			fmt.Sprintf("request body is larger than %d bytes (MAX_BODY_BYTES)", limit))
	}
	return http.StatusBadRequest, authz.Denied(authz.ReasonRequestInvalid, "", "reading the request body failed: "+err.Error())
}

// setBody replaces a request's body by bytes already read, for forwarding.
func setBody(r *http.Request, body []byte) {
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	r.Header.Set("Content-Length", strconv.Itoa(len(body)))
}
