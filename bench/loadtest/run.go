package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Bounds of the run flags. The whole run makes 3 targets x at most 4
// scenarios (2 per API mode) x at most maxConnectionCounts measurements,
// each repeated at most maxRepeats times, so it always ends by itself. With
// the defaults (10 s, 2 connection counts, 2 repeats) each API mode takes
// about 2.5 minutes on a quiet machine and 6.5 minutes on a busy one.
const (
	maxDuration         = time.Minute
	maxWarmup           = 30 * time.Second
	maxConnectionCounts = 4
	maxConnections      = 256
	maxRepeats          = 5
)

// Target names, in the order they are measured and shown.
const (
	targetUpstream = "upstream alone"
	targetBare     = "bare ReverseProxy"
	targetProxy    = "prefect-auth-proxy"
)

// runOptions are the flags of the run command.
type runOptions struct {
	ProxyBinary string
	WrkBinary   string
	Duration    time.Duration
	Warmup      time.Duration
	Connections []int
	// Modes are the API modes whose scenarios are measured. Only their
	// servers are started.
	Modes       []apiMode
	Threads     int
	WorkDir     string
	KeepWorkDir bool
	// RepeatDisturbed is how many times a measurement is repeated while
	// other processes use more than busyThreshold of the CPU time.
	RepeatDisturbed int
}

// target is one server that wrk measures with the scenarios of its mode.
type target struct {
	Name string
	Mode apiMode
	// URL is the GraphQL endpoint in GraphQL mode, and the server's root
	// without a trailing slash in REST mode, where scenario paths follow.
	URL           string
	Authorization string
}

// busyThreshold is the share of the machine's CPU time used by other
// processes above which a measurement is reported as disturbed.
const busyThreshold = 0.10

// measurement is the wrk result of one target, scenario and connection
// count.
type measurement struct {
	Scenario    string
	Connections int
	Target      string
	Result      wrkResult
	// OtherCPU is the share of the machine's CPU capacity that processes
	// other than wrk and the three servers used during the measurement,
	// from 0 to 1, or -1 when /proc could not be read.
	OtherCPU float64
}

func parseRunOptions(args []string, stderr io.Writer) (runOptions, error) {
	flags := flag.NewFlagSet("run", flag.ContinueOnError)
	flags.SetOutput(stderr)
	var options runOptions
	flags.StringVar(&options.ProxyBinary, "proxy-binary", "", "`path` of a built prefect-auth-proxy binary (required)")
	flags.StringVar(&options.WrkBinary, "wrk", "wrk", "wrk `executable`")
	flags.DurationVar(&options.Duration, "duration", 10*time.Second, "length of each measurement, whole seconds, at most 1m")
	flags.DurationVar(&options.Warmup, "warmup", 2*time.Second, "length of the warm-up per target and scenario before measuring, whole seconds, at most 30s; 0 skips it")
	connections := flags.String("connections", "1,64", "comma-separated wrk connection counts, at most 4 values from 1 to 256")
	modes := flags.String("modes", "graphql,rest", "comma-separated API modes to measure: graphql (Prefect 1 scenarios), rest (Prefect 2/3 scenarios)")
	flags.IntVar(&options.Threads, "threads", 2, "wrk threads (-t); lowered to the connection count when that is smaller")
	flags.IntVar(&options.RepeatDisturbed, "repeat-disturbed", 2, "repeat a measurement up to `N` times while other processes use more than 10 % of the CPU time, keeping the least disturbed one; at most 5")
	flags.StringVar(&options.WorkDir, "work-dir", "", "`directory` for the key database, request files and server logs (default: a new temporary directory)")
	flags.BoolVar(&options.KeepWorkDir, "keep-work-dir", false, "keep the work directory after the run (it is always kept after a failure)")
	if err := parseFlags(flags, args); err != nil {
		return runOptions{}, err
	}

	var err error
	options.Connections, err = parseConnections(*connections)
	if err != nil {
		return runOptions{}, err
	}
	options.Modes, err = parseModes(*modes)
	if err != nil {
		return runOptions{}, err
	}
	return options, options.check()
}

func parseConnections(text string) ([]int, error) {
	var counts []int
	for _, item := range strings.Split(text, ",") {
		count, err := strconv.Atoi(strings.TrimSpace(item))
		if err != nil || count < 1 || count > maxConnections {
			return nil, usageError(fmt.Sprintf("--connections: %q is not a whole number from 1 to %d", item, maxConnections))
		}
		counts = append(counts, count)
	}
	if len(counts) > maxConnectionCounts {
		return nil, usageError(fmt.Sprintf("--connections has %d values, but at most %d are allowed so that the run stays short", len(counts), maxConnectionCounts))
	}
	return counts, nil
}

func (o runOptions) check() error {
	var problems []string
	if o.ProxyBinary == "" {
		problems = append(problems, "--proxy-binary is missing: build it with go build -o DIR/prefect-auth-proxy ./cmd/prefect-auth-proxy")
	}
	if o.Duration < time.Second || o.Duration > maxDuration || o.Duration%time.Second != 0 {
		problems = append(problems, fmt.Sprintf("--duration %s is invalid: give whole seconds from 1s to %s", o.Duration, maxDuration))
	}
	if o.Warmup < 0 || o.Warmup > maxWarmup || o.Warmup%time.Second != 0 {
		problems = append(problems, fmt.Sprintf("--warmup %s is invalid: give whole seconds from 0s to %s", o.Warmup, maxWarmup))
	}
	if o.RepeatDisturbed < 0 || o.RepeatDisturbed > maxRepeats {
		problems = append(problems, fmt.Sprintf("--repeat-disturbed %d is invalid: give 0 to %d", o.RepeatDisturbed, maxRepeats))
	}
	if o.Threads < 1 || o.Threads > 64 {
		problems = append(problems, fmt.Sprintf("--threads %d is invalid: give 1 to 64", o.Threads))
	}
	if len(problems) > 0 {
		return usageError(strings.Join(problems, "; "))
	}
	return nil
}

// runLoadTest runs the run command. It starts the servers of the selected
// API modes, checks that each one forwards its scenarios, measures them with
// wrk and prints the report to stdout. Progress goes to stderr.
func runLoadTest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	options, err := parseRunOptions(args, stderr)
	if err != nil {
		return err
	}
	// Read before the servers start, so the load average shows what else
	// was running.
	host := readMachine()
	wrkVersionLine, err := wrkVersion(ctx, options.WrkBinary)
	if err != nil {
		return fmt.Errorf("check wrk: %w (install it with: apt-get install -y wrk)", err)
	}

	workDir, err := prepareWorkDir(options.WorkDir)
	if err != nil {
		return err
	}
	keep := options.KeepWorkDir
	defer func() {
		if keep {
			fmt.Fprintf(stderr, "work directory kept: %s\n", workDir)
			return
		}
		os.RemoveAll(workDir)
	}()

	measurements, err := measureAll(ctx, options, workDir, stderr)
	if err != nil {
		keep = true
		return err
	}

	report := report{
		Machine:      host,
		WrkVersion:   wrkVersionLine,
		Options:      options,
		Measurements: measurements,
	}
	return report.write(stdout)
}

func prepareWorkDir(dir string) (string, error) {
	if dir == "" {
		created, err := os.MkdirTemp("", "prefect-auth-proxy-loadtest-")
		if err != nil {
			return "", fmt.Errorf("create work directory: %w", err)
		}
		return created, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("create work directory: %w", err)
	}
	return dir, nil
}

// measureAll starts the servers, measures every target, scenario and
// connection count, and stops the servers.
func measureAll(ctx context.Context, options runOptions, workDir string, stderr io.Writer) ([]measurement, error) {
	testScenarios, err := scenarios(options.Modes)
	if err != nil {
		return nil, err
	}
	bodyPaths, scriptPath, err := writeRequestFiles(workDir, testScenarios)
	if err != nil {
		return nil, err
	}

	targets, pids, stopAll, err := startTargets(ctx, options, workDir, stderr)
	defer stopAll()
	if err != nil {
		return nil, err
	}

	pairs := 0
	for _, s := range testScenarios {
		for _, t := range targetsOf(targets, s.Mode) {
			if err := verifyTarget(ctx, t, s); err != nil {
				return nil, err
			}
			pairs++
		}
	}
	fmt.Fprintln(stderr, "every target forwards its scenarios and returns the upstream's response")

	total := time.Duration(pairs) * (options.Warmup + time.Duration(len(options.Connections))*options.Duration)
	fmt.Fprintf(stderr, "measuring for about %s\n", total)

	run := func(t target, scenarioIndex, connections int, duration time.Duration) (wrkResult, error) {
		s := testScenarios[scenarioIndex]
		return wrkRun{
			Binary: options.WrkBinary, ScriptPath: scriptPath, BodyPath: bodyPaths[scenarioIndex],
			Method: s.Method, URL: t.URL + s.Path, Authorization: t.Authorization,
			Threads: options.Threads, Connections: connections, Duration: duration,
		}.Run(ctx, os.Environ())
	}

	if options.Warmup > 0 {
		warmupConnections := maxOf(options.Connections)
		for _, t := range targets {
			for i, s := range testScenarios {
				if s.Mode != t.Mode {
					continue
				}
				fmt.Fprintf(stderr, "warming up %s, %s, %d connections, %s\n", t.Name, s.Name, warmupConnections, options.Warmup)
				if _, err := run(t, i, warmupConnections, options.Warmup); err != nil {
					return nil, fmt.Errorf("warm up: %w", err)
				}
			}
		}
	}

	// Targets alternate inside each scenario and connection count, so that
	// a slow drift of the machine affects all three alike.
	var measurements []measurement
	for i, s := range testScenarios {
		for _, connections := range options.Connections {
			for _, t := range targetsOf(targets, s.Mode) {
				measure := func() (measurement, error) {
					fmt.Fprintf(stderr, "measuring %s, %s, %d connections, %s\n", t.Name, s.Name, connections, options.Duration)
					result, other, err := measureCPU(pids, func() (wrkResult, error) {
						return run(t, i, connections, options.Duration)
					})
					return measurement{Scenario: s.Name, Connections: connections, Target: t.Name, Result: result, OtherCPU: other}, err
				}

				m, err := measureQuietly(measure, options.RepeatDisturbed, stderr)
				if err != nil {
					return nil, err
				}
				measurements = append(measurements, m)
			}
		}
	}

	for _, mode := range options.Modes {
		warnAboutProxyErrors(filepath.Join(workDir, proxyLogName(mode)), stderr)
	}
	return measurements, nil
}

// targetsOf returns the targets that measure scenarios of mode, in the
// order they were started.
func targetsOf(targets []target, mode apiMode) []target {
	var selected []target
	for _, t := range targets {
		if t.Mode == mode {
			selected = append(selected, t)
		}
	}
	return selected
}

// measureCPU runs one wrk measurement and returns its result with the
// share of CPU time that other processes used meanwhile, or -1 when /proc
// could not be read.
func measureCPU(pids []int, run func() (wrkResult, error)) (wrkResult, float64, error) {
	before, beforeErr := readCPUCounters(pids)
	start := time.Now()
	result, err := run()
	if err != nil {
		return wrkResult{}, 0, err
	}
	elapsed := time.Since(start)
	after, afterErr := readCPUCounters(pids)

	if beforeErr != nil || afterErr != nil {
		return result, -1, nil
	}
	return result, otherCPUShare(before, after, result.CPU, elapsed, runtime.NumCPU()), nil
}

// measureQuietly runs measure, and runs it again up to repeats times while
// other processes used more than busyThreshold of the CPU time. It returns
// the attempt with the least such use.
func measureQuietly(measure func() (measurement, error), repeats int, stderr io.Writer) (measurement, error) {
	best, err := measure()
	if err != nil {
		return measurement{}, err
	}

	for attempt := 0; attempt < repeats && best.OtherCPU > busyThreshold; attempt++ {
		fmt.Fprintf(stderr, "other processes used %.0f %% of the CPU time; measuring again\n", 100*best.OtherCPU)
		next, err := measure()
		if err != nil {
			return measurement{}, err
		}
		if next.OtherCPU < best.OtherCPU {
			best = next
		}
	}

	if best.OtherCPU > busyThreshold {
		fmt.Fprintf(stderr, "loadtest: other processes used %.0f %% of the CPU time during the %s measurement; its row is disturbed\n", 100*best.OtherCPU, best.Target)
	}
	return best, nil
}

func maxOf(values []int) int {
	largest := values[0]
	for _, v := range values[1:] {
		largest = max(largest, v)
	}
	return largest
}

// writeRequestFiles writes the body file of each scenario and the wrk
// script, and returns their paths.
func writeRequestFiles(workDir string, testScenarios []scenario) ([]string, string, error) {
	var bodyPaths []string
	for i, s := range testScenarios {
		path := filepath.Join(workDir, fmt.Sprintf("body-%d.json", i))
		if err := os.WriteFile(path, s.Body, 0o600); err != nil {
			return nil, "", fmt.Errorf("write request body: %w", err)
		}
		bodyPaths = append(bodyPaths, path)
	}

	scriptPath := filepath.Join(workDir, "request.lua")
	if err := os.WriteFile(scriptPath, wrkScript, 0o600); err != nil {
		return nil, "", fmt.Errorf("write wrk script: %w", err)
	}
	return bodyPaths, scriptPath, nil
}

// startTargets starts the upstream, and for each API mode in options a bare
// ReverseProxy and the proxy, each as its own process on a free loopback
// port, and waits until each responds. It returns one upstream, bare and
// proxy target per mode, and the process ids of the servers and of this
// process. stopAll stops whatever was started, also after an error.
func startTargets(ctx context.Context, options runOptions, workDir string, stderr io.Writer) ([]target, []int, func(), error) {
	var started []*process
	stopAll := func() {
		for i := len(started) - 1; i >= 0; i-- {
			if err := started[i].stop(); err != nil {
				fmt.Fprintf(stderr, "loadtest: %v\n", err)
			}
		}
	}

	self, err := os.Executable()
	if err != nil {
		return nil, nil, stopAll, fmt.Errorf("find the loadtest executable: %w", err)
	}

	upstreamAddress, err := freeLoopbackAddress()
	if err != nil {
		return nil, nil, stopAll, err
	}
	upstream, err := startProcess(ctx, targetUpstream, filepath.Join(workDir, "upstream.log"), os.Environ(),
		self, "upstream", "--listen", upstreamAddress)
	if err != nil {
		return nil, nil, stopAll, err
	}
	started = append(started, upstream)
	upstreamRoot := "http://" + upstreamAddress
	if err := upstream.waitReady(ctx, upstreamRoot+"/graphql"); err != nil {
		return nil, nil, stopAll, err
	}

	var targets []target
	for _, mode := range options.Modes {
		modeTargets, modeProcesses, err := startModeTargets(ctx, options.ProxyBinary, self, workDir, mode, upstreamRoot)
		started = append(started, modeProcesses...)
		if err != nil {
			return nil, nil, stopAll, err
		}
		targets = append(targets, modeTargets...)
	}

	pids := []int{os.Getpid()}
	for _, p := range started {
		pids = append(pids, p.command.Process.Pid)
	}
	return targets, pids, stopAll, nil
}

// startModeTargets starts the bare ReverseProxy and the proxy of one API
// mode in front of the upstream at upstreamRoot. In GraphQL mode both
// forward to the upstream's /graphql, in REST mode to its root. It returns
// the mode's three targets and the processes it started, also after an
// error.
func startModeTargets(ctx context.Context, proxyBinary, self, workDir string, mode apiMode, upstreamRoot string) ([]target, []*process, error) {
	var started []*process
	upstreamURL := upstreamRoot
	if mode == modeGraphQL {
		upstreamURL += "/graphql"
	}

	bareAddress, err := freeLoopbackAddress()
	if err != nil {
		return nil, started, err
	}
	bareName := fmt.Sprintf("%s (%s)", targetBare, mode)
	bare, err := startProcess(ctx, bareName, filepath.Join(workDir, fmt.Sprintf("reverseproxy-%s.log", mode)), os.Environ(),
		self, "reverseproxy", "--listen", bareAddress, "--target", upstreamURL)
	if err != nil {
		return nil, started, err
	}
	started = append(started, bare)
	if err := bare.waitReady(ctx, "http://"+bareAddress+"/"); err != nil {
		return nil, started, err
	}

	proxyAddress, key, proxyProcess, err := startProxy(ctx, proxyBinary, workDir, mode, upstreamURL)
	if proxyProcess != nil {
		started = append(started, proxyProcess)
	}
	if err != nil {
		return nil, started, err
	}

	// Every target gets the same headers, so the request bytes are the same.
	// Only the proxy reads the Authorization header.
	authorization := "Bearer " + key
	if mode == modeGraphQL {
		return []target{
			{Name: targetUpstream, Mode: mode, URL: upstreamURL, Authorization: authorization},
			{Name: targetBare, Mode: mode, URL: "http://" + bareAddress + "/", Authorization: authorization},
			{Name: targetProxy, Mode: mode, URL: "http://" + proxyAddress + "/", Authorization: authorization},
		}, started, nil
	}
	return []target{
		{Name: targetUpstream, Mode: mode, URL: upstreamRoot, Authorization: authorization},
		{Name: targetBare, Mode: mode, URL: "http://" + bareAddress, Authorization: authorization},
		{Name: targetProxy, Mode: mode, URL: "http://" + proxyAddress, Authorization: authorization},
	}, started, nil
}

// proxyLogName is the file name, in the work directory, of the log of the
// proxy process of mode. The GraphQL name predates REST mode in the tool.
func proxyLogName(mode apiMode) string {
	if mode == modeGraphQL {
		return "prefect-auth-proxy.log"
	}
	return fmt.Sprintf("prefect-auth-proxy-%s.log", mode)
}

// startProxy creates an API key in a new SQLite database with the proxy's
// own keys create command, then starts the proxy on that database with
// LOG_LEVEL=error and API_SERVICE_URL=upstreamURL, which selects the mode:
// GraphQL when the path ends in /graphql, REST otherwise. The key has
// keyScopes in GraphQL mode and restKeyScopes in REST mode. It returns the
// listen address, the key and the process.
func startProxy(ctx context.Context, binary, workDir string, mode apiMode, upstreamURL string) (string, string, *process, error) {
	databaseName, scopes := "keys.db", keyScopes
	if mode == modeREST {
		databaseName, scopes = "keys-rest.db", restKeyScopes
	}
	databaseEnv := []string{"DB_TYPE=sqlite", "DB_DATABASE=" + filepath.Join(workDir, databaseName)}

	key, err := createKey(ctx, binary, scopes, proxyEnviron(databaseEnv))
	if err != nil {
		return "", "", nil, err
	}

	address, err := freeLoopbackAddress()
	if err != nil {
		return "", "", nil, err
	}
	host, port, _ := strings.Cut(address, ":")
	serveEnv := slices.Concat(databaseEnv, []string{
		"API_SERVICE_URL=" + upstreamURL,
		"HOST=" + host,
		"PORT=" + port,
		"LOG_LEVEL=error",
	})
	if mode == modeGraphQL {
		// A fixed tenant keeps the proxy from asking the fake upstream for
		// it at start-up. REST mode has no tenants.
		serveEnv = append(serveEnv,
			"TENANT_ID=00000000-0000-4000-8000-000000000001",
			"TENANT_NAME=loadtest",
			"TENANT_SLUG=loadtest",
		)
	}

	name := fmt.Sprintf("%s (%s)", targetProxy, mode)
	proxyProcess, err := startProcess(ctx, name, filepath.Join(workDir, proxyLogName(mode)), proxyEnviron(serveEnv), binary, "serve")
	if err != nil {
		return "", "", nil, err
	}
	if err := proxyProcess.waitReady(ctx, "http://"+address+"/healthcheck"); err != nil {
		return "", "", proxyProcess, err
	}
	return address, key, proxyProcess, nil
}

// proxyEnviron returns settings plus the few variables of this process that
// the proxy may need: PATH, TMPDIR and the Go runtime's tuning variables.
// GOGC or GOMAXPROCS set for the run thus apply to the proxy too. Other
// settings in the environment, such as DB_HOST, do not leak into the run.
func proxyEnviron(settings []string) []string {
	environ := append([]string(nil), settings...)
	for _, name := range []string{"PATH", "TMPDIR", "GOGC", "GOMAXPROCS", "GOMEMLIMIT", "GODEBUG"} {
		if value, ok := os.LookupEnv(name); ok {
			environ = append(environ, name+"="+value)
		}
	}
	return environ
}

// createKey runs "prefect-auth-proxy keys create" with scopes and returns
// the printed key. The key stays in memory and is never printed by the load
// test.
func createKey(ctx context.Context, binary, scopes string, environ []string) (string, error) {
	command := exec.CommandContext(ctx, binary, "keys", "create", "--user", "loadtest", "--scopes", scopes, "--expires", "1d")
	command.Env = environ
	var stdout, stderr bytes.Buffer
	command.Stdout = &stdout
	command.Stderr = &stderr

	if err := command.Run(); err != nil {
		return "", fmt.Errorf("create API key with %s keys create: %w: %s", binary, err, strings.TrimSpace(stderr.String()))
	}
	key := strings.TrimSpace(stdout.String())
	if key == "" || strings.ContainsAny(key, " \n") {
		return "", errors.New("create API key: keys create printed no single key on stdout")
	}
	return key, nil
}

// verifyTarget sends one request of the scenario and checks that the
// response is 200 with the upstream's exact body. By default the proxy
// responds to a denied GraphQL request with 200 and an errors body, so the
// status alone does not show that the request was forwarded.
func verifyTarget(ctx context.Context, t target, s scenario) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()

	request, err := newScenarioRequest(ctx, t.URL, s, t.Authorization)
	if err != nil {
		return fmt.Errorf("check %s with %s: %w", t.Name, s.Name, err)
	}

	response, err := http.DefaultClient.Do(request)
	if err != nil {
		return fmt.Errorf("check %s with %s: %w", t.Name, s.Name, err)
	}
	defer response.Body.Close()
	body, err := io.ReadAll(io.LimitReader(response.Body, maxUpstreamBody))
	if err != nil {
		return fmt.Errorf("check %s with %s: read response: %w", t.Name, s.Name, err)
	}

	if want := upstreamResponse(s.Path, s.Body); response.StatusCode != http.StatusOK || !bytes.Equal(body, want) {
		return fmt.Errorf("check %s with %s: got HTTP %d with body %.300q, want HTTP 200 with the upstream's response (%d bytes)",
			t.Name, s.Name, response.StatusCode, body, len(want))
	}
	return nil
}

// newScenarioRequest builds the request that wrk sends for s to the target
// at baseURL: the scenario's method, baseURL followed by its path, and its
// body with Content-Type: application/json when it has one.
func newScenarioRequest(ctx context.Context, baseURL string, s scenario, authorization string) (*http.Request, error) {
	var body io.Reader
	if s.Body != nil {
		body = bytes.NewReader(s.Body)
	}
	request, err := http.NewRequestWithContext(ctx, s.Method, baseURL+s.Path, body)
	if err != nil {
		return nil, fmt.Errorf("build %s request: %w", s.Method, err)
	}

	if s.Body != nil {
		request.Header.Set("Content-Type", "application/json")
	}
	request.Header.Set("Authorization", authorization)
	return request, nil
}

// warnAboutProxyErrors prints the number of error lines in the proxy's log,
// so that a run with upstream or key store failures does not pass unseen.
// LOG_LEVEL=error leaves only errors and the audit trail in that log. Lines
// with status=499 are counted separately. They are requests that wrk
// abandoned when a run ended, which the proxy logs as errors.
func warnAboutProxyErrors(logPath string, stderr io.Writer) {
	file, err := os.Open(logPath)
	if err != nil {
		fmt.Fprintf(stderr, "loadtest: read proxy log: %v\n", err)
		return
	}
	defer file.Close()

	// The log contains an audit line for every forwarded mutation, tens to
	// hundreds of megabytes after a run, so it is scanned line by line.
	errorLines, abandoned := 0, 0
	scanner := bufio.NewScanner(file)
	scanner.Buffer(make([]byte, 64<<10), 1<<20)
	for scanner.Scan() {
		line := scanner.Bytes()
		if !bytes.Contains(line, []byte("level=ERROR")) {
			continue
		}
		if bytes.Contains(line, []byte(" status=499 ")) {
			abandoned++
			continue
		}
		errorLines++
	}
	if err := scanner.Err(); err != nil {
		fmt.Fprintf(stderr, "loadtest: read proxy log: %v\n", err)
	}

	if abandoned > 0 {
		fmt.Fprintf(stderr, "the proxy logged %d requests abandoned by wrk at the end of a run (status=499) in %s\n", abandoned, filepath.Base(logPath))
	}
	if errorLines > 0 {
		fmt.Fprintf(stderr, "loadtest: the proxy logged %d other errors. Rerun with --keep-work-dir to keep its log, %s\n", errorLines, logPath)
	}
}
