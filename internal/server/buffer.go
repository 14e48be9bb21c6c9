package server

import (
	"bytes"
	"errors"
	"net/http"
)

// bufferWriter is a ResponseWriter that keeps the response in memory, up to a
// limit, so that a partly forwarded batch can be merged.
type bufferWriter struct {
	header   http.Header
	status   int
	body     bytes.Buffer
	limit    int
	overflow bool
}

func newBufferWriter(limit int) *bufferWriter {
	return &bufferWriter{header: http.Header{}, limit: limit}
}

func (b *bufferWriter) Header() http.Header {
	return b.header
}

func (b *bufferWriter) WriteHeader(status int) {
	if b.status == 0 {
		b.status = status
	}
}

func (b *bufferWriter) Write(data []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	if b.body.Len()+len(data) > b.limit {
		b.overflow = true
		return 0, errBufferFull
	}
	return b.body.Write(data)
}

// copyTo passes the buffered response on unchanged, or a 502 when it did not
// fit the limit.
func (b *bufferWriter) copyTo(w http.ResponseWriter) {
	if b.overflow {
		writeJSON(w, http.StatusBadGateway, graphqlError("the Prefect API's response to the batch is too large to merge", "BAD_GATEWAY"))
		return
	}
	copyHeaders(w.Header(), b.header)
	w.WriteHeader(b.status)
	_, _ = w.Write(b.body.Bytes())
}

// copyHeaders adds upstream headers to the proxy's own, except the ones that
// describe a body the proxy rewrites. Adding keeps the proxy's Vary: Origin.
func copyHeaders(dst, src http.Header) {
	for name, values := range src {
		if name == "Content-Length" || name == "Content-Encoding" {
			continue
		}
		for _, value := range values {
			dst.Add(name, value)
		}
	}
}

var errBufferFull = errors.New("buffered response exceeds its limit")
