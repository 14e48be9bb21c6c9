package prefect

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// maxUISettingsBytes bounds the decompressed /ui-settings response. Prefect
// 3.8's response is well under 1 KiB; 1 MiB leaves room for future fields.
const maxUISettingsBytes = 1 << 20

// RewriteUISettings rewrites the Prefect 2/3 server's GET /ui-settings
// response so that the UI shows its login form and talks to the proxy: auth
// becomes "BASIC" and api_url the proxy's API URL. Both Prefect UIs then
// send "Authorization: Basic base64(<typed text>)" on every API call.
//
// contentEncoding is the response's Content-Encoding. gzip and deflate bodies
// are decompressed; the result is always uncompressed JSON. Every other
// field of the response is kept.
func RewriteUISettings(body []byte, contentEncoding, apiURL string) ([]byte, error) {
	plain, err := decompress(body, contentEncoding)
	if err != nil {
		return nil, fmt.Errorf("rewrite ui-settings: %w", err)
	}

	var settings map[string]json.RawMessage
	if err := json.Unmarshal(plain, &settings); err != nil {
		return nil, fmt.Errorf("rewrite ui-settings: decode upstream response: %w", err)
	}
	if settings == nil {
		return nil, fmt.Errorf("rewrite ui-settings: upstream response is not a JSON object")
	}

	settings["auth"] = json.RawMessage(`"BASIC"`)
	encodedURL, _ := json.Marshal(apiURL)
	settings["api_url"] = encodedURL

	rewritten, err := json.Marshal(settings)
	if err != nil {
		return nil, fmt.Errorf("rewrite ui-settings: encode response: %w", err)
	}
	return rewritten, nil
}

func decompress(body []byte, contentEncoding string) ([]byte, error) {
	var reader io.Reader
	switch encoding := strings.ToLower(strings.TrimSpace(contentEncoding)); encoding {
	case "", "identity":
		return body, nil
	case "gzip", "x-gzip":
		gz, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("decompress gzip response: %w", err)
		}
		defer gz.Close()
		reader = gz
	case "deflate":
		reader = flate.NewReader(bytes.NewReader(body))
	default:
		return nil, fmt.Errorf("response has unsupported Content-Encoding %q", encoding)
	}

	plain, err := io.ReadAll(io.LimitReader(reader, maxUISettingsBytes+1))
	if err != nil {
		return nil, fmt.Errorf("decompress response: %w", err)
	}
	if len(plain) > maxUISettingsBytes {
		return nil, fmt.Errorf("decompressed response is larger than %d bytes", maxUISettingsBytes)
	}
	return plain, nil
}
