package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// maxUpstreamBody bounds the request bodies the fake upstream reads, in
// bytes. The load test sends a few kilobytes at most.
const maxUpstreamBody = 1 << 20

// uiBatchSize is the number of operations in a Prefect 1 UI batch, the
// batchMax of the UI's Apollo batch link.
const uiBatchSize = 25

// flowResult is the GraphQL result of the fake upstream's response to a
// single request: a small query result in the shape Prefect 1's Apollo
// server returns.
const flowResult = `{"data":{"flow":[` +
	`{"id":"0b8f4c5e-2d1a-4f7b-9a63-5c2e8d1f3a70","name":"etl-daily"},` +
	`{"id":"5a1c9e27-7b3d-4c8e-8f12-6d4b0a9e2c51","name":"report-weekly"},` +
	`{"id":"c3e7a2b9-1f5d-4e6a-b8c4-9d0e7f3a1b62","name":"cleanup"}]}}`

// singleResponse is the fake upstream's response body to a single request.
var singleResponse = []byte(flowResult)

// batchResponse is the fake upstream's response body to a batch: a JSON
// array of uiBatchSize flowResult copies. The upstream does not count the
// members of a batch, so every batch gets uiBatchSize results.
var batchResponse = func() []byte {
	var results bytes.Buffer
	results.WriteByte('[')
	for i := range uiBatchSize {
		if i > 0 {
			results.WriteByte(',')
		}
		results.WriteString(flowResult)
	}
	results.WriteByte(']')
	return results.Bytes()
}()

// restResponse is the fake upstream's response body to every request under
// /api/: a flow in the shape Prefect 3 returns from GET /api/flows/{id}.
// POST /api/flow_runs/filter gets it too, although Prefect returns an array
// there, because the proxy does not read REST responses.
var restResponse = []byte(`{"id":"` + flowID + `","created":"2026-01-05T10:00:00.000000Z",` +
	`"updated":"2026-01-05T10:00:00.000000Z","name":"etl-daily","tags":["nightly"],"labels":{}}`)

// upstreamResponse returns the fake upstream's fixed response body to a
// request: restResponse for a path under /api/ (Prefect 2 and 3), and for
// other paths batchResponse when the body is a JSON array and
// singleResponse otherwise (Prefect 1). The returned slice is shared and
// must not be modified.
func upstreamResponse(path string, body []byte) []byte {
	if strings.HasPrefix(path, "/api/") {
		return restResponse
	}

	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '[' {
		return batchResponse
	}
	return singleResponse
}

// newUpstreamHandler returns the fake Prefect upstream: Prefect 1's GraphQL
// endpoint and Prefect 2/3's REST API in one. It reads the whole request
// body, as Apollo and Prefect's server do, and responds to every method and
// path with 200 and the fixed body of upstreamResponse.
func newUpstreamHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxUpstreamBody))
		if err != nil {
			http.Error(w, fmt.Sprintf("read request body: %v", err), http.StatusBadRequest)
			return
		}
		response := upstreamResponse(r.URL.Path, body)

		// An explicit Content-Length keeps the batch response, which is
		// larger than net/http's 4 KiB response buffer, from being sent
		// chunked.
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(response)))
		_, _ = w.Write(response)
	})
}
