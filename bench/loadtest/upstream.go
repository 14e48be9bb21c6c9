package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
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

// upstreamResponse returns the fake upstream's fixed response body to a
// request body: batchResponse when the request is a JSON array,
// singleResponse otherwise. The returned slice is shared and must not be
// modified.
func upstreamResponse(body []byte) []byte {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '[' {
		return batchResponse
	}
	return singleResponse
}

// newUpstreamHandler returns the fake Prefect 1 GraphQL upstream. It reads
// the whole request body, as Apollo does, and responds to every method and
// path with 200 and the fixed body of upstreamResponse.
func newUpstreamHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxUpstreamBody))
		if err != nil {
			http.Error(w, fmt.Sprintf("read request body: %v", err), http.StatusBadRequest)
			return
		}
		response := upstreamResponse(body)

		// An explicit Content-Length keeps the batch response, which is
		// larger than net/http's 4 KiB response buffer, from being sent
		// chunked.
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(response)))
		_, _ = w.Write(response)
	})
}
