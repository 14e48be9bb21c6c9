// Package admin serves the proxy's own endpoints: liveness and readiness
// probes, the temporary log level and the key cache controls. Probes are
// public; the others need a key with an admin scope, because the Node.js
// proxy left them open to anyone.
package admin

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/keystore"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/logging"
)

// Areas of the admin scope: admin/logs, admin/cache, or admin/* for both.
const (
	AreaLogs  = "logs"
	AreaCache = "cache"
)

// Guard authenticates a request and checks that its key may use an admin
// area. When it returns false it has already written the denial.
type Guard func(w http.ResponseWriter, r *http.Request, area string) (userID string, ok bool)

// Cache is the key cache as the admin endpoints control it.
type Cache interface {
	Reset()
	// Forget removes the entry of one key.
	Forget(secret string) bool
	// ForgetHash removes the entry of the key whose stored form is hash
	// ("sha256:<hex>").
	ForgetHash(hash string) bool
	// ForgetUser removes the entries of a user's keys and returns how many.
	ForgetUser(userID string) int
}

// Check is one readiness dependency, such as the key store or the upstream.
type Check struct {
	Name  string
	Check func(ctx context.Context) error
}

// Options configures the admin endpoints.
type Options struct {
	Guard  Guard
	Cache  Cache
	Level  *logging.Level
	Checks []Check
	// OverrideDuration is how long POST /logs/{level} keeps its level.
	OverrideDuration time.Duration
	// CheckTimeout bounds each readiness check. Default 5 s.
	CheckTimeout time.Duration
	Logger       *slog.Logger
}

// Endpoints serves the admin paths.
type Endpoints struct {
	options Options
}

// New returns the admin endpoints.
func New(options Options) *Endpoints {
	if options.CheckTimeout == 0 {
		options.CheckTimeout = 5 * time.Second
	}
	return &Endpoints{options: options}
}

// Handler returns the handler for an admin request, or nil when the method
// and path are not an admin endpoint.
func (e *Endpoints) Handler(method, path string) http.HandlerFunc {
	switch {
	case method == http.MethodGet && path == "/healthcheck":
		return e.healthcheck
	case method == http.MethodGet && path == "/readyz":
		return e.readiness
	case method == http.MethodPost && strings.HasPrefix(path, "/logs/") && !strings.Contains(path[len("/logs/"):], "/"):
		return e.setLogLevel
	case method == http.MethodPost && path == "/cache/reset":
		return e.resetCache
	case method == http.MethodDelete && strings.HasPrefix(path, "/cache/") && len(path) > len("/cache/"):
		return e.forgetKey
	}
	return nil
}

// IsSensitivePath reports whether a request path carries a secret, so that
// request logs write a placeholder instead: DELETE /cache/{key} has the key
// in its path.
func IsSensitivePath(path string) bool {
	return strings.HasPrefix(path, "/cache/") && path != "/cache/reset"
}

func (e *Endpoints) healthcheck(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (e *Endpoints) readiness(w http.ResponseWriter, r *http.Request) {
	results := make(map[string]string, len(e.options.Checks))
	status := http.StatusOK

	for _, check := range e.options.Checks {
		ctx, cancel := context.WithTimeout(r.Context(), e.options.CheckTimeout)
		err := check.Check(ctx)
		cancel()

		if err != nil {
			// The probe is public, so the details (addresses, database
			// names) go to the log only.
			status = http.StatusServiceUnavailable
			results[check.Name] = "unavailable"
			e.options.Logger.Warn("readiness check failed", "check", check.Name, logging.KeyError, err)
			continue
		}
		results[check.Name] = "ok"
	}

	writeJSON(w, status, map[string]any{"ready": status == http.StatusOK, "checks": results})
}

func (e *Endpoints) setLogLevel(w http.ResponseWriter, r *http.Request) {
	userID, ok := e.options.Guard(w, r, AreaLogs)
	if !ok {
		return
	}

	name := strings.TrimPrefix(r.URL.Path, "/logs/")
	level, err := logging.ParseLevel(name)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid log level " + quote(name) + ": use error, warn, info or debug"})
		return
	}

	e.options.Level.Override(level, e.options.OverrideDuration)
	e.options.Logger.Warn("log level overridden", "level", level.String(),
		"seconds", e.options.OverrideDuration.Seconds(), logging.KeyUserID, userID)
	writeJSON(w, http.StatusOK, map[string]any{"level": strings.ToLower(level.String()), "seconds": e.options.OverrideDuration.Seconds()})
}

func (e *Endpoints) resetCache(w http.ResponseWriter, r *http.Request) {
	userID, ok := e.options.Guard(w, r, AreaCache)
	if !ok {
		return
	}

	e.options.Cache.Reset()
	e.options.Logger.Info("key cache reset", logging.KeyUserID, userID)
	writeJSON(w, http.StatusOK, map[string]string{"status": "cache reset"})
}

func (e *Endpoints) forgetKey(w http.ResponseWriter, r *http.Request) {
	userID, ok := e.options.Guard(w, r, AreaCache)
	if !ok {
		return
	}

	target := strings.TrimPrefix(r.URL.Path, "/cache/")
	removed := e.forget(target)
	// The target may be a key, so it is never logged.
	e.options.Logger.Info("key removed from cache", logging.KeyUserID, userID, "entries", removed)
	writeJSON(w, http.StatusOK, map[string]any{"removed": removed > 0, "entries": removed})
}

// forget removes the cache entries that target names: a key, a stored hash
// ("sha256:<hex>", as the key table holds it), or a user id, which is what
// an administrator has after revoking a key.
func (e *Endpoints) forget(target string) int {
	if keystore.IsHashed(target) {
		return boolCount(e.options.Cache.ForgetHash(target))
	}
	if e.options.Cache.Forget(target) {
		return 1
	}
	return e.options.Cache.ForgetUser(target)
}

func boolCount(removed bool) int {
	if removed {
		return 1
	}
	return 0
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func quote(s string) string {
	encoded, _ := json.Marshal(s)
	return string(encoded)
}
