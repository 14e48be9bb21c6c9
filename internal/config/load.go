package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Load builds the configuration from args and environ and validates it.
//
// args holds only flags, without the program or command name. environ holds
// NAME=VALUE entries as os.Environ returns them. Precedence, from highest to
// lowest: flags, environ, the files given with --env-file (a later file
// overrides an earlier one), defaults. An empty value counts as not set.
//
// Load returns a *ValidationError that lists every invalid or missing setting
// at once. Other errors are returned on their own: an unknown flag, a
// positional argument, and an env file that cannot be read or parsed. For
// -h or --help the error wraps flag.ErrHelp, and the caller prints Usage.
func Load(args []string, environ []string) (Config, error) {
	return load(args, environ, true)
}

// LoadDatabase is Load for the commands that only use the key store, such
// as keys create: API_SERVICE_URL may be missing. Every setting that is
// given is still validated.
func LoadDatabase(args []string, environ []string) (Config, error) {
	return load(args, environ, false)
}

func load(args []string, environ []string, needUpstream bool) (Config, error) {
	flags, envFiles, err := parseFlags(args)
	if err != nil {
		return Config{}, err
	}

	environment := environMap(environ)
	fileValues, err := readEnvFiles(envFiles, environment)
	if err != nil {
		return Config{}, err
	}

	c := Default()
	var problems []Problem
	given := make(map[string]givenValue)
	for _, s := range table {
		v, ok := pickValue(s, flags, environment, fileValues)
		if !ok {
			continue
		}

		err := s.bind.apply(&c, v.text)
		if err != nil {
			problems = append(problems, s.invalid(v, err.Error()))
		}
		given[s.Env] = givenValue{sourcedValue: v, valid: err == nil}
	}

	if needUpstream {
		problems = append(problems, checkRequired(c, given)...)
	}
	problems = append(problems, checkDatabase(c, given)...)
	if len(problems) > 0 {
		sortProblems(problems)
		return Config{}, &ValidationError{Problems: problems}
	}

	c.resolveDatabase()
	return c, nil
}

// sourcedValue is a setting's raw text and where it came from.
type sourcedValue struct {
	text   string
	source string // Completes "from ...", e.g. "the environment".
}

// givenValue is a value a user set, and whether it parsed.
type givenValue struct {
	sourcedValue
	valid bool
}

// flagValue records a flag's raw text, so that a bad value is reported with
// all other problems instead of stopping flag parsing.
type flagValue struct {
	text   string
	set    bool
	isBool bool
}

func (v *flagValue) String() string {
	if v == nil {
		return ""
	}
	return v.text
}

func (v *flagValue) Set(text string) error {
	v.text = text
	v.set = true
	return nil
}

// IsBoolFlag lets a boolean flag stand alone, meaning true.
func (v *flagValue) IsBoolFlag() bool { return v.isBool }

// envFileList collects the values of a repeated --env-file flag.
type envFileList []string

func (l *envFileList) String() string { return strings.Join(*l, ",") }

func (l *envFileList) Set(path string) error {
	*l = append(*l, path)
	return nil
}

// parseFlags parses args into the flag values that were set, keyed by
// environment variable, and the env file paths in order.
func parseFlags(args []string) (map[string]sourcedValue, []string, error) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}

	values := make(map[string]*flagValue, len(table))
	for _, s := range table {
		v := &flagValue{isBool: s.bind.isBool}
		values[s.Env] = v
		fs.Var(v, s.Flag, s.Help)
	}
	var envFiles envFileList
	fs.Var(&envFiles, "env-file", envFileHelp)

	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		return nil, nil, fmt.Errorf("parse flags: %w", err)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("parse flags: %w (run with --help to list the settings)", err)
	}
	if fs.NArg() > 0 {
		// The argument itself is not shown, because it may be a password
		// written as "--db-password= secret".
		position := len(args) - fs.NArg() + 1
		return nil, nil, fmt.Errorf("parse flags: unexpected argument at position %d: only flags are accepted, and a boolean flag takes a value only as --flag=false", position)
	}

	set := make(map[string]sourcedValue)
	for _, s := range table {
		if v := values[s.Env]; v.set {
			set[s.Env] = sourcedValue{text: v.text, source: "flag --" + s.Flag}
		}
	}
	return set, envFiles, nil
}

// environMap turns NAME=VALUE entries into a map. The first entry for a name
// wins, as with os.Getenv on Unix.
func environMap(environ []string) map[string]string {
	m := make(map[string]string, len(environ))
	for _, entry := range environ {
		name, value, ok := strings.Cut(entry, "=")
		if !ok || name == "" {
			continue
		}
		if _, seen := m[name]; !seen {
			m[name] = value
		}
	}
	return m
}

// readEnvFiles reads the env files in order, so a later file overrides an
// earlier one. A line with only VAR takes VAR from environment.
func readEnvFiles(paths []string, environment map[string]string) (map[string]sourcedValue, error) {
	lookup := func(name string) (string, bool) {
		value, ok := environment[name]
		return value, ok
	}

	values := make(map[string]sourcedValue)
	for _, path := range paths {
		vars, err := readEnvFile(path, lookup)
		if err != nil {
			return nil, err
		}
		for _, v := range vars {
			values[v.Name] = sourcedValue{text: v.Value, source: fmt.Sprintf("env file %s line %d", path, v.Line)}
		}
	}
	return values, nil
}

// pickValue returns the value of the highest-precedence source that sets s to
// a non-empty value.
func pickValue(s Setting, flags map[string]sourcedValue, environment map[string]string, files map[string]sourcedValue) (sourcedValue, bool) {
	if v, ok := flags[s.Env]; ok && v.text != "" {
		return v, true
	}
	if text := environment[s.Env]; text != "" {
		return sourcedValue{text: text, source: "the environment"}, true
	}
	if v, ok := files[s.Env]; ok && v.text != "" {
		return v, true
	}
	return sourcedValue{}, false
}

// invalid returns the problem for a value of s, masked or redacted as s
// requires.
func (s Setting) invalid(v sourcedValue, reason string) Problem {
	value := v.text
	switch {
	case s.Secret:
		value = masked
	case s.bind.redact != nil:
		value = s.bind.redact(value)
	}
	return Problem{Setting: s.Env, Flag: s.Flag, Value: value, Source: v.source, Reason: reason}
}

// missing returns the problem for a required setting that is not set. reason
// completes "SETTING (--flag) ...".
func (s Setting) missing(reason string) Problem {
	return Problem{Setting: s.Env, Flag: s.Flag, Reason: reason}
}

// lookupSetting returns the table entry for an environment variable that is
// known to be in the table.
func lookupSetting(env string) Setting {
	i := slices.IndexFunc(table, func(s Setting) bool { return s.Env == env })
	return table[i]
}

// checkRequired reports required settings that were not given at all. A
// required setting given with an invalid value is already reported.
func checkRequired(c Config, given map[string]givenValue) []Problem {
	var problems []Problem
	if _, ok := given["API_SERVICE_URL"]; !ok && c.APIServiceURL == nil {
		problems = append(problems, lookupSetting("API_SERVICE_URL").missing(
			"is missing: set it to the Prefect API URL, e.g. http://apollo:4200/graphql"))
	}
	return problems
}

// checkDatabase reports database settings that do not fit the database type.
func checkDatabase(c Config, given map[string]givenValue) []Problem {
	if v, ok := given["DB_TYPE"]; ok && !v.valid {
		// The type is unknown, so nothing can be checked against it.
		return nil
	}

	dbType := c.DatabaseType()
	var problems []Problem
	switch dbType {
	case DatabaseSQLite:
		reason := "DB_TYPE is sqlite, which uses a local file and no server: remove %s, or set DB_TYPE to postgres or mysql"
		if _, ok := given["DB_TYPE"]; !ok {
			reason = "the database is sqlite because neither DB_TYPE nor DB_HOST is set: set DB_HOST (and DB_TYPE=mysql for MySQL), or remove %s"
		}
		for _, env := range []string{"DB_HOST", "DB_PORT"} {
			if v, ok := given[env]; ok && v.valid {
				problems = append(problems, lookupSetting(env).invalid(v.sourcedValue, fmt.Sprintf(reason, env)))
			}
		}

	case DatabasePostgres, DatabaseMySQL:
		if c.DBHost == "" {
			problems = append(problems, lookupSetting("DB_HOST").missing(
				fmt.Sprintf("is missing: DB_TYPE %s needs the database server's host name or IP address", dbType)))
		}
		if dbType == DatabaseMySQL && c.DBDatabase == "" {
			problems = append(problems, lookupSetting("DB_DATABASE").missing(
				"is missing: DB_TYPE mysql needs the name of the database that holds the prefect_api_keys table"))
		}
	}
	return problems
}

// sortProblems puts problems in settings table order, keeping the order of
// problems about the same setting.
func sortProblems(problems []Problem) {
	position := make(map[string]int, len(table))
	for i, s := range table {
		position[s.Env] = i
	}
	slices.SortStableFunc(problems, func(a, b Problem) int {
		return position[a.Setting] - position[b.Setting]
	})
}
