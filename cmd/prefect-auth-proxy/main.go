// Command prefect-auth-proxy puts per-user API keys and scopes in front of
// a self-hosted Prefect API. See the README for the settings and commands.
package main

import (
	"context"
	"os"

	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/cli"
)

func main() {
	os.Exit(cli.Run(context.Background(), cli.Env{
		Args:    os.Args[1:],
		Environ: os.Environ(),
		Stdout:  os.Stdout,
		Stderr:  os.Stderr,
	}))
}
