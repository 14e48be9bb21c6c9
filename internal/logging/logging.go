// Package logging builds the proxy's slog loggers and holds the attribute
// keys every component uses, so that log lines can be searched by fixed
// names whatever their format.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Attribute keys shared by every log line and audit event.
const (
	KeyComponent  = "component"
	KeyRequestID  = "request_id"
	KeyClient     = "client"
	KeyMethod     = "method"
	KeyPath       = "path"
	KeyStatus     = "status"
	KeyDurationMS = "duration_ms"
	KeyUserID     = "user_id"
	KeyKeyPrefix  = "key_prefix"
	KeyDecision   = "decision"
	KeyReason     = "reason"
	KeyScope      = "scope"
	KeyUpstream   = "upstream"
	KeyError      = "error"
)

// ParseLevel converts error, warn, info or debug (any case) to a slog level.
func ParseLevel(name string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "error":
		return slog.LevelError, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "info":
		return slog.LevelInfo, nil
	case "debug":
		return slog.LevelDebug, nil
	}
	return 0, fmt.Errorf("parse log level %q: expected error, warn, info or debug", name)
}

// NewHandler returns a text or JSON handler writing to w at the given level.
func NewHandler(w io.Writer, format string, level slog.Leveler) slog.Handler {
	options := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.NewJSONHandler(w, options)
	}
	return slog.NewTextHandler(w, options)
}

// Level is the process's log level with a temporary override, as set by
// POST /logs/{level}. It is safe for concurrent use.
type Level struct {
	current slog.LevelVar
	base    slog.Level

	mu    sync.Mutex
	timer *time.Timer
}

// NewLevel returns a Level set to base.
func NewLevel(base slog.Level) *Level {
	l := &Level{base: base}
	l.current.Set(base)
	return l
}

// Level implements slog.Leveler.
func (l *Level) Level() slog.Level {
	return l.current.Level()
}

// Override sets the level for the duration d, then restores the base level.
// A new override replaces the previous one and restarts the clock.
func (l *Level) Override(level slog.Level, d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()

	if l.timer != nil {
		l.timer.Stop()
	}
	l.current.Set(level)
	l.timer = time.AfterFunc(d, l.restore)
}

func (l *Level) restore() {
	l.mu.Lock()
	defer l.mu.Unlock()

	l.current.Set(l.base)
	l.timer = nil
}

// Stop cancels a pending restore, for shutdown and tests.
func (l *Level) Stop() {
	l.mu.Lock()
	defer l.mu.Unlock()

	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
}
