// Package authz holds the decision type shared by the GraphQL and REST
// authorizers. A decision carries a reason code from one fixed set. The same
// code is the audit event's reason, the metric label and the error code the
// client receives.
package authz

// Reason is a kebab-case code that explains why a request was allowed or denied.
type Reason string

// Reasons for allowing a request.
const (
	ReasonScopeGranted Reason = "scope-granted"
	ReasonPublicAccess Reason = "public-access" // ALLOW_PUBLIC_ACCESS is on.
	ReasonPublicRoute  Reason = "public-route"  // health probes, UI files, preflights.
	ReasonCloudLogin   Reason = "cloud-login"   // a Prefect Cloud login query that the proxy responds to itself.
)

// Reasons for denying a request.
const (
	ReasonKeyMissing             Reason = "key-missing"
	ReasonKeyUnknown             Reason = "key-unknown"
	ReasonKeyExpired             Reason = "key-expired"
	ReasonKeyNotYetValid         Reason = "key-not-yet-valid"
	ReasonKeyUserMismatch        Reason = "key-user-mismatch"
	ReasonKeyStoreUnavailable    Reason = "key-store-unavailable"
	ReasonScopeMissing           Reason = "scope-missing"
	ReasonGraphQLInvalid         Reason = "graphql-invalid"
	ReasonOperationNameUnknown   Reason = "operation-name-unknown"
	ReasonMutationOverGet        Reason = "mutation-over-get"
	ReasonRequestInvalid         Reason = "request-invalid"
	ReasonContentTypeUnsupported Reason = "content-type-unsupported"
	ReasonMethodNotAllowed       Reason = "method-not-allowed"
	ReasonBodyTooLarge           Reason = "body-too-large"
	ReasonPathInvalid            Reason = "path-invalid"
	ReasonRouteUnknown           Reason = "route-unknown" // a path under the REST API mount that no known route matches; only explicit route scopes and the owner role reach it.
	ReasonSecretsRefused         Reason = "secrets-refused"
	ReasonTenantUnknown          Reason = "tenant-unknown" // the Prefect tenant id for a Cloud login response could not be read.
)

// Decision is the outcome of authorizing one request or one operation.
type Decision struct {
	Allow  bool
	Reason Reason
	// Scope is the scope item that allowed the request, or the one that
	// would have allowed it when it was denied for a missing scope.
	Scope string
	// Message is a human-readable explanation for the client and the audit
	// trail. It never contains a key.
	Message string
}

// Allowed returns an allowing decision.
func Allowed(reason Reason, scope string) Decision {
	return Decision{Allow: true, Reason: reason, Scope: scope}
}

// Denied returns a denying decision.
func Denied(reason Reason, scope, message string) Decision {
	return Decision{Reason: reason, Scope: scope, Message: message}
}
