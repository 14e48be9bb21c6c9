package audit

import (
	"regexp"
	"strings"
)

// Redacted replaces secret values in audit events.
const Redacted = "[REDACTED]"

// sensitiveName matches variable names whose values are credentials, such
// as password, api_key, secret_value or token.
var sensitiveName = regexp.MustCompile(`(?i)passw(or)?d|passphrase|secret|token|api_?key|auth|credential|private_?key`)

// generatedKey matches keys made by prefect-auth-proxy keys create: "pap_"
// and 43 base64url characters.
var generatedKey = regexp.MustCompile(`pap_[A-Za-z0-9_-]{20,}`)

// RedactVariables returns a copy of decoded GraphQL variables in which the
// values of credential-like names, every string containing one of secrets
// and every generated API key are replaced by Redacted. Audit events keep
// variables for context, and they must never carry a key.
func RedactVariables(value any, secrets ...string) any {
	switch typed := value.(type) {
	case map[string]any:
		out := make(map[string]any, len(typed))
		for name, inner := range typed {
			if sensitiveName.MatchString(name) {
				out[name] = Redacted
				continue
			}
			out[name] = RedactVariables(inner, secrets...)
		}
		return out
	case []any:
		out := make([]any, len(typed))
		for i, inner := range typed {
			out[i] = RedactVariables(inner, secrets...)
		}
		return out
	case string:
		return redactString(typed, secrets)
	}
	return value
}

func redactString(text string, secrets []string) string {
	for _, secret := range secrets {
		if secret != "" && strings.Contains(text, secret) {
			text = strings.ReplaceAll(text, secret, Redacted)
		}
	}
	return generatedKey.ReplaceAllString(text, Redacted)
}
