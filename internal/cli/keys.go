package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/config"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/keystore"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/scope"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/server"
)

// defaultActor is written to creatd_by and last_updatd_by when no name is
// given on the command line. The columns hold at most 11 characters.
const defaultActor = "cli"

// keys runs a keys subcommand against the configured key store.
func keys(ctx context.Context, env Env, args []string) error {
	if len(args) == 0 {
		return &usageError{message: "keys needs a subcommand: create, list, revoke or hash-existing", hint: "prefect-auth-proxy help"}
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(env.Stdout)
		return flag.ErrHelp
	}

	subcommand, args := args[0], args[1:]
	switch subcommand {
	case "create":
		return createKey(ctx, env, args)
	case "list":
		return listKeys(ctx, env, args)
	case "revoke":
		return revokeKey(ctx, env, args)
	case "hash-existing":
		return hashExisting(ctx, env, args)
	}
	return &usageError{message: fmt.Sprintf("unknown keys subcommand %q", subcommand), hint: "prefect-auth-proxy help"}
}

// keysFlags is a FlagSet with the --env-file flag every keys subcommand
// takes, so that the database settings can come from a file.
type keysFlags struct {
	*flag.FlagSet
	envFiles []string
}

func newKeysFlags(name string, output io.Writer) *keysFlags {
	flags := &keysFlags{FlagSet: flag.NewFlagSet("keys "+name, flag.ContinueOnError)}
	flags.SetOutput(output)
	flags.Func("env-file", "read settings from `FILE` (as docker --env-file); repeatable", func(path string) error {
		flags.envFiles = append(flags.envFiles, path)
		return nil
	})
	return flags
}

// parse parses args and returns a usage error for a mistake or a
// positional argument.
func (f *keysFlags) parse(args []string) error {
	if err := f.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &usageError{message: err.Error(), hint: "prefect-auth-proxy help"}
	}
	if f.NArg() > 0 {
		return &usageError{message: fmt.Sprintf("unexpected argument %q", f.Arg(0)), hint: "prefect-auth-proxy help"}
	}
	return nil
}

// openStore loads the database settings and opens the key store, creating
// the table if it is missing: the keys commands are how a first key is made.
func (f *keysFlags) openStore(ctx context.Context, env Env) (keystore.Store, error) {
	var configArgs []string
	for _, path := range f.envFiles {
		configArgs = append(configArgs, "--env-file", path)
	}
	cfg, err := config.LoadDatabase(configArgs, env.Environ)
	if err != nil {
		return nil, &usageError{message: err.Error(), hint: "prefect-auth-proxy help"}
	}
	return server.OpenStore(ctx, cfg, true)
}

func createKey(ctx context.Context, env Env, args []string) error {
	flags := newKeysFlags("create", env.Stderr)
	userID := flags.String("user", "", "user id the key belongs to (required, at most 128 characters)")
	scopes := flags.String("scopes", "", `comma-separated scopes, e.g. "query/*, mutation/create_flow_run" (required)`)
	// One year when --expires is not given.
	expires := flags.String("expires", "365d", "lifetime (90d, 12h) or expiry date (2027-12-31 or RFC 3339), UTC")
	createdBy := flags.String("created-by", defaultActor, "name written to creatd_by (at most 11 characters)")
	replace := flags.Bool("replace", false, "overwrite the user's existing key")
	if err := flags.parse(args); err != nil {
		return err
	}

	now := time.Now().UTC().Truncate(time.Second)
	key, err := newKey(*userID, *scopes, *expires, *createdBy, now)
	if err != nil {
		return err
	}

	store, err := flags.openStore(ctx, env)
	if err != nil {
		return err
	}
	defer store.Close()

	secret, err := keystore.NewSecret()
	if err != nil {
		return fmt.Errorf("create key: %w", err)
	}
	if err := store.Create(ctx, key, secret, *replace); err != nil {
		if errors.Is(err, keystore.ErrExists) {
			return &usageError{message: fmt.Sprintf("create key: user %q already has a key", key.UserID), hint: "add --replace to overwrite it"}
		}
		return fmt.Errorf("create key: %w", err)
	}

	fmt.Fprintf(env.Stderr, "Created a key for %s, valid until %s UTC. It is shown only once:\n",
		key.UserID, key.ExpiresAt.Format(time.DateTime))
	fmt.Fprintln(env.Stdout, secret)
	return nil
}

// newKey checks the create flags and builds the row.
func newKey(userID, scopes, expires, createdBy string, now time.Time) (keystore.Key, error) {
	var problems []string
	if strings.TrimSpace(userID) == "" {
		problems = append(problems, "--user is missing")
	}
	if strings.TrimSpace(scopes) == "" {
		problems = append(problems, "--scopes is missing")
	}
	if _, scopeProblems := scope.Parse(scopes); len(scopeProblems) > 0 {
		for _, problem := range scopeProblems {
			problems = append(problems, "--scopes: "+problem.Error())
		}
	}
	expiresAt, err := parseExpiry(expires, now)
	if err != nil {
		problems = append(problems, err.Error())
	}
	if len(createdBy) > keystore.MaxAuditNameLength {
		problems = append(problems, fmt.Sprintf("--created-by %q is longer than %d characters", createdBy, keystore.MaxAuditNameLength))
	}
	if len(problems) > 0 {
		return keystore.Key{}, &usageError{message: "create key: " + strings.Join(problems, "; "), hint: "prefect-auth-proxy help"}
	}

	return keystore.Key{
		UserID: userID, Scopes: scopes, IssuedAt: now, ExpiresAt: expiresAt,
		CreatedAt: now, UpdatedAt: now, CreatedBy: createdBy, UpdatedBy: createdBy,
	}, nil
}

// parseExpiry reads a lifetime in days (90d) or a Go duration (12h), or an
// expiry date (2027-12-31, 2027-12-31 12:00:00 or RFC 3339), all in UTC.
func parseExpiry(text string, now time.Time) (time.Time, error) {
	text = strings.TrimSpace(text)
	if days, ok := strings.CutSuffix(text, "d"); ok {
		count, err := strconv.Atoi(days)
		if err == nil && count > 0 {
			return now.Add(time.Duration(count) * 24 * time.Hour), nil
		}
	}
	if lifetime, err := time.ParseDuration(text); err == nil && lifetime > 0 {
		return now.Add(lifetime), nil
	}
	for _, layout := range []string{time.DateOnly, time.DateTime, time.RFC3339} {
		if date, err := time.Parse(layout, text); err == nil {
			if !date.After(now) {
				return time.Time{}, fmt.Errorf("--expires %q is in the past", text)
			}
			return date.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("--expires %q is invalid: use days (90d), a duration (12h) or a date (2027-12-31)", text)
}

func listKeys(ctx context.Context, env Env, args []string) error {
	flags := newKeysFlags("list", env.Stderr)
	asJSON := flags.Bool("json", false, "print JSON instead of a table")
	if err := flags.parse(args); err != nil {
		return err
	}

	store, err := flags.openStore(ctx, env)
	if err != nil {
		return err
	}
	defer store.Close()

	rows, err := store.List(ctx)
	if err != nil {
		return fmt.Errorf("list keys: %w", err)
	}
	if *asJSON {
		return printKeysJSON(env.Stdout, rows)
	}
	return printKeysTable(env.Stdout, rows, time.Now())
}

type keyListing struct {
	UserID    string    `json:"user_id"`
	Scopes    string    `json:"scopes"`
	IssuedAt  time.Time `json:"issued_at"`
	ExpiresAt time.Time `json:"expires_at"`
	CreatedBy string    `json:"created_by"`
	UpdatedAt time.Time `json:"updated_at"`
	UpdatedBy string    `json:"updated_by"`
	Hashed    bool      `json:"hashed"`
	Valid     bool      `json:"valid"`
}

func printKeysJSON(w io.Writer, rows []keystore.Key) error {
	listing := make([]keyListing, len(rows))
	now := time.Now()
	for i, row := range rows {
		listing[i] = keyListing{
			UserID: row.UserID, Scopes: row.Scopes, IssuedAt: row.IssuedAt, ExpiresAt: row.ExpiresAt,
			CreatedBy: row.CreatedBy, UpdatedAt: row.UpdatedAt, UpdatedBy: row.UpdatedBy,
			Hashed: row.Hashed, Valid: row.ValidAt(now),
		}
	}
	encoder := json.NewEncoder(w)
	encoder.SetIndent("", "  ")
	return encoder.Encode(listing)
}

func printKeysTable(w io.Writer, rows []keystore.Key, now time.Time) error {
	table := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(table, "USER\tSTATUS\tEXPIRES (UTC)\tSTORED\tSCOPES")
	for _, row := range rows {
		status := "valid"
		switch {
		case !now.Before(row.ExpiresAt):
			status = "expired"
		case now.Before(row.IssuedAt):
			status = "not yet valid"
		}
		stored := "hashed"
		if !row.Hashed {
			stored = "plaintext"
		}
		fmt.Fprintf(table, "%s\t%s\t%s\t%s\t%s\n", row.UserID, status, row.ExpiresAt.Format(time.DateTime), stored, row.Scopes)
	}
	return table.Flush()
}

func revokeKey(ctx context.Context, env Env, args []string) error {
	flags := newKeysFlags("revoke", env.Stderr)
	userID := flags.String("user", "", "user whose key stops working now (required)")
	updatedBy := flags.String("updated-by", defaultActor, "name written to last_updatd_by (at most 11 characters)")
	if err := flags.parse(args); err != nil {
		return err
	}
	if *userID == "" {
		return &usageError{message: "keys revoke: --user is missing", hint: "prefect-auth-proxy keys revoke --user USER"}
	}
	if len(*updatedBy) > keystore.MaxAuditNameLength {
		return &usageError{message: fmt.Sprintf("keys revoke: --updated-by %q is longer than %d characters", *updatedBy, keystore.MaxAuditNameLength)}
	}

	store, err := flags.openStore(ctx, env)
	if err != nil {
		return err
	}
	defer store.Close()

	if err := store.Revoke(ctx, *userID, *updatedBy, time.Now().UTC()); err != nil {
		if errors.Is(err, keystore.ErrNotFound) {
			return fmt.Errorf("revoke key: user %q has no key", *userID)
		}
		return fmt.Errorf("revoke key: %w", err)
	}
	fmt.Fprintf(env.Stderr, "Revoked the key of %s. Running proxies stop accepting it within KEY_CACHE_TTL (default 30 minutes), or at once after DELETE /cache/%s on each of them.\n", *userID, *userID)
	return nil
}

func hashExisting(ctx context.Context, env Env, args []string) error {
	flags := newKeysFlags("hash-existing", env.Stderr)
	if err := flags.parse(args); err != nil {
		return err
	}

	store, err := flags.openStore(ctx, env)
	if err != nil {
		return err
	}
	defer store.Close()

	count, err := store.HashExisting(ctx)
	if err != nil {
		return fmt.Errorf("hash existing keys: %w", err)
	}
	fmt.Fprintf(env.Stderr, "Replaced %d plaintext keys by their SHA-256 hashes. The keys themselves keep working.\n", count)
	return nil
}
