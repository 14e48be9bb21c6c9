-- wrk script of the prefect-auth-proxy load test.
--
-- Usage: wrk [options] -s request.lua URL -- BODY_FILE [METHOD]
--
-- Every request has METHOD (default POST) and the contents of BODY_FILE as
-- an application/json body. An empty BODY_FILE sends no body and no
-- Content-Type header, as a client's GET does.
-- The Authorization header value is read from the environment variable
-- LOADTEST_AUTHORIZATION, so that the API key does not show in the process
-- list. When the variable is empty, no Authorization header is sent.
--
-- done() prints one line "LOADTEST_RESULT {json}" with the totals and the
-- latency percentiles, in microseconds.

local request_text

function init(args)
   local path = args[1]
   if path == nil then
      error("request.lua: the body file is missing: pass it after --")
   end

   local file = assert(io.open(path, "rb"))
   local body = file:read("*a")
   file:close()

   local method = args[2] or "POST"
   local headers = {}
   if body == "" then
      body = nil
   else
      headers["Content-Type"] = "application/json"
   end

   local authorization = os.getenv("LOADTEST_AUTHORIZATION")
   if authorization ~= nil and authorization ~= "" then
      headers["Authorization"] = authorization
   end

   -- Built once per thread: formatting a request on every call costs wrk
   -- more CPU, and wrk shares the cores with the servers it measures.
   request_text = wrk.format(method, nil, headers, body)
end

function request()
   return request_text
end

function done(summary, latency, requests)
   local seconds = summary.duration / 1e6
   local e = summary.errors
   io.write(string.format(
      'LOADTEST_RESULT {"requests":%.0f,"duration_us":%.0f,"requests_per_second":%.3f,' ..
      '"bytes":%.0f,"latency_mean_us":%.3f,"latency_max_us":%.0f,' ..
      '"latency_p50_us":%.0f,"latency_p90_us":%.0f,"latency_p99_us":%.0f,' ..
      '"errors":{"connect":%.0f,"read":%.0f,"write":%.0f,"status":%.0f,"timeout":%.0f}}\n',
      summary.requests, summary.duration, summary.requests / seconds,
      summary.bytes, latency.mean, latency.max,
      latency:percentile(50), latency:percentile(90), latency:percentile(99),
      e.connect, e.read, e.write, e.status, e.timeout))
end
