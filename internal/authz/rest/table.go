package rest

// routeDefinitions lists the REST routes of Prefect 2.x (through 2.20) and
// 3.x (through 3.8), websocket endpoints included, relative to the API
// mount, with their classes. Path parameters such as {id} match one
// segment. Trailing slashes are part of a route, as in Prefect, where
// POST /flows/ is the route and POST /flows gets a redirect to it.
//
// Requests that match none of these are ClassUnknown, which only the owner
// role and explicit route scopes reach, so a route added by a later
// Prefect release is denied to the other roles until it is listed here.
var routeDefinitions = []definition{
	// Probes, identity and documentation of the API sub-app.
	{get, "/health", ClassPublic, nil},
	{get, "/ready", ClassPublic, nil},
	{get, "/hello", ClassAny, nil},
	{get, "/version", ClassAny, nil},
	{get, "/metrics", ClassAdmin, nil}, // only with PREFECT_API_ENABLE_METRICS
	{get, "/docs", ClassRead, nil},
	{get, "/docs/oauth2-redirect", ClassRead, nil},
	{get, "/redoc", ClassRead, nil},
	{get, "/openapi.json", ClassRead, nil},
	{get, "/static/*", ClassRead, nil},

	// Admin. The UIs and the Python client check /admin/version first.
	{get, "/admin/version", ClassAny, nil},
	{get, "/admin/settings", ClassRead, nil}, // secrets are masked by the server
	{get, "/admin/storage", ClassRead, nil},  // flow runs read the default result storage, 3.7+
	{put, "/admin/storage", ClassAdmin, nil},
	{del, "/admin/storage", ClassAdmin, nil},
	{post, "/admin/database/clear", ClassAdmin, nil}, // 2.x to 3.6
	{post, "/admin/database/drop", ClassAdmin, nil},
	{post, "/admin/database/create", ClassAdmin, nil},

	// CSRF tokens: every role that POSTs needs one when CSRF protection is on.
	{get, "/csrf-token", ClassAny, nil},

	// Flows.
	{post, "/flows/", ClassRuntime, nil}, // idempotent create by name: runs, deploy, serve
	{patch, "/flows/{id}", ClassDeploy, nil},
	{get, "/flows/{id}", ClassRead, nil},
	{get, "/flows/name/{name}", ClassRead, nil},
	{post, "/flows/filter", ClassRead, nil},
	{post, "/flows/count", ClassRead, nil},
	{post, "/flows/paginate", ClassRead, nil},
	{del, "/flows/{id}", ClassAdmin, nil},
	{post, "/flows/bulk_delete", ClassAdmin, nil},

	// Flow runs. set_state serves the engine and the UI's cancel, retry and
	// "change state" alike, and only the body distinguishes them.
	{post, "/flow_runs/", ClassRuntime, nil},
	{patch, "/flow_runs/{id}", ClassRuntime, nil},
	{patch, "/flow_runs/{id}/labels", ClassRuntime, nil},
	{get, "/flow_runs/{id}", ClassRead, nil},
	{get, "/flow_runs/{id}/graph", ClassRead, nil},
	{get, "/flow_runs/{id}/graph-v2", ClassRead, nil},
	{get, "/flow_runs/{id}/logs/download", ClassRead, nil},
	{post, "/flow_runs/filter", ClassRead, nil},
	{post, "/flow_runs/count", ClassRead, nil},
	{post, "/flow_runs/history", ClassRead, nil},
	{post, "/flow_runs/lateness", ClassRead, nil},
	{post, "/flow_runs/paginate", ClassRead, nil},
	{post, "/flow_runs/{id}/set_state", ClassRun | ClassRuntime, nil},
	{post, "/flow_runs/{id}/resume", ClassRun, nil},
	{post, "/flow_runs/bulk_set_state", ClassRun, nil},
	{post, "/flow_runs/{id}/input", ClassRuntime, nil},
	{del, "/flow_runs/{id}/input/{key}", ClassRuntime, nil},
	{post, "/flow_runs/{id}/input/filter", ClassRead, nil},
	{get, "/flow_runs/{id}/input/{key}", ClassRead, nil},
	{del, "/flow_runs/{id}", ClassAdmin, nil},
	{post, "/flow_runs/bulk_delete", ClassAdmin, nil},
	{get, "/flow_run_states/{id}", ClassRead, nil},
	{get, "/flow_run_states/", ClassRead, nil},

	// Task runs. In 3.x the engine reports task runs through events; these
	// routes serve .delay(), background tasks, 2.x engines and the UI.
	{post, "/task_runs/", ClassRuntime, nil},
	{patch, "/task_runs/{id}", ClassRuntime, nil},
	{post, "/task_runs/{id}/set_state", ClassRun | ClassRuntime, nil},
	{get, "/task_runs/{id}", ClassRead, nil},
	{post, "/task_runs/filter", ClassRead, nil},
	{post, "/task_runs/count", ClassRead, nil},
	{post, "/task_runs/history", ClassRead, nil},
	{post, "/task_runs/paginate", ClassRead, nil},
	{del, "/task_runs/{id}", ClassAdmin, nil},
	{websocket, "/task_runs/subscriptions/scheduled", ClassRuntime, nil}, // task workers
	{get, "/task_run_states/{id}", ClassRead, nil},
	{get, "/task_run_states/", ClassRead, nil},
	{post, "/task_workers/filter", ClassRead, nil},

	// Deployments. POST /deployments/ is an upsert used by prefect deploy,
	// flow.deploy() and flow.serve() at startup.
	{post, "/deployments/", ClassDeploy, nil},
	{patch, "/deployments/{id}", ClassDeploy, &pausedOnly},
	{get, "/deployments/{id}", ClassRead, nil},
	{get, "/deployments/name/{flow_name}/{deployment_name}", ClassRead, nil},
	{get, "/deployments/{id}/work_queue_check", ClassRead, nil},
	{get, "/deployments/{id}/schedules", ClassRead, nil},
	{post, "/deployments/filter", ClassRead, nil},
	{post, "/deployments/count", ClassRead, nil},
	{post, "/deployments/paginate", ClassRead, nil},
	{post, "/deployments/get_scheduled_flow_runs", ClassRuntime, nil}, // flow.serve() polling
	{post, "/deployments/{id}/create_flow_run", ClassRun, nil},
	{post, "/deployments/{id}/create_flow_run/bulk", ClassRun, nil},
	{post, "/deployments/{id}/schedule", ClassRun, nil},
	{post, "/deployments/{id}/pause_deployment", ClassRun, nil},
	{post, "/deployments/{id}/resume_deployment", ClassRun, nil},
	{post, "/deployments/{id}/set_schedule_active", ClassRun, nil}, // 2.x
	{post, "/deployments/{id}/set_schedule_inactive", ClassRun, nil},
	{post, "/deployments/{id}/schedules", ClassDeploy, nil},
	{patch, "/deployments/{id}/schedules/{schedule_id}", ClassDeploy, &activeOnly},
	{del, "/deployments/{id}/schedules/{schedule_id}", ClassAdmin, nil},
	{del, "/deployments/{id}", ClassAdmin, nil},
	{post, "/deployments/bulk_delete", ClassAdmin, nil},

	// Saved searches are global UI filters, shared by every user.
	{put, "/saved_searches/", ClassDeploy, nil},
	{get, "/saved_searches/{id}", ClassRead, nil},
	{post, "/saved_searches/filter", ClassRead, nil},
	{del, "/saved_searches/{id}", ClassAdmin, nil},

	// Logs.
	{post, "/logs/", ClassRuntime, nil},
	{post, "/logs/filter", ClassRead, nil},
	{websocket, "/logs/out", ClassRead, nil}, // 3.4.7+

	// Concurrency limits by tag (v1) and v2. Increments and leases are the
	// runtime's; creating and changing limits is the owner's.
	{post, "/concurrency_limits/", ClassAdmin, nil},
	{get, "/concurrency_limits/{id}", ClassRead, nil},
	{get, "/concurrency_limits/tag/{tag}", ClassRead, nil},
	{post, "/concurrency_limits/filter", ClassRead, nil},
	{post, "/concurrency_limits/increment", ClassRuntime, nil},
	{post, "/concurrency_limits/decrement", ClassRuntime, nil},
	{post, "/concurrency_limits/tag/{tag}/reset", ClassAdmin, nil},
	{del, "/concurrency_limits/{id}", ClassAdmin, nil},
	{del, "/concurrency_limits/tag/{tag}", ClassAdmin, nil},
	{post, "/v2/concurrency_limits/", ClassAdmin, nil},
	{get, "/v2/concurrency_limits/{id_or_name}", ClassRead, nil},
	{post, "/v2/concurrency_limits/filter", ClassRead, nil},
	{patch, "/v2/concurrency_limits/{id_or_name}", ClassAdmin, nil},
	{del, "/v2/concurrency_limits/{id_or_name}", ClassAdmin, nil},
	{post, "/v2/concurrency_limits/increment", ClassRuntime, nil},
	{post, "/v2/concurrency_limits/decrement", ClassRuntime, nil},
	{post, "/v2/concurrency_limits/increment-with-lease", ClassRuntime, nil},
	{post, "/v2/concurrency_limits/decrement-with-lease", ClassRuntime, nil},
	{post, "/v2/concurrency_limits/leases/{lease_id}/renew", ClassRuntime, nil},

	// Blocks. Reads of block documents return secret values only when
	// include_secrets requests them.
	{post, "/block_types/", ClassDeploy, nil},
	{patch, "/block_types/{id}", ClassDeploy, nil},
	{post, "/block_types/install_system_block_types", ClassDeploy, nil},
	{get, "/block_types/{id}", ClassRead, nil},
	{get, "/block_types/slug/{slug}", ClassRead, nil},
	{post, "/block_types/filter", ClassRead, nil},
	{get, "/block_types/slug/{slug}/block_documents", ClassRead, &secretsInQuery},
	{get, "/block_types/slug/{slug}/block_documents/name/{block_document_name}", ClassRead, &secretsInQuery},
	{del, "/block_types/{id}", ClassAdmin, nil},
	{post, "/block_schemas/", ClassDeploy, nil},
	{get, "/block_schemas/{id}", ClassRead, nil},
	{get, "/block_schemas/checksum/{checksum}", ClassRead, nil},
	{post, "/block_schemas/filter", ClassRead, nil},
	{del, "/block_schemas/{id}", ClassAdmin, nil},
	{post, "/block_documents/", ClassDeploy, nil},
	{patch, "/block_documents/{id}", ClassDeploy, nil},
	{get, "/block_documents/{id}", ClassRead, &secretsInQuery},
	{post, "/block_documents/filter", ClassRead, &secretsInBody},
	{post, "/block_documents/count", ClassRead, nil},
	{del, "/block_documents/{id}", ClassAdmin, nil},
	{get, "/block_capabilities/", ClassRead, nil},
	{get, "/collections/views/{view}", ClassRead, nil},

	// Variables. Flows read them; Variable.set() needs the deploy class.
	{get, "/variables/{id}", ClassRead, nil},
	{get, "/variables/name/{name}", ClassRead, nil},
	{post, "/variables/filter", ClassRead, nil},
	{post, "/variables/count", ClassRead, nil},
	{post, "/variables/", ClassDeploy, nil},
	{patch, "/variables/{id}", ClassDeploy, nil},
	{patch, "/variables/name/{name}", ClassDeploy, nil},
	{del, "/variables/{id}", ClassAdmin, nil},
	{del, "/variables/name/{name}", ClassAdmin, nil},

	// Artifacts.
	{post, "/artifacts/", ClassRuntime, nil},
	{patch, "/artifacts/{id}", ClassRuntime, nil},
	{get, "/artifacts/{id}", ClassRead, nil},
	{get, "/artifacts/{key}/latest", ClassRead, nil},
	{post, "/artifacts/filter", ClassRead, nil},
	{post, "/artifacts/latest/filter", ClassRead, nil},
	{post, "/artifacts/count", ClassRead, nil},
	{post, "/artifacts/latest/count", ClassRead, nil},
	{del, "/artifacts/{id}", ClassAdmin, nil},

	// Events. Emitted events can fire automations, which act with the
	// server's privileges; that is a known limit of the runtime class.
	{post, "/events", ClassRuntime, nil},
	{post, "/events/filter", ClassRead, nil},
	{get, "/events/filter/next", ClassRead, nil},
	{post, "/events/count-by/{countable}", ClassRead, nil},
	{websocket, "/events/in", ClassRuntime, nil},
	{websocket, "/events/out", ClassRead, nil},

	// Automations run their actions with the server's privileges, past
	// every role, so only the owner changes them.
	{post, "/automations/", ClassAdmin, nil},
	{put, "/automations/{id}", ClassAdmin, nil},
	{patch, "/automations/{id}", ClassAdmin, nil},
	{del, "/automations/{id}", ClassAdmin, nil},
	{del, "/automations/owned-by/{resource_id}", ClassAdmin, nil},
	{get, "/automations/{id}", ClassRead, nil},
	{get, "/automations/related-to/{resource_id}", ClassRead, nil},
	{post, "/automations/filter", ClassRead, nil},
	{post, "/automations/count", ClassRead, nil},
	{post, "/automations/templates/validate", ClassRead, nil},
	{post, "/templates/validate", ClassRead, nil},

	// Work pools, their queues and workers. Route parameters keep
	// Prefect's names, which differ between routes of the same pool.
	{post, "/work_pools/", ClassDeploy, nil},
	{patch, "/work_pools/{name}", ClassDeploy, nil},
	{get, "/work_pools/{name}", ClassRead, nil},
	{post, "/work_pools/filter", ClassRead, nil},
	{post, "/work_pools/count", ClassRead, nil},
	{post, "/work_pools/{name}/concurrency_status", ClassRead, nil},
	{post, "/work_pools/{name}/get_scheduled_flow_runs", ClassRuntime, nil},
	{del, "/work_pools/{name}", ClassAdmin, nil},
	{post, "/work_pools/{work_pool_name}/queues", ClassDeploy, nil},
	{patch, "/work_pools/{work_pool_name}/queues/{name}", ClassDeploy, nil},
	{get, "/work_pools/{work_pool_name}/queues/{name}", ClassRead, nil},
	{post, "/work_pools/{work_pool_name}/queues/filter", ClassRead, nil},
	{del, "/work_pools/{work_pool_name}/queues/{name}", ClassAdmin, nil},
	{post, "/work_pools/{work_pool_name}/workers/heartbeat", ClassRuntime, nil},
	{post, "/work_pools/{work_pool_name}/workers/filter", ClassRead, nil},
	{del, "/work_pools/{work_pool_name}/workers/{name}", ClassAdmin, nil},
	{websocket, "/work_pools/{work_pool_name}/workers/connect", ClassRuntime, nil}, // the worker channel, 3.7.2+

	// Work queues. get_runs marks the queue as polled (2.x agent
	// semantics) unless the UI sends X-Prefect-Ui: true.
	{post, "/work_queues/", ClassDeploy, nil},
	{patch, "/work_queues/{id}", ClassDeploy, nil},
	{get, "/work_queues/{id}", ClassRead, nil},
	{get, "/work_queues/name/{name}", ClassRead, nil},
	{get, "/work_queues/{id}/status", ClassRead, nil},
	{post, "/work_queues/filter", ClassRead, nil},
	{post, "/work_queues/{id}/concurrency_status", ClassRead, nil},
	{post, "/work_queues/{id}/get_runs", ClassRuntime, &uiHeader},
	{del, "/work_queues/{id}", ClassAdmin, nil},

	// Routes that only the UIs call.
	{post, "/ui/flows/count-deployments", ClassRead, nil},
	{post, "/ui/flows/next-runs", ClassRead, nil},
	{post, "/ui/flow_runs/history", ClassRead, nil},
	{post, "/ui/flow_runs/count-task-runs", ClassRead, nil},
	{post, "/ui/task_runs/dashboard/counts", ClassRead, nil},
	{post, "/ui/task_runs/count", ClassRead, nil},
	{post, "/ui/schemas/validate", ClassRead, nil},
	{get, "/ui/task_runs/{id}", ClassRead, nil},

	// Flow run notification policies: 2.x up to 3.3.
	{post, "/flow_run_notification_policies/", ClassDeploy, nil},
	{get, "/flow_run_notification_policies/{id}", ClassRead, nil},
	{patch, "/flow_run_notification_policies/{id}", ClassDeploy, nil},
	{post, "/flow_run_notification_policies/filter", ClassRead, nil},
	{del, "/flow_run_notification_policies/{id}", ClassAdmin, nil},
}

// Methods of the definitions. websocket is a GET that upgrades.
const (
	get       = "GET"
	post      = "POST"
	put       = "PUT"
	patch     = "PATCH"
	del       = "DELETE"
	websocket = "WEBSOCKET"
)

// definition is one row of routeDefinitions.
type definition struct {
	method   string
	template string
	class    Class
	rule     *Rule
}
