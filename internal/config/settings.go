package config

import (
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Setting describes one configuration setting: the one table entry from which
// the help text, the flag, the environment lookup, parsing and log output are
// all derived.
type Setting struct {
	// Env is the environment variable, e.g. "PORT".
	Env string
	// Flag is the flag name without dashes, e.g. "port": Env in lowercase with
	// "_" replaced by "-".
	Flag string
	// Default is the default value as text. Empty means no default. When the
	// default depends on other settings it is a description, not a value.
	Default string
	// Unit is the value's type and unit as shown in help, e.g. "duration".
	Unit string
	// Help is the description of what the setting does, in one or more
	// sentences.
	Help string
	// Secret marks a value that logs, printed configs and errors mask.
	Secret bool

	// computed marks a Default that is a description resolved by Load.
	computed bool
	bind     binding
}

// binding connects a setting to its Config field.
type binding struct {
	isBool bool
	// apply parses text and stores the result in the field.
	apply func(c *Config, text string) error
	// value returns the field's current value for logs.
	value func(c *Config) slog.Value
	// redact, when set, rewrites an invalid value before it appears in an
	// error message.
	redact func(text string) string
}

// field binds a Config field of any type through a parser and a log
// formatter.
func field[T any](get func(*Config) *T, parse func(string) (T, error), format func(T) slog.Value) binding {
	return binding{
		apply: func(c *Config, text string) error {
			v, err := parse(text)
			if err != nil {
				return err
			}
			*get(c) = v
			return nil
		},
		value: func(c *Config) slog.Value { return format(*get(c)) },
	}
}

func boolField(get func(*Config) *bool) binding {
	b := field(get, parseBool, slog.BoolValue)
	b.isBool = true
	return b
}

func textField(get func(*Config) *string) binding {
	parse := func(text string) (string, error) { return text, nil }
	return field(get, parse, slog.StringValue)
}

func intField(get func(*Config) *int, minimum, maximum int) binding {
	parse := func(text string) (int, error) {
		n, err := parseInt(text, int64(minimum), int64(maximum))
		return int(n), err
	}
	return field(get, parse, slog.IntValue)
}

func int64Field(get func(*Config) *int64, minimum, maximum int64) binding {
	parse := func(text string) (int64, error) { return parseInt(text, minimum, maximum) }
	return field(get, parse, slog.Int64Value)
}

func durationField(get func(*Config) *time.Duration) binding {
	// The log shows "30m0s" rather than slog's nanosecond count.
	format := func(d time.Duration) slog.Value { return slog.StringValue(d.String()) }
	return field(get, parseDuration, format)
}

func urlField(get func(*Config) **url.URL, example string) binding {
	parse := func(text string) (*url.URL, error) { return parseHTTPURL(text, example) }
	format := func(u *url.URL) slog.Value {
		if u == nil {
			return slog.StringValue("")
		}
		return slog.StringValue(u.Redacted())
	}
	b := field(get, parse, format)
	b.redact = redactURL
	return b
}

// choiceField binds a field that takes one of a fixed set of names, in any
// letter case. aliases maps further accepted spellings to a name.
func choiceField[T ~string](get func(*Config) *T, names []T, aliases map[string]T) binding {
	parse := func(text string) (T, error) {
		text = strings.ToLower(strings.TrimSpace(text))
		for _, name := range names {
			if text == string(name) {
				return name, nil
			}
		}
		if name, ok := aliases[text]; ok {
			return name, nil
		}
		return "", fmt.Errorf("must be one of %s", joinChoices(names, aliases))
	}
	format := func(v T) slog.Value { return slog.StringValue(string(v)) }
	return field(get, parse, format)
}

func joinChoices[T ~string](names []T, aliases map[string]T) string {
	texts := make([]string, len(names))
	for i, name := range names {
		texts[i] = string(name)
	}
	list := strings.Join(texts, ", ")
	if len(aliases) == 0 {
		return list
	}

	others := make([]string, 0, len(aliases))
	for alias := range aliases {
		others = append(others, alias)
	}
	slices.Sort(others)
	return list + " (also accepted: " + strings.Join(others, ", ") + ")"
}

// table is the list of settings, in the order of help and log output.
var table = withFlags([]Setting{
	{
		Env: "ALLOW_PUBLIC_ACCESS", Default: "false", Unit: "boolean",
		Help: "Forward every request without checking for an API key. Only for trusted networks.",
		bind: boolField(func(c *Config) *bool { return &c.AllowPublicAccess }),
	},
	{
		Env: "TENANT_ID", Unit: "UUID",
		Help: "Prefect tenant id reported to the Prefect 1 CLI and UI. Empty takes it from the upstream.",
		bind: field(func(c *Config) *string { return &c.TenantID }, parseTenantID, slog.StringValue),
	},
	{
		Env: "TENANT_NAME", Unit: "text",
		Help: "Prefect tenant name. Empty takes it from the upstream.",
		bind: textField(func(c *Config) *string { return &c.TenantName }),
	},
	{
		Env: "TENANT_SLUG", Unit: "text",
		Help: "Prefect tenant slug. Empty takes it from the upstream.",
		bind: textField(func(c *Config) *string { return &c.TenantSlug }),
	},
	{
		Env: "LOG_LEVEL", Default: "warn", Unit: "error|warn|info|debug",
		Help: "Minimum level of the process log.",
		bind: field(func(c *Config) *slog.Level { return &c.LogLevel }, parseLogLevel,
			func(l slog.Level) slog.Value { return slog.StringValue(formatLogLevel(l)) }),
	},
	{
		Env: "LOG_FORMAT", Default: "text", Unit: "text|json",
		Help: "Format of the process log: text (key=value pairs) or json (one object per line).",
		bind: choiceField(func(c *Config) *LogFormat { return &c.LogFormat },
			[]LogFormat{LogFormatText, LogFormatJSON}, nil),
	},
	{
		Env: "LOG_LEVEL_OVERRIDE_DURATION", Default: "300", Unit: "duration",
		Help: "How long a log level set through POST /logs/{level} lasts before LOG_LEVEL applies again.",
		bind: durationField(func(c *Config) *time.Duration { return &c.LogLevelOverrideDuration }),
	},
	{
		Env: "API_SERVICE_URL", Unit: "URL",
		Help: "Prefect API URL to forward to (required), e.g. http://apollo:4200/graphql for Prefect 1 or http://prefect-server:4200 for Prefect 2 and 3.",
		bind: urlField(func(c *Config) **url.URL { return &c.APIServiceURL }, "http://apollo:4200/graphql"),
	},
	{
		Env: "API_MODE", Default: "auto", Unit: "auto|graphql|rest",
		Help: "API kind: graphql (Prefect 1) or rest (Prefect 2 and 3). auto picks graphql when the API_SERVICE_URL path ends in /graphql, rest otherwise.",
		bind: modeField(),
	},
	{
		Env: "API_BASE_PATH", Default: "/api", Unit: "path",
		Help: "Path prefix of the Prefect REST API, used in rest mode.",
		bind: field(func(c *Config) *string { return &c.APIBasePath }, parseBasePath, slog.StringValue),
	},
	{
		Env: "UPSTREAM_AUTH_STRING", Unit: "text", Secret: true,
		Help: "Prefect server auth string (user:password) sent upstream in rest mode. Empty sends none.",
		bind: textField(func(c *Config) *string { return &c.UpstreamAuthString }),
	},
	{
		Env: "UPSTREAM_TIMEOUT", Default: "60s", Unit: "duration",
		Help: "How long to wait for the upstream's response headers.",
		bind: durationField(func(c *Config) *time.Duration { return &c.UpstreamTimeout }),
	},
	{
		Env: "PRESERVE_HOST", Default: "true", Unit: "boolean",
		Help: "Send the client's Host header upstream, because Prefect 2 and 3 build absolute links from it. false sends the host of API_SERVICE_URL.",
		bind: boolField(func(c *Config) *bool { return &c.PreserveHost }),
	},
	{
		Env: "REQUIRE_KEY_FOR_UI", Default: "false", Unit: "boolean",
		Help: "In rest mode, require an API key for the UI's pages and files too (everything outside API_BASE_PATH). The browser is then asked for Basic credentials.",
		bind: boolField(func(c *Config) *bool { return &c.RequireKeyForUI }),
	},
	{
		Env: "PERMITTED_ROUTES_JSON", Unit: "JSON",
		Help: `Routes forwarded without a key in rest mode, per method, e.g. {"GET": ["api/flows/*"]}. The globs are those of route scopes.`,
		bind: textField(func(c *Config) *string { return &c.PermittedRoutesJSON }),
	},
	{
		Env: "PERMITTED_ROUTES_FILE", Unit: "path",
		Help: "File holding PERMITTED_ROUTES_JSON. Both may be set; their routes add up.",
		bind: textField(func(c *Config) *string { return &c.PermittedRoutesFile }),
	},
	{
		Env: "WEBSOCKET_CHECK_INTERVAL", Default: "30s", Unit: "duration",
		Help: "How often an open websocket's API key is checked again. A revoked or expired key's sockets close within this interval plus KEY_CACHE_TTL.",
		bind: durationField(func(c *Config) *time.Duration { return &c.WebSocketCheckInterval }),
	},
	{
		Env: "HOST", Default: "0.0.0.0", Unit: "IP address or host name",
		Help: "Address the proxy listens on. 0.0.0.0 listens on every interface.",
		bind: field(func(c *Config) *string { return &c.Host }, parseHost, slog.StringValue),
	},
	{
		Env: "PORT", Default: "3000", Unit: "port",
		Help: "TCP port the proxy listens on, from 1 to 65535.",
		bind: intField(func(c *Config) *int { return &c.Port }, 1, 65535),
	},
	{
		Env: "PUBLIC_URL", Unit: "URL",
		Help: "Absolute URL clients reach the proxy at, e.g. https://prefect.example.com. Optional.",
		bind: urlField(func(c *Config) **url.URL { return &c.PublicURL }, "https://prefect.example.com"),
	},
	{
		Env: "ENV", Default: "NA", Unit: "text",
		Help: "Name of the deployment environment, shown in logs.",
		bind: textField(func(c *Config) *string { return &c.Env }),
	},
	{
		Env: "DB_TYPE", Default: "sqlite, or postgres when DB_HOST is set", Unit: "sqlite|postgres|mysql", computed: true,
		Help: "Database holding the prefect_api_keys table. postgresql, mariadb and sqlite3 are accepted too.",
		bind: choiceField(func(c *Config) *DatabaseType { return &c.DBType },
			[]DatabaseType{DatabaseSQLite, DatabasePostgres, DatabaseMySQL},
			map[string]DatabaseType{"sqlite3": DatabaseSQLite, "postgresql": DatabasePostgres, "mariadb": DatabaseMySQL}),
	},
	{
		Env: "DB_HOST", Unit: "text",
		Help: "Database server host name or IP address (for postgres also a socket directory). Required for postgres and mysql.",
		bind: textField(func(c *Config) *string { return &c.DBHost }),
	},
	{
		Env: "DB_PORT", Default: "5432 for postgres, 3306 for mysql", Unit: "port", computed: true,
		Help: "Database server TCP port, from 1 to 65535.",
		bind: intField(func(c *Config) *int { return &c.DBPort }, 1, 65535),
	},
	{
		Env: "DB_USER", Unit: "text",
		Help: "Database user.",
		bind: textField(func(c *Config) *string { return &c.DBUser }),
	},
	{
		Env: "DB_PASSWORD", Unit: "text", Secret: true,
		Help: "Database password.",
		bind: textField(func(c *Config) *string { return &c.DBPassword }),
	},
	{
		Env: "DB_DATABASE", Default: DefaultSQLiteFile + " for sqlite", Unit: "text", computed: true,
		Help: "Database name, or the database file path for sqlite. Required for mysql. For postgres, empty means the server's default (a database named like the user).",
		bind: textField(func(c *Config) *string { return &c.DBDatabase }),
	},
	{
		Env: "DB_QUERY_TIMEOUT", Default: "5s", Unit: "duration",
		Help: "Maximum time for one key store query.",
		bind: durationField(func(c *Config) *time.Duration { return &c.DBQueryTimeout }),
	},
	{
		Env: "DB_MAX_OPEN_CONNS", Default: "10", Unit: "connections",
		Help: "Maximum number of open database connections, at least 1.",
		bind: intField(func(c *Config) *int { return &c.DBMaxOpenConns }, 1, math.MaxInt),
	},
	{
		Env: "KEY_CACHE_TTL", Default: "30m", Unit: "duration",
		Help: "How long a found API key stays cached before it is looked up again.",
		bind: durationField(func(c *Config) *time.Duration { return &c.KeyCacheTTL }),
	},
	{
		Env: "KEY_CACHE_NEGATIVE_TTL", Default: "10s", Unit: "duration",
		Help: "How long an unknown API key stays cached as unknown.",
		bind: durationField(func(c *Config) *time.Duration { return &c.KeyCacheNegativeTTL }),
	},
	{
		Env: "KEY_CACHE_SIZE", Default: "10000", Unit: "entries",
		Help: "Maximum number of cached API keys, at least 1.",
		bind: intField(func(c *Config) *int { return &c.KeyCacheSize }, 1, math.MaxInt),
	},
	{
		Env: "GRAPHQL_DENIAL_STATUS", Default: "ok", Unit: "ok|http",
		Help: "HTTP status of a denied GraphQL request. ok sends 200 with a GraphQL error, which the Prefect 1 CLI prints as a clean message. http sends 401 or 403, which most Prefect 1 CLI commands show as a traceback.",
		bind: choiceField(func(c *Config) *DenialStatus { return &c.GraphQLDenialStatus },
			[]DenialStatus{DenialStatusOK, DenialStatusHTTP}, nil),
	},
	{
		Env: "MAX_BODY_BYTES", Default: "5242880", Unit: "bytes",
		Help: "Maximum request body size. The default, 5 MiB, is the limit of Prefect 1's Apollo server.",
		bind: int64Field(func(c *Config) *int64 { return &c.MaxBodyBytes }, 1, math.MaxInt64),
	},
	{
		Env: "AUDIT_VARIABLES_MAX_BYTES", Default: "2048", Unit: "bytes",
		Help: "GraphQL variables in audit events are cut to this size. 0 keeps none.",
		bind: intField(func(c *Config) *int { return &c.AuditVariablesMaxBytes }, 0, math.MaxInt),
	},
	{
		Env: "READ_HEADER_TIMEOUT", Default: "10s", Unit: "duration",
		Help: "Maximum time for a client to send its request headers.",
		bind: durationField(func(c *Config) *time.Duration { return &c.ReadHeaderTimeout }),
	},
	{
		Env: "IDLE_TIMEOUT", Default: "120s", Unit: "duration",
		Help: "Maximum time an idle keep-alive client connection stays open.",
		bind: durationField(func(c *Config) *time.Duration { return &c.IdleTimeout }),
	},
	{
		Env: "SHUTDOWN_TIMEOUT", Default: "30s", Unit: "duration",
		Help: "Maximum time to wait for open requests to finish on shutdown.",
		bind: durationField(func(c *Config) *time.Duration { return &c.ShutdownTimeout }),
	},
	{
		Env: "METRICS_ADDR", Unit: "host:port",
		Help: "Address of a separate listener for Prometheus metrics, e.g. 127.0.0.1:9100. Empty serves no metrics.",
		bind: field(func(c *Config) *string { return &c.MetricsAddr }, parseListenAddr, slog.StringValue),
	},
	{
		Env: "CORS_ALLOWED_ORIGINS", Default: "*", Unit: "list",
		Help: "Comma-separated origins allowed to call the proxy from a browser, e.g. https://prefect.example.com. * allows every origin.",
		bind: field(func(c *Config) *[]string { return &c.CORSAllowedOrigins }, parseOrigins,
			func(origins []string) slog.Value { return slog.StringValue(strings.Join(origins, ",")) }),
	},
	{
		Env: "TRUSTED_PROXIES", Unit: "list",
		Help: "Comma-separated CIDR prefixes or IP addresses of proxies whose X-Forwarded-For, X-Forwarded-Host and X-Forwarded-Proto headers are trusted and passed upstream. Empty trusts none.",
		bind: field(func(c *Config) *[]netip.Prefix { return &c.TrustedProxies }, parsePrefixes,
			func(prefixes []netip.Prefix) slog.Value { return slog.StringValue(joinPrefixes(prefixes)) }),
	},
})

// modeField binds API_MODE. Its log value also shows what auto resolved to.
func modeField() binding {
	b := choiceField(func(c *Config) *Mode { return &c.APIMode },
		[]Mode{ModeAuto, ModeGraphQL, ModeREST}, nil)
	b.value = func(c *Config) slog.Value {
		if c.APIMode == ModeAuto {
			return slog.StringValue(fmt.Sprintf("auto (%s)", c.Mode()))
		}
		return slog.StringValue(string(c.APIMode))
	}
	return b
}

// withFlags sets each setting's flag name from its environment variable.
func withFlags(settings []Setting) []Setting {
	for i := range settings {
		settings[i].Flag = strings.ReplaceAll(strings.ToLower(settings[i].Env), "_", "-")
	}
	return settings
}

// Settings returns every setting, in the order of help and log output.
func Settings() []Setting {
	return slices.Clone(table)
}

// envFileHelp describes --env-file, the one flag that is not a setting.
const envFileHelp = "Read settings from FILE as docker run --env-file does: one VAR=VALUE per line, " +
	"# starts a comment line, quotes are part of the value, and a line with only VAR takes VAR from the environment. " +
	"May be repeated, and a later file overrides an earlier one."

// Usage writes the help for every setting: flag, environment variable, unit,
// default and description.
func Usage(w io.Writer) {
	fmt.Fprintf(w, "Settings (flag, environment variable, unit, default):\n\n")
	fmt.Fprintf(w, "  --env-file FILE\n      %s\n\n", envFileHelp)

	for _, s := range table {
		fmt.Fprintf(w, "  --%s, %s (%s", s.Flag, s.Env, s.Unit)
		if s.Secret {
			fmt.Fprint(w, ", secret")
		}
		if s.Default != "" {
			fmt.Fprintf(w, ", default %s", s.Default)
		}
		fmt.Fprintf(w, ")\n      %s\n\n", s.Help)
	}

	fmt.Fprint(w, "Precedence, from highest to lowest: flags, environment variables, env files, defaults.\n"+
		"An empty value counts as not set.\n"+
		"A flag takes its value as --flag=value or --flag value. A boolean flag alone means true, so write --flag=false to turn it off.\n"+
		"A boolean is true or false, and 1/0, yes/no and on/off are accepted too.\n"+
		"A duration is a Go duration such as 90s, 30m or 1h30m, or a whole number of seconds.\n")
}

// masked replaces the value of a secret setting in logs and printed configs.
const masked = "***"

// Attrs returns the configuration as one log attribute per setting, keyed by
// environment variable, with secrets replaced by "***".
func (c Config) Attrs() []slog.Attr {
	attrs := make([]slog.Attr, 0, len(table))
	for _, s := range table {
		attrs = append(attrs, slog.Attr{Key: s.Env, Value: s.logValue(c)})
	}
	return attrs
}

// LogValue implements slog.LogValuer, so logging a Config logs Attrs as a
// group.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(c.Attrs()...)
}

// String formats the configuration as space-separated KEY=value pairs with
// secrets masked, so fmt's %v and %+v never print a password.
func (c Config) String() string {
	var b strings.Builder
	b.WriteString("config.Config{")
	for i, attr := range c.Attrs() {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%q", attr.Key, attr.Value.String())
	}
	b.WriteByte('}')
	return b.String()
}

// GoString returns String, so fmt's %#v masks secrets too.
func (c Config) GoString() string {
	return c.String()
}

func (s Setting) logValue(c Config) slog.Value {
	v := s.bind.value(&c)
	if s.Secret && v.String() != "" {
		return slog.StringValue(masked)
	}
	return v
}
