package config

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// The parsers below return errors whose text completes the sentence
// "invalid SETTING "value" from SOURCE: ...", so they never repeat the value.

// parseBool accepts the strconv.ParseBool spellings plus yes/no and on/off,
// in any letter case. Unlike the Node.js proxy, which treated every non-empty
// string (even "false") as true, anything else is an error.
func parseBool(text string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(text)) {
	case "1", "t", "true", "yes", "on":
		return true, nil
	case "0", "f", "false", "no", "off":
		return false, nil
	}
	return false, errors.New("must be true or false (also accepted: 1/0, yes/no, on/off)")
}

// parseInt parses a whole number from minimum to maximum.
func parseInt(text string, minimum, maximum int64) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(text), 10, 64)
	if err != nil || n < minimum || n > maximum {
		if maximum == math.MaxInt64 || maximum == math.MaxInt {
			return 0, fmt.Errorf("must be a whole number of at least %d", minimum)
		}
		return 0, fmt.Errorf("must be a whole number from %d to %d", minimum, maximum)
	}
	return n, nil
}

// maxDurationSeconds is the largest whole number of seconds that fits in a
// time.Duration.
const maxDurationSeconds = math.MaxInt64 / int64(time.Second)

// parseDuration parses a Go duration ("90s", "30m", "1h30m") or a whole
// number of seconds ("300"), which is how the Node.js proxy read
// LOG_LEVEL_OVERRIDE_DURATION. The result must be positive.
func parseDuration(text string) (time.Duration, error) {
	text = strings.TrimSpace(text)
	invalid := errors.New("must be a positive duration such as 90s, 30m or 1h30m, or a whole number of seconds")

	seconds, err := strconv.ParseInt(text, 10, 64)
	if err == nil {
		if seconds <= 0 || seconds > maxDurationSeconds {
			return 0, invalid
		}
		return time.Duration(seconds) * time.Second, nil
	}

	d, err := time.ParseDuration(text)
	if err != nil || d <= 0 {
		return 0, invalid
	}
	return d, nil
}

// parseLogLevel accepts the four levels the proxy logs at, in any letter case.
func parseLogLevel(text string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(text)) {
	case "error":
		return slog.LevelError, nil
	case "warn":
		return slog.LevelWarn, nil
	case "info":
		return slog.LevelInfo, nil
	case "debug":
		return slog.LevelDebug, nil
	}
	return 0, errors.New("must be one of error, warn, info, debug")
}

// formatLogLevel returns the level in the spelling LOG_LEVEL accepts.
func formatLogLevel(level slog.Level) string {
	return strings.ToLower(level.String())
}

// parseTenantID accepts a UUID in any form uuid.Parse accepts and returns the
// canonical lowercase form that Prefect uses for tenant ids.
func parseTenantID(text string) (string, error) {
	id, err := uuid.Parse(strings.TrimSpace(text))
	if err != nil {
		return "", errors.New("must be a UUID such as 2a5b8e2c-4b1e-4f0e-9a51-3c0f3e6c7d21, or empty to take the tenant from the upstream")
	}
	return id.String(), nil
}

// parseHTTPURL parses an absolute http or https URL with a host. User
// information is rejected because it would end up in logs and
// httputil.ReverseProxy does not send it upstream anyway.
func parseHTTPURL(text, example string) (*url.URL, error) {
	invalid := fmt.Errorf("must be an absolute http or https URL with a host, e.g. %s", example)

	u, err := url.Parse(strings.TrimSpace(text))
	if err != nil {
		return nil, invalid
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, invalid
	}
	if u.Hostname() == "" {
		return nil, invalid
	}
	if u.User != nil {
		return nil, errors.New("must not contain a user name or password: remove them from the URL")
	}
	if u.Fragment != "" {
		return nil, errors.New("must not contain a fragment (#...): remove it from the URL")
	}
	return u, nil
}

// redactURL returns text with any password in it replaced by "xxxxx", for
// error messages about a URL that failed validation.
func redactURL(text string) string {
	u, err := url.Parse(strings.TrimSpace(text))
	if err != nil {
		// NOTE: a URL that does not parse is shown as given, so a password
		// inside such a malformed URL would appear in the error message.
		return text
	}
	return u.Redacted()
}

// parseBasePath accepts a clean absolute URL path such as /api.
func parseBasePath(text string) (string, error) {
	p := strings.TrimSpace(text)
	if !strings.HasPrefix(p, "/") || strings.ContainsAny(p, "?#") || path.Clean(p) != p {
		return "", errors.New("must be a clean absolute path such as /api: start with /, no trailing slash, no . or .. segments, no ? or #")
	}
	return p, nil
}

// parseHost accepts an IP address (an IPv6 address without brackets) or a
// DNS host name.
func parseHost(text string) (string, error) {
	host := strings.TrimSpace(text)
	if _, err := netip.ParseAddr(host); err == nil {
		return host, nil
	}
	if isHostName(host) {
		return host, nil
	}
	return "", errors.New("must be an IP address such as 0.0.0.0 or 127.0.0.1, or a host name")
}

// isHostName reports whether name is a DNS host name: dot-separated labels of
// 1 to 63 letters, digits and hyphens, 253 characters at most.
func isHostName(name string) bool {
	if name == "" || len(name) > 253 {
		return false
	}

	for _, label := range strings.Split(strings.TrimSuffix(name, "."), ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, r := range label {
			ok := r == '-' || ('0' <= r && r <= '9') || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z')
			if !ok {
				return false
			}
		}
	}
	return true
}

// parseListenAddr accepts host:port with a port from 1 to 65535. An empty
// host means every interface.
func parseListenAddr(text string) (string, error) {
	addr := strings.TrimSpace(text)
	invalid := errors.New("must be host:port with a port from 1 to 65535, such as 127.0.0.1:9100 or :9100")

	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", invalid
	}
	if host != "" {
		if _, err := parseHost(host); err != nil {
			return "", invalid
		}
	}
	if _, err := parseInt(port, 1, 65535); err != nil {
		return "", invalid
	}
	return addr, nil
}

// splitList splits a comma-separated list, trims spaces around each item and
// drops empty items.
func splitList(text string) []string {
	var items []string
	for _, item := range strings.Split(text, ",") {
		item = strings.TrimSpace(item)
		if item != "" {
			items = append(items, item)
		}
	}
	return items
}

// parseOrigins accepts "*" alone, or a list of browser origins
// (scheme://host[:port], no path), returned in lowercase because browsers send
// the Origin header in lowercase.
func parseOrigins(text string) ([]string, error) {
	items := splitList(text)
	if len(items) == 0 {
		return nil, errors.New(`must be "*" or a comma-separated list of origins such as https://prefect.example.com`)
	}

	var origins []string
	var bad []string
	for _, item := range items {
		if item == "*" {
			if len(items) > 1 {
				return nil, errors.New(`"*" allows every origin, so use it alone or list the origins without it`)
			}
			return []string{"*"}, nil
		}
		if !isOrigin(item) {
			bad = append(bad, strconv.Quote(item))
			continue
		}
		origins = append(origins, strings.ToLower(item))
	}

	if len(bad) > 0 {
		return nil, fmt.Errorf("each origin must be scheme://host[:port] with no path or trailing slash, such as https://prefect.example.com, and these are not: %s", strings.Join(bad, ", "))
	}
	return origins, nil
}

// isOrigin reports whether text is an http or https origin: scheme, host and
// an optional port, nothing else.
func isOrigin(text string) bool {
	u, err := url.Parse(text)
	if err != nil {
		return false
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return false
	}
	return u.Hostname() != "" && u.User == nil && u.Path == "" && u.RawQuery == "" && !u.ForceQuery && u.Fragment == ""
}

// parsePrefixes parses a comma-separated list of CIDR prefixes. A bare IP
// address counts as a prefix of that one address. Each prefix is returned
// masked, so 10.1.2.3/8 becomes 10.0.0.0/8.
func parsePrefixes(text string) ([]netip.Prefix, error) {
	var prefixes []netip.Prefix
	var bad []string
	for _, item := range splitList(text) {
		prefix, err := parsePrefix(item)
		if err != nil {
			bad = append(bad, strconv.Quote(item))
			continue
		}
		prefixes = append(prefixes, prefix)
	}

	if len(bad) > 0 {
		return nil, fmt.Errorf("each item must be a CIDR prefix such as 10.0.0.0/8 or fd00::/8, or a single IP address, and these are not: %s", strings.Join(bad, ", "))
	}
	return prefixes, nil
}

func parsePrefix(text string) (netip.Prefix, error) {
	if strings.Contains(text, "/") {
		prefix, err := netip.ParsePrefix(text)
		if err != nil {
			return netip.Prefix{}, err
		}
		return prefix.Masked(), nil
	}

	addr, err := netip.ParseAddr(text)
	if err != nil {
		return netip.Prefix{}, err
	}
	if addr.Zone() != "" {
		return netip.Prefix{}, errors.New("zoned address")
	}
	return netip.PrefixFrom(addr, addr.BitLen()), nil
}

// joinPrefixes returns prefixes in the comma-separated form TRUSTED_PROXIES
// accepts.
func joinPrefixes(prefixes []netip.Prefix) string {
	texts := make([]string, len(prefixes))
	for i, p := range prefixes {
		texts[i] = p.String()
	}
	return strings.Join(texts, ",")
}
