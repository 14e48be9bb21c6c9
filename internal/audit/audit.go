// Package audit writes the audit trail: one event per decision worth
// keeping (every mutation, every blocked request, every allowed write in
// REST mode). Events carry the PREFECT_AUDIT_TRAIL marker that operators of
// the Node.js proxy already search for.
package audit

import (
	"context"
	"io"
	"log/slog"
	"unicode/utf8"

	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/authz"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/logging"
)

// Marker is the message of every audit event.
const Marker = "PREFECT_AUDIT_TRAIL"

// Decision words written in events, as the Node.js proxy wrote them.
const (
	Allowed = "ALLOWED"
	Blocked = "BLOCKED"
)

// Event is one audited decision. Empty fields are left out of the log line.
type Event struct {
	Allow         bool
	Reason        authz.Reason
	Scope         string // scope item that allowed, or would have allowed, the request
	Message       string
	UserID        string // key owner; empty when no key was recognised
	KeyPrefix     string // short prefix of an unrecognised key, never the whole key
	RequestID     string
	Client        string
	Method        string
	Path          string
	Route         string // REST route template
	OperationType string
	OperationName string
	RootFields    []string
	Variables     string // raw JSON text, truncated by the Logger
	Index         int    // position in a batch, -1 for a single request
	Headers       map[string]string
}

// Logger writes events as slog records at Info level, whatever the
// process's log level, because the audit trail must never be filtered away.
type Logger struct {
	logger       *slog.Logger
	maxVariables int
}

// New returns a Logger writing text or JSON lines (format "text" or "json")
// to w. Variables longer than maxVariables bytes are truncated, and zero
// leaves them out.
func New(w io.Writer, format string, maxVariables int) *Logger {
	handler := logging.NewHandler(w, format, slog.LevelInfo)
	return &Logger{logger: slog.New(handler), maxVariables: maxVariables}
}

// Record writes one event.
func (l *Logger) Record(ctx context.Context, event Event) {
	l.logger.LogAttrs(ctx, slog.LevelInfo, Marker, l.attrs(event)...)
}

func (l *Logger) attrs(event Event) []slog.Attr {
	decision := Blocked
	if event.Allow {
		decision = Allowed
	}
	attrs := []slog.Attr{
		slog.String(logging.KeyDecision, decision),
		slog.String(logging.KeyReason, string(event.Reason)),
	}

	attrs = appendString(attrs, logging.KeyUserID, event.UserID)
	attrs = appendString(attrs, logging.KeyKeyPrefix, event.KeyPrefix)
	attrs = appendString(attrs, "operation_type", event.OperationType)
	attrs = appendString(attrs, "operation_name", event.OperationName)
	if len(event.RootFields) > 0 {
		attrs = append(attrs, slog.Any("root_fields", event.RootFields))
	}
	attrs = appendString(attrs, logging.KeyScope, event.Scope)
	attrs = appendString(attrs, "message", event.Message)
	attrs = appendString(attrs, logging.KeyMethod, event.Method)
	attrs = appendString(attrs, logging.KeyPath, event.Path)
	attrs = appendString(attrs, "route", event.Route)
	attrs = appendString(attrs, logging.KeyClient, event.Client)
	attrs = appendString(attrs, logging.KeyRequestID, event.RequestID)
	if event.Index >= 0 {
		attrs = append(attrs, slog.Int("batch_index", event.Index))
	}
	if l.maxVariables > 0 {
		attrs = appendString(attrs, "variables", Truncate(event.Variables, l.maxVariables))
	}
	for name, value := range event.Headers {
		attrs = appendString(attrs, "header_"+name, value)
	}
	return attrs
}

func appendString(attrs []slog.Attr, key, value string) []slog.Attr {
	if value == "" {
		return attrs
	}
	return append(attrs, slog.String(key, value))
}

// Truncate shortens s to at most max bytes without splitting a UTF-8
// character, and marks a cut with "…(truncated)".
func Truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…(truncated)"
}
