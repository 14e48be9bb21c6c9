package cli

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/prefect"
)

// roles prints the built-in REST roles and the routes each allows.
func roles(env Env, args []string) error {
	flags := flag.NewFlagSet("roles", flag.ContinueOnError)
	flags.SetOutput(env.Stderr)
	basePath := flags.String("api-base-path", "/api", "API mount the routes are printed under (API_BASE_PATH)")
	asJSON := flags.Bool("json", false, "print JSON instead of text")
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &usageError{message: err.Error(), hint: "prefect-auth-proxy help"}
	}
	if flags.NArg() > 0 {
		return &usageError{message: fmt.Sprintf("unexpected argument %q", flags.Arg(0)), hint: "prefect-auth-proxy help"}
	}

	list := prefect.RolesUnder(*basePath)
	if *asJSON {
		encoder := json.NewEncoder(env.Stdout)
		encoder.SetIndent("", "  ")
		return encoder.Encode(list)
	}
	printRoles(env.Stdout, list)
	return nil
}

func printRoles(w io.Writer, list []prefect.Role) {
	for i, role := range list {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "role/%s (route classes: %s)\n  %s\n", role.Name, role.Classes, role.Description)
		for _, route := range role.Routes {
			fmt.Fprintf(w, "    %s\n", route)
		}
	}
}
