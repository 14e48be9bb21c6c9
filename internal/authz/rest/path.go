package rest

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/authz"
)

// PathError is a request path that CleanPath rejects. The server responds
// with 400 and the reason code path-invalid.
type PathError struct {
	// Path is the escaped path as received.
	Path string
	// Problem describes what is wrong, e.g. "contains an encoded slash (%2F)".
	Problem string
}

// maxQuotedPath is the length in bytes after which PathError shortens the
// path, so that a long request line cannot flood a log line.
const maxQuotedPath = 120

// Error quotes the path with Go escapes, so that control characters cannot
// forge log lines.
func (e *PathError) Error() string {
	quoted := e.Path
	suffix := ""
	if len(quoted) > maxQuotedPath {
		quoted, suffix = quoted[:maxQuotedPath], "..."
	}
	return "invalid request path " + strconv.Quote(quoted) + suffix + ": " + e.Problem
}

// Decision returns the denial that the error stands for.
func (e *PathError) Decision() authz.Decision {
	return authz.Denied(authz.ReasonPathInvalid, "", e.Error())
}

// CleanPath decodes and checks the escaped path of a request
// (r.URL.EscapedPath()) and returns the decoded path that the proxy
// authorizes and then forwards unchanged. It rejects, with a *PathError:
//
//   - a path that does not start with "/", or that contains "?" or "#";
//   - invalid percent-encoding ("%zz", "%4", a trailing "%");
//   - an encoded "/", "\" or "." (%2F, %5C, %2E), which the upstream
//     decodes into separators or dot segments that the proxy did not see;
//   - a literal "\", which some servers treat as "/";
//   - NUL and other control characters, raw or encoded;
//   - decoded bytes that are not valid UTF-8, which the upstream would
//     replace with U+FFFD;
//   - "." and ".." segments, and empty segments ("//"), except that one
//     trailing slash is allowed because Prefect routes such as POST
//     /api/flows/ end in one.
//
// An accepted path p is canonical: it contains no encoded character that
// the checks above look for, so escaping p again for the upstream (as
// url.URL{Path: p} does) and decoding the result gives p back, and
// CleanPath returns p unchanged for that escaped form.
func CleanPath(rawPath string) (string, error) {
	reject := func(problem string) (string, error) {
		return "", &PathError{Path: rawPath, Problem: problem}
	}

	if !strings.HasPrefix(rawPath, "/") {
		return reject("does not start with /")
	}

	decoded, problem := decodePath(rawPath)
	if problem != "" {
		return reject(problem)
	}
	if !utf8.ValidString(decoded) {
		return reject("is not valid UTF-8 once decoded")
	}
	if problem := checkPathSegments(decoded); problem != "" {
		return reject(problem)
	}
	return decoded, nil
}

// decodePath percent-decodes an escaped path and returns a problem text
// for the characters that CleanPath rejects. A path without "%" is
// returned as it is, without allocating.
func decodePath(rawPath string) (string, string) {
	var decoded []byte
	if strings.IndexByte(rawPath, '%') >= 0 {
		decoded = make([]byte, 0, len(rawPath))
	}

	for i := 0; i < len(rawPath); i++ {
		c := rawPath[i]
		switch {
		case c == '%':
			b, problem := decodeEscape(rawPath, i)
			if problem != "" {
				return "", problem
			}
			decoded = append(decoded, b)
			i += 2
			continue
		case c == '\\':
			return "", `contains a backslash (\)`
		case c == '?' || c == '#':
			return "", "contains " + string(c) + ", which ends a path"
		case isControl(c):
			return "", "contains NUL or a control character"
		}

		if decoded != nil {
			decoded = append(decoded, c)
		}
	}

	if decoded == nil {
		return rawPath, ""
	}
	return string(decoded), ""
}

// decodeEscape decodes the "%XX" at rawPath[i].
func decodeEscape(rawPath string, i int) (byte, string) {
	if i+2 >= len(rawPath) || !isHex(rawPath[i+1]) || !isHex(rawPath[i+2]) {
		return 0, "has invalid percent-encoding"
	}

	b := unhex(rawPath[i+1])<<4 | unhex(rawPath[i+2])
	switch {
	case b == '/':
		return 0, "contains an encoded slash (%2F)"
	case b == '\\':
		return 0, "contains an encoded backslash (%5C)"
	case b == '.':
		return 0, "contains an encoded dot (%2E)"
	case isControl(b):
		return 0, "contains an encoded NUL or control character"
	}
	return b, ""
}

// checkPathSegments rejects dot segments and empty segments other than a
// trailing slash in a decoded path that starts with "/".
func checkPathSegments(path string) string {
	rest := path[1:]
	for rest != "" {
		segment, after, found := strings.Cut(rest, "/")
		switch {
		case segment == "." || segment == "..":
			return "contains a . or .. segment"
		case segment == "" && found:
			return "contains an empty segment (//)"
		}
		rest = after
	}
	return ""
}

func isControl(c byte) bool { return c < 0x20 || c == 0x7f }

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}
