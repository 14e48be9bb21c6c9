// Command loadtest measures the throughput and latency of prefect-auth-proxy
// with wrk on loopback, next to two baselines: a fake Prefect upstream
// alone, and a bare httputil.ReverseProxy in front of that upstream. The
// fake upstream serves Prefect 1 GraphQL and Prefect 2/3 REST in one
// server. GraphQL and REST mode each get their own bare ReverseProxy and
// proxy process.
//
// Usage:
//
//	loadtest run --proxy-binary PATH [flags]           run every measurement, print a Markdown report
//	loadtest upstream --listen ADDR                    serve the fake Prefect upstream
//	loadtest reverseproxy --listen ADDR --target URL   serve the bare ReverseProxy
//
// run starts the other two subcommands and the proxy as separate processes,
// so each has its own Go runtime as in a deployment, and all of them share
// the machine's cores with wrk. bench/loadtest.sh builds the binaries and
// calls run.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := runCommand(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `Usage:
  loadtest run --proxy-binary PATH [flags]           run every measurement, print a Markdown report
  loadtest upstream --listen ADDR                    serve the fake Prefect upstream
  loadtest reverseproxy --listen ADDR --target URL   serve the bare ReverseProxy

Run "loadtest COMMAND -h" for the flags of a command.
`

// runCommand runs the subcommand that args name and returns the exit code:
// 0 on success, 1 when the command failed, 2 for a command line mistake.
func runCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}

	var err error
	switch args[0] {
	case "run":
		err = runLoadTest(ctx, args[1:], stdout, stderr)
	case "upstream":
		err = serveUpstream(ctx, args[1:], stderr)
	case "reverseproxy":
		err = serveReverseProxy(ctx, args[1:], stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "loadtest: unknown command %q\n%s", args[0], usage)
		return 2
	}

	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, new(usageError)):
		fmt.Fprintf(stderr, "loadtest: %v\n", err)
		return 2
	default:
		fmt.Fprintf(stderr, "loadtest: %v\n", err)
		return 1
	}
}

// usageError is a command line mistake.
type usageError string

func (e usageError) Error() string { return string(e) }
