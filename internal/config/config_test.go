package config

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// baseEnv is the smallest valid environment: API_SERVICE_URL has no default.
var baseEnv = []string{"API_SERVICE_URL=http://apollo:4200/graphql"}

func loadEnv(t *testing.T, args []string, env ...string) (Config, error) {
	t.Helper()
	// The first entry for a name wins, so the case's own values go first.
	return Load(args, append(slices.Clone(env), baseEnv...))
}

func mustLoad(t *testing.T, args []string, env ...string) Config {
	t.Helper()
	c, err := loadEnv(t, args, env...)
	if err != nil {
		t.Fatalf("Load(%q, %q): %v", args, env, err)
	}
	return c
}

// problemsOf returns the problems of a *ValidationError, failing the test for
// any other error.
func problemsOf(t *testing.T, err error) []Problem {
	t.Helper()
	var verr *ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("error = %v (%T), want *ValidationError", err, err)
	}
	return verr.Problems
}

func problemSettings(problems []Problem) []string {
	names := make([]string, len(problems))
	for i, p := range problems {
		names[i] = p.Setting
	}
	return names
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func mustURL(t *testing.T, text string) *url.URL {
	t.Helper()
	u, err := url.Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestDefaultValues(t *testing.T) {
	c := Default()
	checks := []struct {
		name      string
		got, want any
	}{
		{"AllowPublicAccess", c.AllowPublicAccess, false},
		{"TenantID", c.TenantID, ""},
		{"LogLevel", c.LogLevel, slog.LevelWarn},
		{"LogFormat", c.LogFormat, LogFormatText},
		{"LogLevelOverrideDuration", c.LogLevelOverrideDuration, 300 * time.Second},
		{"APIServiceURL", c.APIServiceURL, (*url.URL)(nil)},
		{"APIMode", c.APIMode, ModeAuto},
		{"APIBasePath", c.APIBasePath, "/api"},
		{"UpstreamTimeout", c.UpstreamTimeout, 60 * time.Second},
		{"Host", c.Host, "0.0.0.0"},
		{"Port", c.Port, 3000},
		{"Env", c.Env, "NA"},
		{"DBType", c.DBType, DatabaseType("")},
		{"DBPort", c.DBPort, 0},
		{"DBDatabase", c.DBDatabase, ""},
		{"DBQueryTimeout", c.DBQueryTimeout, 5 * time.Second},
		{"DBMaxOpenConns", c.DBMaxOpenConns, 10},
		{"KeyCacheTTL", c.KeyCacheTTL, 30 * time.Minute},
		{"KeyCacheNegativeTTL", c.KeyCacheNegativeTTL, 10 * time.Second},
		{"KeyCacheSize", c.KeyCacheSize, 10000},
		{"GraphQLDenialStatus", c.GraphQLDenialStatus, DenialStatusOK},
		{"MaxBodyBytes", c.MaxBodyBytes, int64(5 << 20)},
		{"AuditVariablesMaxBytes", c.AuditVariablesMaxBytes, 2048},
		{"ReadHeaderTimeout", c.ReadHeaderTimeout, 10 * time.Second},
		{"IdleTimeout", c.IdleTimeout, 120 * time.Second},
		{"ShutdownTimeout", c.ShutdownTimeout, 30 * time.Second},
		{"MetricsAddr", c.MetricsAddr, ""},
		{"CORSAllowedOrigins", c.CORSAllowedOrigins, []string{"*"}},
		{"TrustedProxies", c.TrustedProxies, []netip.Prefix(nil)},
		{"PublicURL", c.PublicURL, (*url.URL)(nil)},
	}
	for _, check := range checks {
		if !reflect.DeepEqual(check.got, check.want) {
			t.Errorf("Default().%s = %#v, want %#v", check.name, check.got, check.want)
		}
	}
}

func TestLoadMinimalEnvironment(t *testing.T) {
	c := mustLoad(t, nil)

	if got := c.APIServiceURL.String(); got != "http://apollo:4200/graphql" {
		t.Errorf("APIServiceURL = %q", got)
	}
	if c.DBType != DatabaseSQLite {
		t.Errorf("DBType = %q, want sqlite", c.DBType)
	}
	if c.DBDatabase != DefaultSQLiteFile {
		t.Errorf("DBDatabase = %q, want %q", c.DBDatabase, DefaultSQLiteFile)
	}
	if c.Port != 3000 {
		t.Errorf("Port = %d, want 3000", c.Port)
	}
}

func TestSettingsTableConsistent(t *testing.T) {
	envs := map[string]bool{}
	flags := map[string]bool{"env-file": true}
	for _, s := range Settings() {
		if envs[s.Env] {
			t.Errorf("environment variable %s appears twice", s.Env)
		}
		envs[s.Env] = true
		if flags[s.Flag] {
			t.Errorf("flag --%s appears twice", s.Flag)
		}
		flags[s.Flag] = true

		if s.Help == "" || s.Unit == "" {
			t.Errorf("%s: Help and Unit must be set", s.Env)
		}
		if want := strings.ReplaceAll(strings.ToLower(s.Env), "_", "-"); s.Flag != want {
			t.Errorf("%s: Flag = %q, want %q", s.Env, s.Flag, want)
		}
		if s.Default != "" && !s.computed {
			var c Config
			if err := s.bind.apply(&c, s.Default); err != nil {
				t.Errorf("%s: default %q does not parse: %v", s.Env, s.Default, err)
			}
		}
	}
}

func TestSettingsReturnsCopy(t *testing.T) {
	settings := Settings()
	settings[0].Env = "CHANGED"

	if Settings()[0].Env == "CHANGED" {
		t.Error("changing the slice from Settings changed the table")
	}
}

// settingCase is one value of one setting. extra holds further NAME=VALUE
// entries the value needs, such as DB_HOST for DB_PORT.
type settingCase struct {
	env   string
	value string
	extra []string
	get   func(Config) any
	want  any // Ignored when invalid is true.
	// invalid means Load must report exactly one problem, for env.
	invalid bool
}

func settingCases() []settingCase {
	allowPublic := func(c Config) any { return c.AllowPublicAccess }
	tenantID := func(c Config) any { return c.TenantID }
	logLevel := func(c Config) any { return c.LogLevel }
	logFormat := func(c Config) any { return c.LogFormat }
	override := func(c Config) any { return c.LogLevelOverrideDuration }
	apiURL := func(c Config) any { return c.APIServiceURL.String() }
	apiMode := func(c Config) any { return c.APIMode }
	basePath := func(c Config) any { return c.APIBasePath }
	host := func(c Config) any { return c.Host }
	port := func(c Config) any { return c.Port }
	publicURL := func(c Config) any { return c.PublicURL.String() }
	dbType := func(c Config) any { return c.DBType }
	dbPort := func(c Config) any { return c.DBPort }
	queryTimeout := func(c Config) any { return c.DBQueryTimeout }
	maxConns := func(c Config) any { return c.DBMaxOpenConns }
	cacheTTL := func(c Config) any { return c.KeyCacheTTL }
	cacheSize := func(c Config) any { return c.KeyCacheSize }
	denial := func(c Config) any { return c.GraphQLDenialStatus }
	maxBody := func(c Config) any { return c.MaxBodyBytes }
	auditMax := func(c Config) any { return c.AuditVariablesMaxBytes }
	metrics := func(c Config) any { return c.MetricsAddr }
	origins := func(c Config) any { return c.CORSAllowedOrigins }
	proxies := func(c Config) any { return c.TrustedProxies }
	preserveHost := func(c Config) any { return c.PreserveHost }
	requireUIKey := func(c Config) any { return c.RequireKeyForUI }
	routesJSON := func(c Config) any { return c.PermittedRoutesJSON }
	routesFile := func(c Config) any { return c.PermittedRoutesFile }
	checkInterval := func(c Config) any { return c.WebSocketCheckInterval }

	prefixes := func(texts ...string) []netip.Prefix {
		var out []netip.Prefix
		for _, text := range texts {
			out = append(out, netip.MustParsePrefix(text))
		}
		return out
	}

	return []settingCase{
		{env: "ALLOW_PUBLIC_ACCESS", value: "true", get: allowPublic, want: true},
		{env: "ALLOW_PUBLIC_ACCESS", value: "TRUE", get: allowPublic, want: true},
		{env: "ALLOW_PUBLIC_ACCESS", value: "1", get: allowPublic, want: true},
		{env: "ALLOW_PUBLIC_ACCESS", value: "yes", get: allowPublic, want: true},
		{env: "ALLOW_PUBLIC_ACCESS", value: "On", get: allowPublic, want: true},
		{env: "ALLOW_PUBLIC_ACCESS", value: "false", get: allowPublic, want: false},
		{env: "ALLOW_PUBLIC_ACCESS", value: "False", get: allowPublic, want: false},
		{env: "ALLOW_PUBLIC_ACCESS", value: "0", get: allowPublic, want: false},
		{env: "ALLOW_PUBLIC_ACCESS", value: "no", get: allowPublic, want: false},
		{env: "ALLOW_PUBLIC_ACCESS", value: "OFF", get: allowPublic, want: false},
		{env: "ALLOW_PUBLIC_ACCESS", value: "f", get: allowPublic, want: false},
		{env: "ALLOW_PUBLIC_ACCESS", value: "maybe", invalid: true},
		{env: "ALLOW_PUBLIC_ACCESS", value: "2", invalid: true},

		{env: "TENANT_ID", value: "2a5b8e2c-4b1e-4f0e-9a51-3c0f3e6c7d21", get: tenantID, want: "2a5b8e2c-4b1e-4f0e-9a51-3c0f3e6c7d21"},
		{env: "TENANT_ID", value: "2A5B8E2C-4B1E-4F0E-9A51-3C0F3E6C7D21", get: tenantID, want: "2a5b8e2c-4b1e-4f0e-9a51-3c0f3e6c7d21"},
		{env: "TENANT_ID", value: "Default", invalid: true},
		{env: "TENANT_ID", value: "2a5b8e2c-4b1e-4f0e-9a51", invalid: true},

		{env: "TENANT_NAME", value: "Data Team", get: func(c Config) any { return c.TenantName }, want: "Data Team"},
		{env: "TENANT_SLUG", value: "data-team", get: func(c Config) any { return c.TenantSlug }, want: "data-team"},

		{env: "PRESERVE_HOST", value: "false", get: preserveHost, want: false},
		{env: "PRESERVE_HOST", value: "true", get: preserveHost, want: true},
		{env: "PRESERVE_HOST", value: "sometimes", invalid: true},
		{env: "REQUIRE_KEY_FOR_UI", value: "yes", get: requireUIKey, want: true},
		{env: "REQUIRE_KEY_FOR_UI", value: "2", invalid: true},
		{env: "PERMITTED_ROUTES_JSON", value: `{"GET": ["api/flows/*"]}`, get: routesJSON, want: `{"GET": ["api/flows/*"]}`},
		{env: "PERMITTED_ROUTES_FILE", value: "/etc/routes.json", get: routesFile, want: "/etc/routes.json"},
		{env: "WEBSOCKET_CHECK_INTERVAL", value: "5s", get: checkInterval, want: 5 * time.Second},
		{env: "WEBSOCKET_CHECK_INTERVAL", value: "0", invalid: true},

		{env: "LOG_LEVEL", value: "error", get: logLevel, want: slog.LevelError},
		{env: "LOG_LEVEL", value: "warn", get: logLevel, want: slog.LevelWarn},
		{env: "LOG_LEVEL", value: "INFO", get: logLevel, want: slog.LevelInfo},
		{env: "LOG_LEVEL", value: "debug", get: logLevel, want: slog.LevelDebug},
		{env: "LOG_LEVEL", value: "trace", invalid: true},
		{env: "LOG_LEVEL", value: "warning", invalid: true},

		{env: "LOG_FORMAT", value: "json", get: logFormat, want: LogFormatJSON},
		{env: "LOG_FORMAT", value: "TEXT", get: logFormat, want: LogFormatText},
		{env: "LOG_FORMAT", value: "xml", invalid: true},

		{env: "LOG_LEVEL_OVERRIDE_DURATION", value: "600", get: override, want: 10 * time.Minute},
		{env: "LOG_LEVEL_OVERRIDE_DURATION", value: "2m", get: override, want: 2 * time.Minute},
		{env: "LOG_LEVEL_OVERRIDE_DURATION", value: "0", invalid: true},
		{env: "LOG_LEVEL_OVERRIDE_DURATION", value: "-5", invalid: true},
		{env: "LOG_LEVEL_OVERRIDE_DURATION", value: "1.5", invalid: true},
		{env: "LOG_LEVEL_OVERRIDE_DURATION", value: "5x", invalid: true},
		{env: "LOG_LEVEL_OVERRIDE_DURATION", value: "99999999999999999", invalid: true},

		{env: "API_SERVICE_URL", value: "https://prefect.example.com/api", get: apiURL, want: "https://prefect.example.com/api"},
		{env: "API_SERVICE_URL", value: "http://[::1]:4200/graphql", get: apiURL, want: "http://[::1]:4200/graphql"},
		{env: "API_SERVICE_URL", value: "apollo:4200/graphql", invalid: true},
		{env: "API_SERVICE_URL", value: "/graphql", invalid: true},
		{env: "API_SERVICE_URL", value: "ftp://apollo/graphql", invalid: true},
		{env: "API_SERVICE_URL", value: "http://", invalid: true},
		{env: "API_SERVICE_URL", value: "http://:4200/graphql", invalid: true},
		{env: "API_SERVICE_URL", value: "http://user:pass@apollo:4200/graphql", invalid: true},
		{env: "API_SERVICE_URL", value: "http://apollo:4200/graphql#top", invalid: true},
		{env: "API_SERVICE_URL", value: "http://apollo:4200/%zz", invalid: true},

		{env: "API_MODE", value: "graphql", get: apiMode, want: ModeGraphQL},
		{env: "API_MODE", value: "REST", get: apiMode, want: ModeREST},
		{env: "API_MODE", value: "auto", get: apiMode, want: ModeAuto},
		{env: "API_MODE", value: "grpc", invalid: true},

		{env: "API_BASE_PATH", value: "/api", get: basePath, want: "/api"},
		{env: "API_BASE_PATH", value: "/prefect/api", get: basePath, want: "/prefect/api"},
		{env: "API_BASE_PATH", value: "/", get: basePath, want: "/"},
		{env: "API_BASE_PATH", value: "api", invalid: true},
		{env: "API_BASE_PATH", value: "/api/", invalid: true},
		{env: "API_BASE_PATH", value: "/a/../api", invalid: true},
		{env: "API_BASE_PATH", value: "//api", invalid: true},
		{env: "API_BASE_PATH", value: "/api?x=1", invalid: true},

		{env: "UPSTREAM_AUTH_STRING", value: "admin:pass", get: func(c Config) any { return c.UpstreamAuthString }, want: "admin:pass"},

		{env: "UPSTREAM_TIMEOUT", value: "90s", get: func(c Config) any { return c.UpstreamTimeout }, want: 90 * time.Second},
		{env: "UPSTREAM_TIMEOUT", value: "0s", invalid: true},

		{env: "HOST", value: "127.0.0.1", get: host, want: "127.0.0.1"},
		{env: "HOST", value: "::1", get: host, want: "::1"},
		{env: "HOST", value: "localhost", get: host, want: "localhost"},
		{env: "HOST", value: "proxy.internal.example", get: host, want: "proxy.internal.example"},
		{env: "HOST", value: "bad host", invalid: true},
		{env: "HOST", value: "[::1]", invalid: true},
		{env: "HOST", value: "http://proxy", invalid: true},

		{env: "PORT", value: "8080", get: port, want: 8080},
		{env: "PORT", value: " 8080 ", get: port, want: 8080},
		{env: "PORT", value: "1", get: port, want: 1},
		{env: "PORT", value: "65535", get: port, want: 65535},
		{env: "PORT", value: "0", invalid: true},
		{env: "PORT", value: "65536", invalid: true},
		{env: "PORT", value: "-1", invalid: true},
		{env: "PORT", value: "http", invalid: true},

		{env: "PUBLIC_URL", value: "https://prefect.example.com", get: publicURL, want: "https://prefect.example.com"},
		{env: "PUBLIC_URL", value: "prefect.example.com", invalid: true},

		{env: "ENV", value: "prod", get: func(c Config) any { return c.Env }, want: "prod"},

		{env: "DB_TYPE", value: "postgresql", extra: []string{"DB_HOST=db"}, get: dbType, want: DatabasePostgres},
		{env: "DB_TYPE", value: "MariaDB", extra: []string{"DB_HOST=db", "DB_DATABASE=test"}, get: dbType, want: DatabaseMySQL},
		{env: "DB_TYPE", value: "sqlite3", get: dbType, want: DatabaseSQLite},
		{env: "DB_TYPE", value: "oracle", invalid: true},

		{env: "DB_HOST", value: "db.example.com", get: func(c Config) any { return c.DBHost }, want: "db.example.com"},

		{env: "DB_PORT", value: "6543", extra: []string{"DB_HOST=db"}, get: dbPort, want: 6543},
		{env: "DB_PORT", value: "70000", extra: []string{"DB_HOST=db"}, invalid: true},

		{env: "DB_USER", value: "proxy", get: func(c Config) any { return c.DBUser }, want: "proxy"},
		{env: "DB_PASSWORD", value: "pw with spaces ", get: func(c Config) any { return c.DBPassword }, want: "pw with spaces "},
		{env: "DB_DATABASE", value: "/data/keys.db", get: func(c Config) any { return c.DBDatabase }, want: "/data/keys.db"},

		{env: "DB_QUERY_TIMEOUT", value: "2", get: queryTimeout, want: 2 * time.Second},
		{env: "DB_QUERY_TIMEOUT", value: "1500ms", get: queryTimeout, want: 1500 * time.Millisecond},
		{env: "DB_QUERY_TIMEOUT", value: "never", invalid: true},

		{env: "DB_MAX_OPEN_CONNS", value: "25", get: maxConns, want: 25},
		{env: "DB_MAX_OPEN_CONNS", value: "0", invalid: true},

		{env: "KEY_CACHE_TTL", value: "30m", get: cacheTTL, want: 30 * time.Minute},
		{env: "KEY_CACHE_TTL", value: "1800", get: cacheTTL, want: 30 * time.Minute},
		{env: "KEY_CACHE_TTL", value: "1h30m", get: cacheTTL, want: 90 * time.Minute},
		{env: "KEY_CACHE_TTL", value: "-1m", invalid: true},

		{env: "KEY_CACHE_NEGATIVE_TTL", value: "1m", get: func(c Config) any { return c.KeyCacheNegativeTTL }, want: time.Minute},
		{env: "KEY_CACHE_NEGATIVE_TTL", value: "0", invalid: true},

		{env: "KEY_CACHE_SIZE", value: "500", get: cacheSize, want: 500},
		{env: "KEY_CACHE_SIZE", value: "0", invalid: true},
		{env: "KEY_CACHE_SIZE", value: "1e4", invalid: true},

		{env: "GRAPHQL_DENIAL_STATUS", value: "http", get: denial, want: DenialStatusHTTP},
		{env: "GRAPHQL_DENIAL_STATUS", value: "OK", get: denial, want: DenialStatusOK},
		{env: "GRAPHQL_DENIAL_STATUS", value: "403", invalid: true},

		{env: "MAX_BODY_BYTES", value: "1048576", get: maxBody, want: int64(1 << 20)},
		{env: "MAX_BODY_BYTES", value: "5MiB", invalid: true},
		{env: "MAX_BODY_BYTES", value: "0", invalid: true},

		{env: "AUDIT_VARIABLES_MAX_BYTES", value: "0", get: auditMax, want: 0},
		{env: "AUDIT_VARIABLES_MAX_BYTES", value: "4096", get: auditMax, want: 4096},
		{env: "AUDIT_VARIABLES_MAX_BYTES", value: "-1", invalid: true},

		{env: "READ_HEADER_TIMEOUT", value: "5s", get: func(c Config) any { return c.ReadHeaderTimeout }, want: 5 * time.Second},
		{env: "READ_HEADER_TIMEOUT", value: "5 s", invalid: true},
		{env: "IDLE_TIMEOUT", value: "300", get: func(c Config) any { return c.IdleTimeout }, want: 300 * time.Second},
		{env: "IDLE_TIMEOUT", value: "-1s", invalid: true},
		{env: "SHUTDOWN_TIMEOUT", value: "1m", get: func(c Config) any { return c.ShutdownTimeout }, want: time.Minute},
		{env: "SHUTDOWN_TIMEOUT", value: "soon", invalid: true},

		{env: "METRICS_ADDR", value: "127.0.0.1:9100", get: metrics, want: "127.0.0.1:9100"},
		{env: "METRICS_ADDR", value: ":9100", get: metrics, want: ":9100"},
		{env: "METRICS_ADDR", value: "[::1]:9100", get: metrics, want: "[::1]:9100"},
		{env: "METRICS_ADDR", value: "localhost:9100", get: metrics, want: "localhost:9100"},
		{env: "METRICS_ADDR", value: "9100", invalid: true},
		{env: "METRICS_ADDR", value: "127.0.0.1:0", invalid: true},
		{env: "METRICS_ADDR", value: "localhost:http", invalid: true},
		{env: "METRICS_ADDR", value: "bad host:9100", invalid: true},

		{env: "CORS_ALLOWED_ORIGINS", value: "*", get: origins, want: []string{"*"}},
		{env: "CORS_ALLOWED_ORIGINS", value: "https://a.example.com, http://localhost:8080", get: origins, want: []string{"https://a.example.com", "http://localhost:8080"}},
		{env: "CORS_ALLOWED_ORIGINS", value: "HTTPS://A.Example.com,", get: origins, want: []string{"https://a.example.com"}},
		{env: "CORS_ALLOWED_ORIGINS", value: "*,https://a.example.com", invalid: true},
		{env: "CORS_ALLOWED_ORIGINS", value: "https://a.example.com/", invalid: true},
		{env: "CORS_ALLOWED_ORIGINS", value: "a.example.com", invalid: true},
		{env: "CORS_ALLOWED_ORIGINS", value: "https://a.example.com?x", invalid: true},
		{env: "CORS_ALLOWED_ORIGINS", value: " , ", invalid: true},

		{env: "TRUSTED_PROXIES", value: "10.0.0.0/8, 192.168.1.7,fd00::/8", get: proxies, want: prefixes("10.0.0.0/8", "192.168.1.7/32", "fd00::/8")},
		{env: "TRUSTED_PROXIES", value: "10.1.2.3/8", get: proxies, want: prefixes("10.0.0.0/8")},
		{env: "TRUSTED_PROXIES", value: "::1", get: proxies, want: prefixes("::1/128")},
		{env: "TRUSTED_PROXIES", value: "10.0.0.0/33", invalid: true},
		{env: "TRUSTED_PROXIES", value: "10.0.0.0/8,proxy.example.com", invalid: true},
		{env: "TRUSTED_PROXIES", value: "fe80::1%eth0", invalid: true},
	}
}

func TestSettingParsing(t *testing.T) {
	for _, tc := range settingCases() {
		t.Run(tc.env+"="+tc.value, func(t *testing.T) {
			env := append([]string{tc.env + "=" + tc.value}, tc.extra...)
			c, err := loadEnv(t, nil, env...)

			if tc.invalid {
				problems := problemsOf(t, err)
				if got := problemSettings(problems); !slices.Equal(got, []string{tc.env}) {
					t.Fatalf("problems for %v, want only %s: %v", got, tc.env, err)
				}
				if !strings.Contains(err.Error(), tc.env) {
					t.Errorf("error %q does not name %s", err, tc.env)
				}
				if problems[0].Source != "the environment" {
					t.Errorf("Source = %q, want %q", problems[0].Source, "the environment")
				}
				return
			}

			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if got := tc.get(c); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %#v, want %#v", got, tc.want)
			}
		})
	}
}

func TestSettingParsingCoversEverySetting(t *testing.T) {
	covered := map[string]bool{}
	for _, tc := range settingCases() {
		if !tc.invalid {
			covered[tc.env] = true
		}
	}
	for _, s := range Settings() {
		if !covered[s.Env] {
			t.Errorf("no valid parsing case for %s", s.Env)
		}
	}
}

func TestInvalidValueShownInError(t *testing.T) {
	_, err := loadEnv(t, nil, "PORT=70000")

	want := `invalid configuration: invalid PORT (--port) "70000" from the environment: must be a whole number from 1 to 65535`
	if err == nil || err.Error() != want {
		t.Errorf("error = %v\nwant    %s", err, want)
	}
}

func TestMissingAPIServiceURL(t *testing.T) {
	_, err := Load(nil, nil)

	problems := problemsOf(t, err)
	if len(problems) != 1 {
		t.Fatalf("got %d problems, want 1: %v", len(problems), err)
	}
	want := "API_SERVICE_URL (--api-service-url) is missing: set it to the Prefect API URL, e.g. http://apollo:4200/graphql"
	if got := problems[0].Error(); got != want {
		t.Errorf("problem = %q\nwant      %q", got, want)
	}
}

func TestInvalidAPIServiceURLNotAlsoMissing(t *testing.T) {
	_, err := Load(nil, []string{"API_SERVICE_URL=apollo"})

	problems := problemsOf(t, err)
	if len(problems) != 1 {
		t.Fatalf("got %d problems, want 1: %v", len(problems), err)
	}
	if problems[0].Source == "" {
		t.Errorf("problem %q reports a missing value, want an invalid one", problems[0])
	}
}

func TestAllProblemsReportedTogether(t *testing.T) {
	environ := []string{
		"TRUSTED_PROXIES=nope",
		"PORT=0",
		"LOG_LEVEL=loud",
		"ALLOW_PUBLIC_ACCESS=maybe",
		"TENANT_ID=Default",
		"DB_TYPE=mysql",
		"KEY_CACHE_TTL=forever",
	}
	_, err := Load([]string{"--max-body-bytes=5MiB"}, environ)

	problems := problemsOf(t, err)
	want := []string{
		"ALLOW_PUBLIC_ACCESS", "TENANT_ID", "LOG_LEVEL", "API_SERVICE_URL", "PORT",
		"DB_HOST", "DB_DATABASE", "KEY_CACHE_TTL", "MAX_BODY_BYTES", "TRUSTED_PROXIES",
	}
	if got := problemSettings(problems); !slices.Equal(got, want) {
		t.Errorf("problems for\n%v\nwant (in table order)\n%v", got, want)
	}

	text := err.Error()
	if !strings.HasPrefix(text, fmt.Sprintf("invalid configuration (%d problems):\n", len(want))) {
		t.Errorf("error does not start with the problem count:\n%s", text)
	}
	for _, name := range want {
		if !strings.Contains(text, name) {
			t.Errorf("error does not name %s:\n%s", name, text)
		}
	}
	if !strings.Contains(text, `from flag --max-body-bytes`) {
		t.Errorf("error does not name the flag source:\n%s", text)
	}
}

func TestValidationErrorUnwrapsProblems(t *testing.T) {
	_, err := loadEnv(t, nil, "PORT=x")

	var p Problem
	if !errors.As(err, &p) {
		t.Fatalf("errors.As(%v, *Problem) = false", err)
	}
	if p.Setting != "PORT" {
		t.Errorf("Setting = %q, want PORT", p.Setting)
	}
	if p.Flag != "port" {
		t.Errorf("Flag = %q, want port", p.Flag)
	}
	if p.Value != "x" {
		t.Errorf("Value = %q, want x", p.Value)
	}
}

func TestBooleanFalseIsFalse(t *testing.T) {
	c := mustLoad(t, nil, "ALLOW_PUBLIC_ACCESS=false")

	if c.AllowPublicAccess {
		t.Error(`ALLOW_PUBLIC_ACCESS=false gave true`)
	}
}

func TestBooleanMaybeIsInvalid(t *testing.T) {
	_, err := loadEnv(t, nil, "ALLOW_PUBLIC_ACCESS=maybe")

	problems := problemsOf(t, err)
	if len(problems) != 1 {
		t.Fatalf("got %d problems, want 1: %v", len(problems), err)
	}
	if !strings.Contains(err.Error(), `ALLOW_PUBLIC_ACCESS (--allow-public-access) "maybe"`) {
		t.Errorf("error does not name the variable, flag and value: %v", err)
	}
}

func TestBooleanFlagForms(t *testing.T) {
	cases := []struct {
		args []string
		env  []string
		want bool
	}{
		{args: []string{"--allow-public-access"}, want: true},
		{args: []string{"-allow-public-access"}, want: true},
		{args: []string{"--allow-public-access=true"}, want: true},
		{args: []string{"--allow-public-access=false"}, env: []string{"ALLOW_PUBLIC_ACCESS=true"}, want: false},
		{args: []string{"--allow-public-access=off"}, want: false},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			c := mustLoad(t, tc.args, tc.env...)
			if c.AllowPublicAccess != tc.want {
				t.Errorf("AllowPublicAccess = %v, want %v", c.AllowPublicAccess, tc.want)
			}
		})
	}
}

func TestBooleanFlagSeparateValueRejected(t *testing.T) {
	_, err := loadEnv(t, []string{"--allow-public-access", "false"})

	if err == nil {
		t.Fatal("Load accepted a positional argument")
	}
	if !strings.Contains(err.Error(), "position 2") {
		t.Errorf("error %q does not give the argument's position", err)
	}
	if !strings.Contains(err.Error(), "--flag=false") {
		t.Errorf("error %q does not show the boolean flag form", err)
	}
}

func TestFlagValueForms(t *testing.T) {
	cases := [][]string{
		{"--port=8080"},
		{"--port", "8080"},
		{"-port=8080"},
		{"-port", "8080"},
	}
	for _, args := range cases {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			c := mustLoad(t, args)
			if c.Port != 8080 {
				t.Errorf("Port = %d, want 8080", c.Port)
			}
		})
	}
}

func TestEveryFlagRegistered(t *testing.T) {
	for _, tc := range settingCases() {
		if tc.invalid {
			continue
		}
		t.Run(tc.env, func(t *testing.T) {
			s := lookupSetting(tc.env)
			c, err := loadEnv(t, []string{"--" + s.Flag + "=" + tc.value}, tc.extra...)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if got := tc.get(c); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("--%s=%s gave %#v, want %#v", s.Flag, tc.value, got, tc.want)
			}
		})
	}
}

func TestUnknownFlagRejected(t *testing.T) {
	_, err := loadEnv(t, []string{"--db-pasword=x"})

	if err == nil {
		t.Fatal("Load accepted an unknown flag")
	}
	var verr *ValidationError
	if errors.As(err, &verr) {
		t.Errorf("unknown flag reported as a validation problem: %v", err)
	}
	if !strings.Contains(err.Error(), "db-pasword") {
		t.Errorf("error %q does not name the flag", err)
	}
}

func TestFlagWithoutValueRejected(t *testing.T) {
	_, err := loadEnv(t, []string{"--port"})

	if err == nil || !strings.Contains(err.Error(), "port") {
		t.Errorf("error = %v, want one about --port", err)
	}
}

func TestPositionalArgumentRejected(t *testing.T) {
	_, err := loadEnv(t, []string{"--port=8080", "--", "serve"})

	if err == nil || !strings.Contains(err.Error(), "position 3") {
		t.Errorf("error = %v, want an unexpected argument at position 3", err)
	}
}

func TestHelpFlag(t *testing.T) {
	for _, arg := range []string{"-h", "--help", "-help"} {
		_, err := Load([]string{arg}, nil)
		if !errors.Is(err, flag.ErrHelp) {
			t.Errorf("Load(%q) error = %v, want flag.ErrHelp", arg, err)
		}
	}
}

func TestPrecedence(t *testing.T) {
	file := writeFile(t, "proxy.env", "PORT=4000\n")

	cases := []struct {
		name string
		args []string
		env  []string
		want int
	}{
		{name: "default", want: 3000},
		{name: "env file over default", args: []string{"--env-file", file}, want: 4000},
		{name: "environment over env file", args: []string{"--env-file", file}, env: []string{"PORT=5000"}, want: 5000},
		{name: "flag over environment", args: []string{"--env-file", file, "--port=6000"}, env: []string{"PORT=5000"}, want: 6000},
		{name: "flag before env file flag", args: []string{"--port=6000", "--env-file", file}, want: 6000},
		{name: "empty environment value not set", args: []string{"--env-file", file}, env: []string{"PORT="}, want: 4000},
		{name: "empty flag value not set", args: []string{"--port="}, env: []string{"PORT=5000"}, want: 5000},
		{name: "first environment entry wins", env: []string{"PORT=5000", "PORT=5001"}, want: 5000},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := mustLoad(t, tc.args, tc.env...)
			if c.Port != tc.want {
				t.Errorf("Port = %d, want %d", c.Port, tc.want)
			}
		})
	}
}

func TestLaterEnvFileOverrides(t *testing.T) {
	first := writeFile(t, "first.env", "PORT=4000\nENV=staging\n")
	second := writeFile(t, "second.env", "PORT=4001\n")

	c := mustLoad(t, []string{"--env-file=" + first, "--env-file=" + second})

	if c.Port != 4001 {
		t.Errorf("Port = %d, want 4001 from the second file", c.Port)
	}
	if c.Env != "staging" {
		t.Errorf("Env = %q, want staging from the first file", c.Env)
	}
}

func TestEnvFileSettingsApplied(t *testing.T) {
	content := "# proxy settings\r\n" +
		"API_SERVICE_URL=http://apollo:4200/graphql\r\n" +
		"\r\n" +
		"  TENANT_NAME=\"Data Team\"\r\n" +
		"DB_HOST\r\n" +
		"NODE_ENV=production\r\n"
	file := writeFile(t, "proxy.env", content)

	c, err := Load([]string{"--env-file", file}, []string{"DB_HOST=db.internal"})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}

	if got := c.APIServiceURL.String(); got != "http://apollo:4200/graphql" {
		t.Errorf("APIServiceURL = %q (CRLF line ending kept?)", got)
	}
	if c.TenantName != `"Data Team"` {
		t.Errorf("TenantName = %q, want the quotes kept", c.TenantName)
	}
	if c.DBHost != "db.internal" {
		t.Errorf("DBHost = %q, want db.internal from the environment", c.DBHost)
	}
}

func TestEnvFileProblemSource(t *testing.T) {
	file := writeFile(t, "proxy.env", "# settings\nPORT=99999\n")

	_, err := loadEnv(t, []string{"--env-file", file})

	problems := problemsOf(t, err)
	want := "env file " + file + " line 2"
	if len(problems) != 1 || problems[0].Source != want {
		t.Errorf("problems = %v, want one with source %q", problems, want)
	}
}

func TestEnvFileMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "absent.env")

	_, err := loadEnv(t, []string{"--env-file", path})

	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("error = %v, want one wrapping os.ErrNotExist", err)
	}
	if err != nil && !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name the file", err)
	}
}

func TestEnvFileSyntaxError(t *testing.T) {
	file := writeFile(t, "proxy.env", "PORT=3000\nexport DB_HOST=db\n")

	_, err := loadEnv(t, []string{"--env-file", file})

	if err == nil {
		t.Fatal("Load accepted an env file with an export line")
	}
	if !strings.Contains(err.Error(), file+": line 2") {
		t.Errorf("error %q does not name the file and line", err)
	}
}

func TestDatabaseTypeRule(t *testing.T) {
	cases := []struct {
		name       string
		env        []string
		wantType   DatabaseType
		wantPort   int
		wantName   string
		wantIssues []string
	}{
		{name: "nothing set is sqlite", wantType: DatabaseSQLite, wantPort: 0, wantName: DefaultSQLiteFile},
		{name: "sqlite with file", env: []string{"DB_TYPE=sqlite", "DB_DATABASE=/data/keys.db"}, wantType: DatabaseSQLite, wantName: "/data/keys.db"},
		{name: "host alone is postgres", env: []string{"DB_HOST=db"}, wantType: DatabasePostgres, wantPort: 5432},
		{name: "postgres with database", env: []string{"DB_HOST=db", "DB_DATABASE=keys"}, wantType: DatabasePostgres, wantPort: 5432, wantName: "keys"},
		{name: "postgresql alias", env: []string{"DB_TYPE=postgresql", "DB_HOST=db"}, wantType: DatabasePostgres, wantPort: 5432},
		{name: "mysql default port", env: []string{"DB_TYPE=mysql", "DB_HOST=db", "DB_DATABASE=keys"}, wantType: DatabaseMySQL, wantPort: 3306, wantName: "keys"},
		{name: "mariadb alias", env: []string{"DB_TYPE=mariadb", "DB_HOST=db", "DB_DATABASE=keys"}, wantType: DatabaseMySQL, wantPort: 3306, wantName: "keys"},
		{name: "mysql own port", env: []string{"DB_TYPE=mysql", "DB_HOST=db", "DB_PORT=3307", "DB_DATABASE=keys"}, wantType: DatabaseMySQL, wantPort: 3307, wantName: "keys"},
		{name: "postgres without host", env: []string{"DB_TYPE=postgres"}, wantIssues: []string{"DB_HOST"}},
		{name: "mysql without host or database", env: []string{"DB_TYPE=mysql"}, wantIssues: []string{"DB_HOST", "DB_DATABASE"}},
		{name: "mysql without database", env: []string{"DB_TYPE=mysql", "DB_HOST=db"}, wantIssues: []string{"DB_DATABASE"}},
		{name: "sqlite with host", env: []string{"DB_TYPE=sqlite", "DB_HOST=db"}, wantIssues: []string{"DB_HOST"}},
		{name: "sqlite with port", env: []string{"DB_TYPE=sqlite", "DB_PORT=5432"}, wantIssues: []string{"DB_PORT"}},
		{name: "port without host", env: []string{"DB_PORT=5432"}, wantIssues: []string{"DB_PORT"}},
		{name: "unknown type only", env: []string{"DB_TYPE=oracle", "DB_HOST=db"}, wantIssues: []string{"DB_TYPE"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := loadEnv(t, nil, tc.env...)

			if tc.wantIssues != nil {
				if got := problemSettings(problemsOf(t, err)); !slices.Equal(got, tc.wantIssues) {
					t.Errorf("problems for %v, want %v: %v", got, tc.wantIssues, err)
				}
				return
			}

			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if c.DBType != tc.wantType {
				t.Errorf("DBType = %q, want %q", c.DBType, tc.wantType)
			}
			if c.DBPort != tc.wantPort {
				t.Errorf("DBPort = %d, want %d", c.DBPort, tc.wantPort)
			}
			if c.DBDatabase != tc.wantName {
				t.Errorf("DBDatabase = %q, want %q", c.DBDatabase, tc.wantName)
			}
		})
	}
}

func TestDatabaseTypeMethod(t *testing.T) {
	cases := []struct {
		c    Config
		want DatabaseType
	}{
		{Config{}, DatabaseSQLite},
		{Config{DBHost: "db"}, DatabasePostgres},
		{Config{DBType: DatabaseMySQL, DBHost: "db"}, DatabaseMySQL},
		{Config{DBType: DatabaseSQLite}, DatabaseSQLite},
	}
	for _, tc := range cases {
		if got := tc.c.DatabaseType(); got != tc.want {
			t.Errorf("DatabaseType() with DBType %q, DBHost %q = %q, want %q", tc.c.DBType, tc.c.DBHost, got, tc.want)
		}
	}
}

func TestModeResolution(t *testing.T) {
	cases := []struct {
		url  string
		mode Mode
		want Mode
	}{
		{"http://apollo:4200/graphql", ModeAuto, ModeGraphQL},
		{"http://apollo:4200/graphql/", ModeAuto, ModeGraphQL},
		{"https://example.com/prefect/graphql", ModeAuto, ModeGraphQL},
		{"http://prefect:4200", ModeAuto, ModeREST},
		{"http://prefect:4200/api", ModeAuto, ModeREST},
		{"http://prefect:4200/graphql-old", ModeAuto, ModeREST},
		{"http://prefect:4200/api", ModeGraphQL, ModeGraphQL},
		{"http://apollo:4200/graphql", ModeREST, ModeREST},
	}
	for _, tc := range cases {
		c := Config{APIServiceURL: mustURL(t, tc.url), APIMode: tc.mode}
		if got := c.Mode(); got != tc.want {
			t.Errorf("Mode() for %s with API_MODE %s = %s, want %s", tc.url, tc.mode, got, tc.want)
		}
	}

	if got := (Config{APIMode: ModeAuto}).Mode(); got != ModeREST {
		t.Errorf("Mode() without URL = %s, want rest", got)
	}
}

func TestListenAddr(t *testing.T) {
	cases := []struct {
		host string
		port int
		want string
	}{
		{"0.0.0.0", 3000, "0.0.0.0:3000"},
		{"::1", 8080, "[::1]:8080"},
		{"localhost", 80, "localhost:80"},
	}
	for _, tc := range cases {
		c := Config{Host: tc.host, Port: tc.port}
		if got := c.ListenAddr(); got != tc.want {
			t.Errorf("ListenAddr() for %s and %d = %q, want %q", tc.host, tc.port, got, tc.want)
		}
	}
}

// secretEnv sets every secret, and a URL with a password, to values that must
// not appear in any output.
var secretEnv = []string{
	"DB_PASSWORD=pw-s3cret-1",
	"UPSTREAM_AUTH_STRING=admin:auth-s3cret-2",
	"DB_TYPE=postgres",
	"DB_HOST=db",
}

var secrets = []string{"pw-s3cret-1", "auth-s3cret-2", "url-s3cret-3", "flag-s3cret-4"}

func assertNoSecrets(t *testing.T, where, text string) {
	t.Helper()
	for _, secret := range secrets {
		if strings.Contains(text, secret) {
			t.Errorf("%s contains %q:\n%s", where, secret, text)
		}
	}
}

func TestSecretsMaskedInLogs(t *testing.T) {
	c := mustLoad(t, nil, secretEnv...)

	var text, json bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("configuration", "config", c)
	slog.New(slog.NewJSONHandler(&json, nil)).Info("configuration", "config", c)

	assertNoSecrets(t, "text log", text.String())
	assertNoSecrets(t, "JSON log", json.String())
	if !strings.Contains(json.String(), `"DB_PASSWORD":"***"`) {
		t.Errorf("JSON log does not show DB_PASSWORD as ***:\n%s", json.String())
	}
	if !strings.Contains(json.String(), `"UPSTREAM_AUTH_STRING":"***"`) {
		t.Errorf("JSON log does not show UPSTREAM_AUTH_STRING as ***:\n%s", json.String())
	}
}

func TestSecretsMaskedInFmt(t *testing.T) {
	c := mustLoad(t, nil, secretEnv...)

	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		text := fmt.Sprintf(verb, c)
		assertNoSecrets(t, verb, text)
		if !strings.Contains(text, `DB_PASSWORD="***"`) {
			t.Errorf("%s output does not show the masked password: %s", verb, text)
		}
	}

	wrapped := struct{ Config Config }{c}
	assertNoSecrets(t, "%+v of a wrapping struct", fmt.Sprintf("%+v", wrapped))
}

func TestUnsetSecretShownEmpty(t *testing.T) {
	c := mustLoad(t, nil)

	for _, attr := range c.Attrs() {
		if attr.Key == "DB_PASSWORD" && attr.Value.String() != "" {
			t.Errorf("unset DB_PASSWORD logged as %q, want empty", attr.Value.String())
		}
	}
}

func TestSecretsMaskedInErrors(t *testing.T) {
	environ := append(slices.Clone(secretEnv),
		"API_SERVICE_URL=http://user:url-s3cret-3@apollo:4200/graphql",
		"PORT=0",
		"LOG_LEVEL=loud",
	)
	_, err := Load([]string{"--db-password=flag-s3cret-4"}, environ)

	if err == nil {
		t.Fatal("Load accepted invalid settings")
	}
	assertNoSecrets(t, "error", err.Error())
	if !strings.Contains(err.Error(), "http://user:xxxxx@apollo:4200/graphql") {
		t.Errorf("error does not show the redacted URL:\n%s", err)
	}
}

func TestSecretMaskedInProblem(t *testing.T) {
	s := lookupSetting("DB_PASSWORD")

	p := s.invalid(sourcedValue{text: "pw-s3cret-1", source: "the environment"}, "test reason")

	assertNoSecrets(t, "problem", p.Error())
	if p.Value != "***" {
		t.Errorf("Value = %q, want ***", p.Value)
	}
}

func TestSecretsMaskedInEnvFileErrors(t *testing.T) {
	file := writeFile(t, "proxy.env", "DB_PASSWORD pw-s3cret-1\n")

	_, err := loadEnv(t, []string{"--env-file", file})

	if err == nil {
		t.Fatal("Load accepted a line with white space in the name")
	}
	assertNoSecrets(t, "error", err.Error())
	if !strings.Contains(err.Error(), `"DB_PASSWORD"`) {
		t.Errorf("error %q does not name the variable", err)
	}
}

func TestSecretsMaskedInPositionalError(t *testing.T) {
	_, err := loadEnv(t, []string{"--db-password=", "flag-s3cret-4"})

	if err == nil {
		t.Fatal("Load accepted a positional argument")
	}
	assertNoSecrets(t, "error", err.Error())
}

func TestAttrsOrderAndValues(t *testing.T) {
	c := mustLoad(t, nil, "KEY_CACHE_TTL=90", "TRUSTED_PROXIES=10.0.0.0/8,::1")

	attrs := c.Attrs()
	settings := Settings()
	if len(attrs) != len(settings) {
		t.Fatalf("got %d attributes, want %d", len(attrs), len(settings))
	}
	values := map[string]string{}
	for i, attr := range attrs {
		if attr.Key != settings[i].Env {
			t.Errorf("attribute %d is %s, want %s", i, attr.Key, settings[i].Env)
		}
		values[attr.Key] = attr.Value.String()
	}

	want := map[string]string{
		"API_MODE":            "auto (graphql)",
		"KEY_CACHE_TTL":       "1m30s",
		"LOG_LEVEL":           "warn",
		"TRUSTED_PROXIES":     "10.0.0.0/8,::1/128",
		"DB_TYPE":             "sqlite",
		"DB_DATABASE":         DefaultSQLiteFile,
		"PORT":                "3000",
		"ALLOW_PUBLIC_ACCESS": "false",
		"API_SERVICE_URL":     "http://apollo:4200/graphql",
		"PUBLIC_URL":          "",
	}
	for key, value := range want {
		if values[key] != value {
			t.Errorf("%s = %q, want %q", key, values[key], value)
		}
	}
}

func TestUsageListsEverySetting(t *testing.T) {
	var b bytes.Buffer
	Usage(&b)
	help := b.String()

	for _, s := range Settings() {
		line := fmt.Sprintf("  --%s, %s (%s", s.Flag, s.Env, s.Unit)
		if !strings.Contains(help, line) {
			t.Errorf("help has no line starting %q", line)
		}
		if s.Default != "" && !strings.Contains(help, "default "+s.Default) {
			t.Errorf("help does not show the default of %s", s.Env)
		}
		if !strings.Contains(help, s.Help) {
			t.Errorf("help does not show the description of %s", s.Env)
		}
	}
	if !strings.Contains(help, "--env-file FILE") {
		t.Error("help does not list --env-file")
	}
	if !strings.Contains(help, "--db-password, DB_PASSWORD (text, secret)") {
		t.Error("help does not mark DB_PASSWORD as secret")
	}
}

func TestLoadDatabaseWithoutUpstream(t *testing.T) {
	c, err := LoadDatabase(nil, []string{"DB_DATABASE=/tmp/keys.db"})
	if err != nil {
		t.Fatalf("LoadDatabase without API_SERVICE_URL: %v", err)
	}
	if c.DatabaseType() != DatabaseSQLite || c.DBDatabase != "/tmp/keys.db" {
		t.Errorf("database = %s %q, want sqlite /tmp/keys.db", c.DatabaseType(), c.DBDatabase)
	}

	if _, err := LoadDatabase(nil, []string{"PORT=0"}); err == nil {
		t.Error("LoadDatabase accepted PORT=0: given settings must still be validated")
	}
	if _, err := Load(nil, nil); err == nil {
		t.Error("Load without API_SERVICE_URL: expected an error")
	}
}
