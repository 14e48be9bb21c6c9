package authn

import (
	"fmt"
	"log/slog"

	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/authz"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/keystore"
)

// Identity is the key row that a credential resolved to.
type Identity struct {
	// Key is the row: user id, scopes text and validity window.
	Key keystore.Key
	// Grant is the value that Options.Compile returned for Key.Scopes, or nil
	// when no Compile hook is set. It is computed once per store lookup and
	// shared by every request served from the same cache entry, so it must not
	// be modified.
	Grant any
	// GrantErr is the error that Options.Compile returned. A caller must
	// grant nothing when it is set.
	GrantErr error

	credential Credential
}

// Credential returns the credential that the identity was resolved from.
func (id Identity) Credential() Credential { return id.credential }

// String describes the identity by its user id and credential, without the
// secret.
func (id Identity) String() string {
	return fmt.Sprintf("user %q (%s)", id.Key.UserID, id.credential)
}

// GoString describes the identity for the %#v verb without the secret.
func (id Identity) GoString() string {
	return fmt.Sprintf("authn.Identity{userID: %q, credential: %#v}", id.Key.UserID, id.credential)
}

// LogValue returns the user id and the credential's source and key prefix as
// a slog group.
func (id Identity) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("user_id", id.Key.UserID),
		slog.String("source", id.credential.sourceName()),
		slog.String("key_prefix", id.credential.KeyPrefix()),
	)
}

// Error is a failed authentication. Every error returned by Authenticate
// and Revalidate is an *Error.
type Error struct {
	// Reason is one of the authz.ReasonKey* codes.
	Reason authz.Reason
	// Message explains the failure to the client and the audit trail. It
	// never contains a key.
	Message string
	// Err is the cause: the store's error, the caller's context error or the
	// credential's parse error. It may be nil. Its text is not part of
	// Error() because a store's error text is not checked for secrets.
	Err error
}

// Error returns the message.
func (e *Error) Error() string { return e.Message }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Decision returns the denying decision for the failure.
func (e *Error) Decision() authz.Decision {
	return authz.Denied(e.Reason, "", e.Message)
}

func deny(reason authz.Reason, message string, cause error) *Error {
	return &Error{Reason: reason, Message: message, Err: cause}
}
