// Package cli implements the prefect-auth-proxy command line: serve (the
// default), keys, version and help.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// Version is the program version, set at build time with
// -ldflags "-X github.com/prefect-auth-proxy/prefect-auth-proxy/internal/cli.Version=v1.2.3".
var Version = "dev"

// Env holds what a command reads from its process: arguments, environment and
// standard streams. Tests build their own.
type Env struct {
	Args    []string // without the program name
	Environ []string // NAME=VALUE entries, as os.Environ returns them
	Stdout  io.Writer
	Stderr  io.Writer
}

// usageError is a command line mistake: the message is followed by a hint.
type usageError struct {
	message string
	hint    string
}

func (e *usageError) Error() string { return e.message }

// Run runs the command that args name and returns the process exit code:
// 0 on success, 1 when the command failed, 2 for a command line mistake.
func Run(ctx context.Context, env Env) int {
	err := dispatch(ctx, env)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}

	fmt.Fprintf(env.Stderr, "prefect-auth-proxy: %v\n", err)
	var usage *usageError
	if errors.As(err, &usage) {
		if usage.hint != "" {
			fmt.Fprintf(env.Stderr, "Try: %s\n", usage.hint)
		}
		return 2
	}
	return 1
}

func dispatch(ctx context.Context, env Env) error {
	command, args := "serve", env.Args
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		command, args = args[0], args[1:]
	}

	switch command {
	case "serve":
		return serve(ctx, env, args)
	case "keys":
		return keys(ctx, env, args)
	case "roles":
		return roles(env, args)
	case "version":
		fmt.Fprintf(env.Stdout, "prefect-auth-proxy %s\n", Version)
		return nil
	case "help":
		printUsage(env.Stdout)
		return nil
	}
	return &usageError{message: fmt.Sprintf("unknown command %q", command), hint: "prefect-auth-proxy help"}
}
