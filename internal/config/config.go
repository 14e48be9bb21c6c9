// Package config is the one place that reads the proxy's settings.
//
// Every setting has an environment variable, a flag and a default, all
// declared once in the settings table (see Settings). Load merges, from lowest
// to highest precedence: the defaults, env files given with --env-file, the
// process environment, and flags. The environment overrides an env file as
// docker run -e overrides docker run --env-file. An empty value counts as not
// set, so it leaves the lower source in place, as in the Node.js proxy where
// an empty variable fell back to its default.
//
// Load parses every value into its real type and reports every invalid
// setting in one *ValidationError. No other package reads the environment.
package config

import (
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DatabaseType is the database that holds the prefect_api_keys table.
type DatabaseType string

// Database types. DB_TYPE also accepts "postgresql" for DatabasePostgres,
// "mariadb" for DatabaseMySQL and "sqlite3" for DatabaseSQLite.
const (
	DatabaseSQLite   DatabaseType = "sqlite"
	DatabasePostgres DatabaseType = "postgres"
	DatabaseMySQL    DatabaseType = "mysql"
)

// DefaultSQLiteFile is the SQLite database file used when DB_TYPE is sqlite
// and DB_DATABASE is not set. A relative path is relative to the working
// directory.
const DefaultSQLiteFile = "prefect-auth-proxy.db"

// Default server ports used when DB_PORT is not set.
const (
	DefaultPostgresPort = 5432
	DefaultMySQLPort    = 3306
)

// Mode is the kind of Prefect API the proxy sits in front of.
type Mode string

// API modes. ModeAuto is only a setting value: Config.Mode resolves it to
// ModeGraphQL or ModeREST.
const (
	ModeAuto    Mode = "auto"
	ModeGraphQL Mode = "graphql" // Prefect 1 (Apollo GraphQL server).
	ModeREST    Mode = "rest"    // Prefect 2 and 3 (REST API).
)

// LogFormat is the output format of the process log.
type LogFormat string

// Log formats.
const (
	LogFormatText LogFormat = "text" // slog.TextHandler: key=value pairs.
	LogFormatJSON LogFormat = "json" // slog.JSONHandler: one JSON object per line.
)

// DenialStatus selects the HTTP status of a denied GraphQL request.
type DenialStatus string

// Denial statuses.
const (
	// DenialStatusOK sends every GraphQL denial with HTTP 200 and the reason in
	// the GraphQL "errors" array. The Prefect 1 client turns such a response
	// into a clean CLI message, but raises 401 and 403 as a plain
	// requests.HTTPError that most CLI commands show as a traceback.
	DenialStatusOK DenialStatus = "ok"
	// DenialStatusHTTP sends 401 for a missing or unknown key and 403 for a
	// missing scope, still with a GraphQL "errors" body.
	DenialStatusHTTP DenialStatus = "http"
)

// Config is the proxy's complete configuration. Load returns it validated,
// and Default returns the defaults. Each field names its environment variable.
// The URL fields are pointers shared between copies, so callers treat them as
// read-only.
type Config struct {
	// AllowPublicAccess forwards every request without checking for an API
	// key (ALLOW_PUBLIC_ACCESS, default false).
	AllowPublicAccess bool

	// TenantID is the Prefect tenant the proxy reports to the Prefect 1 CLI
	// and UI, in canonical lowercase UUID form (TENANT_ID). Empty means it is
	// taken from the upstream.
	TenantID string
	// TenantName is the tenant's display name (TENANT_NAME). Empty means it is
	// taken from the upstream.
	TenantName string
	// TenantSlug is the tenant's URL slug (TENANT_SLUG). Empty means it is
	// taken from the upstream.
	TenantSlug string

	// LogLevel is the minimum level of the process log (LOG_LEVEL, default
	// warn).
	LogLevel slog.Level
	// LogFormat is the process log format (LOG_FORMAT, default text).
	LogFormat LogFormat
	// LogLevelOverrideDuration is how long a level set through the
	// /logs/{level} endpoint lasts (LOG_LEVEL_OVERRIDE_DURATION, default 5m).
	LogLevelOverrideDuration time.Duration

	// APIServiceURL is the Prefect API the proxy forwards to
	// (API_SERVICE_URL, required): an absolute http or https URL without user
	// information. It is nil only in Default.
	APIServiceURL *url.URL
	// APIMode is the configured API mode (API_MODE, default auto). Use the
	// Mode method for the resolved mode.
	APIMode Mode
	// APIBasePath is the path prefix of the Prefect REST API (API_BASE_PATH,
	// default /api). It is a clean absolute path without a trailing slash.
	APIBasePath string
	// UpstreamAuthString is the Prefect server's "user:password" auth string
	// that REST mode sends upstream (UPSTREAM_AUTH_STRING, secret). Empty
	// means none.
	UpstreamAuthString string
	// UpstreamTimeout is how long the proxy waits for the upstream's response
	// headers (UPSTREAM_TIMEOUT, default 60s).
	UpstreamTimeout time.Duration

	// PreserveHost sends the client's Host header upstream (PRESERVE_HOST,
	// default true). False sends the upstream's host.
	PreserveHost bool
	// RequireKeyForUI requires an API key outside the REST API mount
	// (REQUIRE_KEY_FOR_UI, default false).
	RequireKeyForUI bool
	// PermittedRoutesJSON lists public REST routes per method
	// (PERMITTED_ROUTES_JSON). The server parses it at start-up.
	PermittedRoutesJSON string
	// PermittedRoutesFile is a file with more public REST routes in the same
	// form (PERMITTED_ROUTES_FILE).
	PermittedRoutesFile string
	// WebSocketCheckInterval is how often an open websocket's key is checked
	// again (WEBSOCKET_CHECK_INTERVAL, default 30s).
	WebSocketCheckInterval time.Duration

	// Host is the address the proxy listens on (HOST, default 0.0.0.0).
	Host string
	// Port is the TCP port the proxy listens on (PORT, default 3000).
	Port int
	// PublicURL is the absolute URL clients reach the proxy at (PUBLIC_URL).
	// Nil means not set.
	PublicURL *url.URL
	// Env is the deployment's environment name, shown in logs (ENV, default
	// NA).
	Env string

	// DBType is the database type (DB_TYPE). Load resolves an unset DB_TYPE to
	// sqlite, or to postgres when DB_HOST is set. It is empty only in Default,
	// and the DatabaseType method applies the same rule there.
	DBType DatabaseType
	// DBHost is the database server's host name, IP address or, for
	// PostgreSQL, socket directory (DB_HOST).
	DBHost string
	// DBPort is the database server's TCP port (DB_PORT). Load sets 5432 for
	// postgres and 3306 for mysql when it is not set, and leaves 0 for sqlite.
	DBPort int
	// DBUser is the database user (DB_USER).
	DBUser string
	// DBPassword is the database password (DB_PASSWORD, secret).
	DBPassword string
	// DBDatabase is the database name, or the file path for sqlite
	// (DB_DATABASE). Load sets DefaultSQLiteFile for sqlite when it is not
	// set.
	DBDatabase string
	// DBQueryTimeout bounds every key store query (DB_QUERY_TIMEOUT, default
	// 5s).
	DBQueryTimeout time.Duration
	// DBMaxOpenConns is the maximum number of open database connections
	// (DB_MAX_OPEN_CONNS, default 10).
	DBMaxOpenConns int

	// KeyCacheTTL is how long a found API key stays cached (KEY_CACHE_TTL,
	// default 30m).
	KeyCacheTTL time.Duration
	// KeyCacheNegativeTTL is how long an unknown API key stays cached as
	// unknown (KEY_CACHE_NEGATIVE_TTL, default 10s).
	KeyCacheNegativeTTL time.Duration
	// KeyCacheSize is the maximum number of cached keys (KEY_CACHE_SIZE,
	// default 10000).
	KeyCacheSize int

	// GraphQLDenialStatus is the HTTP status style for denied GraphQL requests
	// (GRAPHQL_DENIAL_STATUS, default ok).
	GraphQLDenialStatus DenialStatus
	// MaxBodyBytes is the maximum request body size in bytes (MAX_BODY_BYTES,
	// default 5 MiB, the limit of Prefect 1's Apollo server).
	MaxBodyBytes int64
	// AuditVariablesMaxBytes is the size in bytes that GraphQL variables are
	// cut to in audit events (AUDIT_VARIABLES_MAX_BYTES, default 2048).
	AuditVariablesMaxBytes int

	// ReadHeaderTimeout bounds reading a client's request headers
	// (READ_HEADER_TIMEOUT, default 10s).
	ReadHeaderTimeout time.Duration
	// IdleTimeout bounds an idle keep-alive client connection (IDLE_TIMEOUT,
	// default 120s).
	IdleTimeout time.Duration
	// ShutdownTimeout bounds the wait for open requests on shutdown
	// (SHUTDOWN_TIMEOUT, default 30s).
	ShutdownTimeout time.Duration

	// MetricsAddr is the host:port of the separate Prometheus metrics
	// listener (METRICS_ADDR). Empty means no metrics listener.
	MetricsAddr string
	// CORSAllowedOrigins lists the origins allowed to call the proxy from a
	// browser (CORS_ALLOWED_ORIGINS, default ["*"]). The single entry "*"
	// allows every origin.
	CORSAllowedOrigins []string
	// TrustedProxies lists the networks whose X-Forwarded-For header is
	// trusted (TRUSTED_PROXIES). Empty means none.
	TrustedProxies []netip.Prefix
}

// Default returns the configuration with every setting at its default. It is
// not valid as it is, because API_SERVICE_URL has no default.
func Default() Config {
	var c Config
	for _, s := range table {
		if s.Default == "" || s.computed {
			continue
		}

		err := s.bind.apply(&c, s.Default)
		if err != nil {
			// A default that does not parse is a bug in the table, and the
			// settings tests catch it.
			panic("config: default of " + s.Env + " is invalid: " + err.Error())
		}
	}
	return c
}

// DatabaseType returns DBType, or the type an unset DB_TYPE means: sqlite
// when DB_HOST is empty, postgres when it is set (as in the Node.js proxy).
func (c Config) DatabaseType() DatabaseType {
	switch {
	case c.DBType != "":
		return c.DBType
	case c.DBHost != "":
		return DatabasePostgres
	default:
		return DatabaseSQLite
	}
}

// Mode returns the API mode with auto resolved: GraphQL when the path of
// API_SERVICE_URL ends in "/graphql" (Prefect 1's Apollo endpoint), REST
// otherwise. A trailing slash after "/graphql" is ignored.
func (c Config) Mode() Mode {
	if c.APIMode == ModeGraphQL || c.APIMode == ModeREST {
		return c.APIMode
	}
	if c.APIServiceURL == nil {
		return ModeREST
	}

	path := strings.TrimSuffix(c.APIServiceURL.Path, "/")
	if strings.HasSuffix(path, "/graphql") {
		return ModeGraphQL
	}
	return ModeREST
}

// ListenAddr returns the host:port the proxy listens on, with an IPv6 host in
// brackets.
func (c Config) ListenAddr() string {
	return net.JoinHostPort(c.Host, strconv.Itoa(c.Port))
}

// resolveDatabase fills the database settings whose defaults depend on the
// database type.
func (c *Config) resolveDatabase() {
	c.DBType = c.DatabaseType()

	switch c.DBType {
	case DatabasePostgres:
		if c.DBPort == 0 {
			c.DBPort = DefaultPostgresPort
		}
	case DatabaseMySQL:
		if c.DBPort == 0 {
			c.DBPort = DefaultMySQLPort
		}
	case DatabaseSQLite:
		if c.DBDatabase == "" {
			c.DBDatabase = DefaultSQLiteFile
		}
	}
}
