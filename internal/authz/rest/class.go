package rest

import "strings"

// Class is a set of route classes: what a route does, as far as roles are
// concerned. A route may belong to several classes (set_state serves both
// run control and the runtime), and a role allows a route when they share
// a class.
type Class uint16

// The route classes.
const (
	// ClassPublic routes need no key: GET /health and GET /ready.
	ClassPublic Class = 1 << iota
	// ClassAny routes are allowed to every role: version checks, /hello,
	// and /csrf-token, which every client that POSTs needs when CSRF
	// protection is on.
	ClassAny
	// ClassRead routes only read, including the POST routes that filter,
	// count, paginate, or validate.
	ClassRead
	// ClassSecret is a block document read that requests secret values.
	ClassSecret
	// ClassRun routes control runs: create a flow run from a deployment,
	// change a run's state, pause or resume scheduling.
	ClassRun
	// ClassRuntime routes are the writes of workers, flow-run processes,
	// flow.serve() and task workers: logs, events, run state, heartbeats.
	ClassRuntime
	// ClassDeploy routes create and update configuration: flows,
	// deployments, blocks, variables, work pools and queues.
	ClassDeploy
	// ClassAdmin routes delete, manage automations (which run with the
	// server's privileges), concurrency limits, or the server itself.
	ClassAdmin
	// ClassUnknown is every request under the API mount that no route
	// of the table matches.
	ClassUnknown
)

// ClassAll is every class.
const ClassAll = ClassPublic | ClassAny | ClassRead | ClassSecret | ClassRun | ClassRuntime | ClassDeploy | ClassAdmin | ClassUnknown

var classNames = [...]struct {
	class Class
	name  string
}{
	{ClassPublic, "public"},
	{ClassAny, "any"},
	{ClassRead, "read"},
	{ClassSecret, "secret"},
	{ClassRun, "run"},
	{ClassRuntime, "runtime"},
	{ClassDeploy, "deploy"},
	{ClassAdmin, "admin"},
	{ClassUnknown, "unknown"},
}

// String returns the class names joined with "|", e.g. "run|runtime", or
// "none" for the empty set.
func (c Class) String() string {
	var names []string
	for _, entry := range classNames {
		if c&entry.class != 0 {
			names = append(names, entry.name)
		}
	}

	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, "|")
}
