package cli

import (
	"fmt"
	"io"

	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/config"
)

const commandsUsage = `prefect-auth-proxy: per-user API keys and scopes in front of the Prefect API
(Prefect 1 GraphQL, Prefect 2 and 3 REST).

Usage:
  prefect-auth-proxy [serve] [flags]     run the proxy (the default command)
  prefect-auth-proxy keys create --user USER --scopes SCOPES [--expires 365d|DATE] [--created-by NAME] [--replace]
                                         create a key; it is printed once and stored hashed
  prefect-auth-proxy keys list [--json]  list keys without their secrets
  prefect-auth-proxy keys revoke --user USER [--updated-by NAME]
                                         make the user's key expire now
  prefect-auth-proxy keys hash-existing  replace plaintext keys in the table by their hashes
  prefect-auth-proxy roles [--api-base-path /api] [--json]
                                         print the built-in REST roles and their routes
  prefect-auth-proxy version             print the version
  prefect-auth-proxy help                print this help

The keys commands select the database with the same DB_* settings as serve,
from the environment or from --env-file FILE.

Examples:
  API_SERVICE_URL=http://apollo:4200/graphql prefect-auth-proxy
  prefect-auth-proxy keys create --user alice --scopes "query/*, mutation/create_flow_run" --expires 90d

Flags override environment variables, which override files read with --env-file FILE.

`

func printUsage(w io.Writer) {
	fmt.Fprint(w, commandsUsage)
	config.Usage(w)
}
