package prefect

import (
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/authz/rest"
	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/scope"
)

// Role is a built-in REST role as the roles command prints it.
type Role struct {
	Name        string
	Description string
	// Classes are the route classes that the role allows, e.g. "any|read".
	Classes string
	// Routes are the routes that the role allows, one
	// "METHOD /api/template" line each, some with a condition.
	Routes []string
}

// everyRoleClasses are the classes that every built-in role allows.
const everyRoleClasses = rest.ClassPublic | rest.ClassAny

// builtinRoles are named after Prefect Cloud's workspace roles and listed
// from the least to the most privileged, because a denial names the first
// role that would allow the request. Package rest documents the route
// classes. The exceptions follow from the calls that Prefect's UI and
// Python client make (3.x, and 2.x where it differs).
var builtinRoles = []rest.Role{
	{
		Name: scope.RoleViewer,
		Description: "Reads everything in the UI and the API, including the POST routes that filter, count, " +
			"paginate and validate. Block documents without secret values. The live event and log streams.",
		Classes: everyRoleClasses | rest.ClassRead,
	},
	{
		Name: scope.RoleRunner,
		Description: "Viewer plus run control: run deployments, cancel, retry and change the state of flow and task runs, " +
			"resume runs, schedule runs, pause and resume deployments and their schedules (also through the UI's switches).",
		Classes: everyRoleClasses | rest.ClassRead | rest.ClassRun,
	},
	{
		Name: scope.RoleWorker,
		Description: "A worker and the flow-run processes it starts (they inherit its key), task workers, and 2.x agents: " +
			"poll pools and queues, heartbeats and the worker channel, run state, logs, events, artifacts, " +
			"concurrency slots, block documents with secrets, run_deployment() from a flow, and creating the work pool " +
			"or queue it serves. Not flow.serve(), which needs developer.",
		Classes: everyRoleClasses | rest.ClassRead | rest.ClassSecret | rest.ClassRuntime,
		Routes: []string{
			"POST /deployments/{id}/create_flow_run", // run_deployment() inside a flow
			"POST /work_pools/",                      // prefect worker start creates a missing pool
			"POST /work_queues/",                     // 2.x agents create a missing queue
		},
	},
	{
		Name: scope.RoleDeveloper,
		Description: "Runner and worker plus configuration: create and update flows, deployments and their schedules, " +
			"blocks, variables, work pools and queues, saved searches (prefect deploy, flow.deploy(), flow.serve()). " +
			"No deletes and no automations, so deployments with triggers need owner.",
		Classes: everyRoleClasses | rest.ClassRead | rest.ClassSecret | rest.ClassRun | rest.ClassRuntime | rest.ClassDeploy,
	},
	{
		Name: scope.RoleOwner,
		Description: "Everything: deletes, automations (whose actions run with the server's privileges), " +
			"concurrency limits, server administration, and routes the proxy does not know.",
		Classes: rest.ClassAll,
	},
}

var roleTable = mustRoleTable()

// mustRoleTable compiles builtinRoles. They are constant data, so an error
// is a programming mistake that every test run reports.
func mustRoleTable() *rest.RoleTable {
	table, err := rest.NewRoleTable(builtinRoles...)
	if err != nil {
		panic("prefect: invalid built-in roles: " + err.Error())
	}
	return table
}

// RoleTable returns the compiled built-in roles, for rest.Authorize.
func RoleTable() *rest.RoleTable { return roleTable }

// Roles returns the built-in roles with their routes under the default
// API mount, /api.
func Roles() []Role { return RolesUnder(rest.DefaultAPIBasePath) }

// RolesUnder returns the built-in roles with their routes under the given
// API mount (API_BASE_PATH).
func RolesUnder(apiBasePath string) []Role {
	roles := make([]Role, 0, len(builtinRoles))
	for _, role := range builtinRoles {
		lines, _ := roleTable.Lines(role.Name, apiBasePath)
		roles = append(roles, Role{
			Name:        role.Name,
			Description: role.Description,
			Classes:     role.Classes.String(),
			Routes:      lines,
		})
	}
	return roles
}
