// Package authn reads API keys out of requests and resolves them to key rows
// through a cache in front of the key store.
//
// FromRequest and ParseToken turn what Prefect 1, 2 and 3 clients send
// (Bearer and Basic Authorization headers, the Prefect 1 UI's
// X-Prefect-User-Id header, the token of a websocket's first message) into a
// Credential. An Authenticator resolves a Credential to an Identity or to an
// *Error carrying one authz.Reason.
package authn

import (
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxSecretLength is the largest secret, in bytes, that a credential may
// carry. It bounds the work one request can cause and is far above the
// 128-character api_key column of the key table. Longer values are malformed.
const MaxSecretLength = 1024

// keyPrefixLength is the maximum number of leading characters of a secret
// that logs and String show. Generated keys start with "pap_", so the prefix
// shows 4 random characters of them.
const keyPrefixLength = 8

// HeaderUserID is the header in which the Prefect 1 UI sends its user id. A
// user of the proxy puts an API key there.
const HeaderUserID = "X-Prefect-User-Id"

// ErrMalformed is wrapped by the error of a credential that a client sent but
// that cannot be read.
var ErrMalformed = errors.New("malformed credential")

// Source is the header or message that carried a credential. Its value
// appears in logs.
type Source string

// Credential sources. The zero Source means that the request carries no
// credential.
const (
	SourceNone         Source = ""
	SourceBearer       Source = "bearer"            // Authorization: Bearer <key>
	SourceBasic        Source = "basic"             // Authorization: Basic base64(<key>) or base64(<user_id>:<key>)
	SourceUserIDHeader Source = "x-prefect-user-id" // X-Prefect-User-Id: <key>
	SourceToken        Source = "token"             // the token of a websocket's first message
)

// Credential is an API key taken from a request, where it came from, and the
// user id sent with it, if any.
//
// The fields are unexported so that fmt, encoding/json and similar tools
// never print the secret. String, GoString and LogValue show at most a short
// prefix of it.
type Credential struct {
	secret string
	userID string
	source Source
	err    error
}

// Secret returns the API key. Pass it only to the key store.
func (c Credential) Secret() string { return c.secret }

// UserID returns the user id sent with the key in Basic credentials or in a
// token of the form "<user_id>:<key>", or "" when none was sent.
func (c Credential) UserID() string { return c.userID }

// Source returns where the credential was found.
func (c Credential) Source() Source { return c.source }

// Err returns the reason why a credential that the client sent cannot be
// read, or nil. The error wraps ErrMalformed and never contains the secret.
func (c Credential) Err() error { return c.err }

// Present reports whether the credential carries a readable key.
func (c Credential) Present() bool { return c.err == nil && c.secret != "" }

// MatchesUser reports whether the credential may be used for the key row of
// userID: true when the client sent no user id or sent exactly userID.
func (c Credential) MatchesUser(userID string) bool {
	return c.userID == "" || c.userID == userID
}

// KeyPrefix returns the first characters of the secret followed by "…", for
// logs. It shows at most 8 characters and at most a quarter of the secret, so
// a short hand-written key is not revealed whole. It returns "" when there is
// no secret.
func (c Credential) KeyPrefix() string {
	if c.secret == "" {
		return ""
	}

	remaining := min(keyPrefixLength, utf8.RuneCountInString(c.secret)/4)
	var prefix strings.Builder
	for _, r := range c.secret {
		if remaining == 0 {
			break
		}
		prefix.WriteRune(r)
		remaining--
	}
	prefix.WriteString("…")
	return prefix.String()
}

// String describes the credential without its secret, for example
// `basic key "pap_AbCd…" for user "alice"`.
func (c Credential) String() string {
	var text strings.Builder
	switch {
	case c.err != nil:
		text.WriteString("malformed credential")
		if c.source != SourceNone {
			fmt.Fprintf(&text, " in %s", c.source)
		}
		return text.String()
	case c.secret == "" && c.userID == "":
		return "no credential"
	case c.secret == "":
		return fmt.Sprintf("%s credential for user %q without a key", c.sourceName(), c.userID)
	}

	fmt.Fprintf(&text, "%s key %q", c.sourceName(), c.KeyPrefix())
	if c.userID != "" {
		fmt.Fprintf(&text, " for user %q", c.userID)
	}
	return text.String()
}

// GoString describes the credential for the %#v verb without its secret.
func (c Credential) GoString() string {
	return fmt.Sprintf("authn.Credential{source: %q, keyPrefix: %q, userID: %q}", c.source, c.KeyPrefix(), c.userID)
}

// LogValue returns the source, key prefix and user id as a slog group.
func (c Credential) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("source", c.sourceName())}
	if c.secret != "" {
		attrs = append(attrs, slog.String("key_prefix", c.KeyPrefix()))
	}
	if c.userID != "" {
		attrs = append(attrs, slog.String("user_id", c.userID))
	}
	if c.err != nil {
		attrs = append(attrs, slog.String("error", c.err.Error()))
	}
	return slog.GroupValue(attrs...)
}

func (c Credential) sourceName() string {
	if c.source == SourceNone {
		return "none"
	}
	return string(c.source)
}

// FromRequest returns the credential of an HTTP request or websocket upgrade.
//
// It reads, in this order:
//   - Authorization: Bearer <key>. The scheme is case-insensitive, and
//     whitespace around the scheme and the key is ignored.
//   - Authorization: Basic base64(<key>) or base64(<user_id>:<key>), as sent
//     by Prefect 2/3 clients with PREFECT_API_AUTH_STRING and by the Prefect 3
//     UI login form. See ParseToken for how the decoded text is split.
//   - X-Prefect-User-Id: <key>, the header of the Prefect 1 UI.
//
// Values that carry nothing are skipped, and the next source is read: an
// empty or whitespace-only value, "null" or "undefined" (compared
// case-insensitively) and a scheme without a key or with one of those values,
// such as "Bearer null". The Prefect 1 UI sends "X-Prefect-User-Id: null"
// until a key is set and its GraphiQL page sends "Authorization: Bearer null".
//
// An Authorization header with another scheme, no scheme, invalid base64 or
// a key with whitespace or control characters gives a credential whose Err
// is set. X-Prefect-User-Id is then not read, so a broken header is reported
// instead of being hidden. Only the first value of each header is read.
func FromRequest(r *http.Request) Credential {
	if cred, ok := fromAuthorization(r.Header.Get("Authorization")); ok {
		return cred
	}

	value := strings.TrimSpace(r.Header.Get(HeaderUserID))
	if isEmptyValue(value) {
		return Credential{}
	}
	if err := checkSecret(value); err != nil {
		return Credential{source: SourceUserIDHeader, err: malformed(HeaderUserID+" header", err)}
	}
	return Credential{secret: value, source: SourceUserIDHeader}
}

// ParseToken returns the credential in the token of a websocket's first
// message ({"type": "auth", "token": ...}), which Prefect clients fill with
// PREFECT_API_AUTH_STRING or the API key. Pass "" for a JSON null token.
//
// The token is "<key>" or "<user_id>:<key>". It is split at the first ':'
// only when the text before it is not empty, so ":abc" is the key ":abc".
// Generated keys never contain ':'. A token that is empty, whitespace-only,
// "null" or "undefined" means no credential.
func ParseToken(token string) Credential {
	return parseUserKey(token, SourceToken, "websocket token")
}

// fromAuthorization reads an Authorization header value. It returns false
// when the value carries nothing, so the caller reads the next source.
func fromAuthorization(value string) (Credential, bool) {
	fields := strings.Fields(value)
	if len(fields) == 0 || (len(fields) == 1 && isEmptyValue(fields[0])) {
		return Credential{}, false
	}

	scheme := fields[0]
	isBearer := strings.EqualFold(scheme, "Bearer")
	isBasic := strings.EqualFold(scheme, "Basic")
	switch {
	case !isBearer && !isBasic:
		// The scheme is not echoed because a client may have put the key
		// itself in its place.
		problem := errors.New("unsupported scheme, expected Bearer or Basic")
		return Credential{err: malformed("Authorization header", problem)}, true
	case len(fields) == 1 || isEmptyValue(fields[1]):
		return Credential{}, false
	case len(fields) > 2:
		problem := errors.New("the credentials contain whitespace")
		return Credential{source: sourceOf(isBearer), err: malformed("Authorization header", problem)}, true
	}

	if isBasic {
		return fromBasic(fields[1])
	}
	if err := checkSecret(fields[1]); err != nil {
		return Credential{source: SourceBearer, err: malformed("Authorization header", err)}, true
	}
	return Credential{secret: fields[1], source: SourceBearer}, true
}

func sourceOf(isBearer bool) Source {
	if isBearer {
		return SourceBearer
	}
	return SourceBasic
}

// fromBasic decodes the credentials of a Basic Authorization header. Padded
// and unpadded standard base64 are accepted, because browsers' btoa pads and
// some hand-written clients do not.
func fromBasic(encoded string) (Credential, bool) {
	decoded, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		decoded, err = base64.RawStdEncoding.DecodeString(encoded)
	}
	if err != nil {
		problem := errors.New("the Basic credentials are not valid base64")
		return Credential{source: SourceBasic, err: malformed("Authorization header", problem)}, true
	}

	cred := parseUserKey(string(decoded), SourceBasic, "Authorization header")
	if cred.source == SourceNone {
		return Credential{}, false
	}
	return cred, true
}

// parseUserKey splits "<user_id>:<key>" or reads "<key>", as described at
// ParseToken. A user id followed by an empty key gives a credential without
// a secret, which authenticates as a missing key.
func parseUserKey(text string, source Source, where string) Credential {
	text = strings.TrimSpace(text)
	if isEmptyValue(text) {
		return Credential{}
	}
	if !utf8.ValidString(text) {
		return Credential{source: source, err: malformed(where, errors.New("the credentials are not valid UTF-8"))}
	}

	userID, secret, found := strings.Cut(text, ":")
	if !found || userID == "" {
		userID, secret = "", text
	}
	userID = strings.TrimSpace(userID)
	secret = strings.TrimSpace(secret)

	if err := checkUserID(userID); err != nil {
		return Credential{source: source, err: malformed(where, err)}
	}
	if isEmptyValue(secret) {
		return Credential{userID: userID, source: source}
	}
	if err := checkSecret(secret); err != nil {
		return Credential{source: source, err: malformed(where, err)}
	}
	return Credential{secret: secret, userID: userID, source: source}
}

// isEmptyValue reports whether a header or token value carries no
// credential. JavaScript clients turn a missing value into "null" or
// "undefined" when they build a header from it.
func isEmptyValue(value string) bool {
	value = strings.TrimSpace(value)
	return value == "" || strings.EqualFold(value, "null") || strings.EqualFold(value, "undefined")
}

// checkSecret rejects keys that no key row can hold. The messages never
// contain the key.
func checkSecret(secret string) error {
	if len(secret) > MaxSecretLength {
		return fmt.Errorf("the key is longer than %d bytes", MaxSecretLength)
	}
	if !utf8.ValidString(secret) {
		return errors.New("the key is not valid UTF-8")
	}
	if strings.IndexFunc(secret, isSpaceOrControl) >= 0 {
		return errors.New("the key contains whitespace or control characters")
	}
	return nil
}

func checkUserID(userID string) error {
	if len(userID) > MaxSecretLength {
		return fmt.Errorf("the user id is longer than %d bytes", MaxSecretLength)
	}
	if strings.IndexFunc(userID, unicode.IsControl) >= 0 {
		return errors.New("the user id contains control characters")
	}
	return nil
}

func isSpaceOrControl(r rune) bool {
	return unicode.IsSpace(r) || unicode.IsControl(r)
}

func malformed(where string, problem error) error {
	return fmt.Errorf("%w in %s: %w", ErrMalformed, where, problem)
}
