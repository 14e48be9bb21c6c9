package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// serveUpstream runs the fake Prefect upstream until ctx ends.
func serveUpstream(ctx context.Context, args []string, stderr io.Writer) error {
	flags := flag.NewFlagSet("upstream", flag.ContinueOnError)
	flags.SetOutput(stderr)
	listen := flags.String("listen", "127.0.0.1:4200", "loopback `host:port` to listen on")
	if err := parseFlags(flags, args); err != nil {
		return err
	}

	return serveLoopback(ctx, *listen, newUpstreamHandler())
}

// serveReverseProxy runs the bare ReverseProxy until ctx ends.
func serveReverseProxy(ctx context.Context, args []string, stderr io.Writer) error {
	flags := flag.NewFlagSet("reverseproxy", flag.ContinueOnError)
	flags.SetOutput(stderr)
	listen := flags.String("listen", "127.0.0.1:4300", "loopback `host:port` to listen on")
	targetText := flags.String("target", "", "upstream `URL` to forward to, e.g. http://127.0.0.1:4200/graphql (required)")
	if err := parseFlags(flags, args); err != nil {
		return err
	}

	target, err := url.Parse(*targetText)
	if err != nil || target.Host == "" || (target.Scheme != "http" && target.Scheme != "https") {
		return usageError(fmt.Sprintf("--target %q is invalid: give an absolute http URL such as http://127.0.0.1:4200/graphql", *targetText))
	}
	return serveLoopback(ctx, *listen, newBareProxy(target))
}

func parseFlags(flags *flag.FlagSet, args []string) error {
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError(err.Error())
	}
	if flags.NArg() > 0 {
		return usageError(fmt.Sprintf("unexpected argument %q", flags.Arg(0)))
	}
	return nil
}

// serveLoopback serves handler on a loopback address until ctx ends, then
// shuts down within 5 s. Other addresses are rejected, because the load
// test must not send traffic off the machine.
func serveLoopback(ctx context.Context, address string, handler http.Handler) error {
	if err := checkLoopback(address); err != nil {
		return err
	}

	listener, err := net.Listen("tcp", address)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", address, err)
	}
	server := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}

	failed := make(chan error, 1)
	go func() { failed <- server.Serve(listener) }()

	select {
	case err := <-failed:
		return fmt.Errorf("serve on %s: %w", address, err)
	case <-ctx.Done():
	}

	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := server.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shut down server on %s: %w", address, err)
	}
	return nil
}

// checkLoopback returns a usage error unless address is an IP loopback
// address with a port, or localhost with a port.
func checkLoopback(address string) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return usageError(fmt.Sprintf("--listen %q is invalid: %v", address, err))
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return usageError(fmt.Sprintf("--listen %q is not a loopback address: use 127.0.0.1:PORT or [::1]:PORT", address))
	}
	return nil
}
