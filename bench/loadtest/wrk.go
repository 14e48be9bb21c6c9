package main

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"
)

// wrkScript is the Lua script that sets the request and prints the result
// line that parseWrkOutput reads.
//
//go:embed request.lua
var wrkScript []byte

// resultPrefix starts the line that request.lua's done function prints.
const resultPrefix = "LOADTEST_RESULT "

// wrkResult is the JSON that request.lua prints. Times are in microseconds.
type wrkResult struct {
	Requests          int64     `json:"requests"`
	DurationMicros    int64     `json:"duration_us"`
	RequestsPerSecond float64   `json:"requests_per_second"`
	Bytes             int64     `json:"bytes"`
	LatencyMeanMicros float64   `json:"latency_mean_us"`
	LatencyMaxMicros  int64     `json:"latency_max_us"`
	LatencyP50Micros  int64     `json:"latency_p50_us"`
	LatencyP90Micros  int64     `json:"latency_p90_us"`
	LatencyP99Micros  int64     `json:"latency_p99_us"`
	Errors            wrkErrors `json:"errors"`
	// CPU is the user and system CPU time wrk used, from its exit status.
	CPU time.Duration `json:"-"`
}

// wrkErrors are wrk's error counters. Status counts responses with a status
// above 399.
type wrkErrors struct {
	Connect int64 `json:"connect"`
	Read    int64 `json:"read"`
	Write   int64 `json:"write"`
	Status  int64 `json:"status"`
	Timeout int64 `json:"timeout"`
}

// Total returns the sum of all error counters.
func (e wrkErrors) Total() int64 {
	return e.Connect + e.Read + e.Write + e.Status + e.Timeout
}

// wrkRun is one invocation of wrk.
type wrkRun struct {
	Binary        string // path or name of the wrk executable
	ScriptPath    string // request.lua written to disk
	BodyPath      string // request body file; an empty file sends no body
	Method        string // HTTP method; empty means POST
	URL           string
	Authorization string // Authorization header value; empty sends none
	Threads       int
	Connections   int
	Duration      time.Duration // whole seconds, as wrk takes them
}

// args returns wrk's command line. wrk rejects fewer connections than
// threads, so the thread count is lowered to the connection count.
func (w wrkRun) args() []string {
	threads := min(w.Threads, w.Connections)
	method := w.Method
	if method == "" {
		method = http.MethodPost
	}
	return []string{
		"-t", strconv.Itoa(threads),
		"-c", strconv.Itoa(w.Connections),
		"-d", strconv.Itoa(int(w.Duration/time.Second)) + "s",
		"--timeout", "10s",
		"-s", w.ScriptPath,
		w.URL,
		"--", w.BodyPath, method,
	}
}

// Run runs wrk and returns its parsed result. The command is killed when ctx
// ends or when it runs 30 s past its duration.
func (w wrkRun) Run(ctx context.Context, environ []string) (wrkResult, error) {
	ctx, cancel := context.WithTimeout(ctx, w.Duration+30*time.Second)
	defer cancel()

	command := exec.CommandContext(ctx, w.Binary, w.args()...)
	command.Env = append(slices.Clone(environ), "LOADTEST_AUTHORIZATION="+w.Authorization)
	var stdout, stderr bytes.Buffer
	command.Stdout = &stdout
	command.Stderr = &stderr

	if err := command.Run(); err != nil {
		return wrkResult{}, fmt.Errorf("run wrk on %s: %w: %s", w.URL, err, strings.TrimSpace(stderr.String()))
	}

	result, err := parseWrkOutput(stdout.Bytes())
	if err != nil {
		return wrkResult{}, fmt.Errorf("run wrk on %s: %w", w.URL, err)
	}
	result.CPU = command.ProcessState.UserTime() + command.ProcessState.SystemTime()
	return result, nil
}

// parseWrkOutput finds the result line in wrk's standard output and decodes
// it. wrk's own summary lines around it are ignored.
func parseWrkOutput(output []byte) (wrkResult, error) {
	scanner := bufio.NewScanner(bytes.NewReader(output))
	for scanner.Scan() {
		text, found := strings.CutPrefix(scanner.Text(), resultPrefix)
		if !found {
			continue
		}

		var result wrkResult
		if err := json.Unmarshal([]byte(text), &result); err != nil {
			return wrkResult{}, fmt.Errorf("parse wrk result line: %w", err)
		}
		if result.Requests == 0 {
			return wrkResult{}, errors.New("parse wrk result line: wrk completed no request")
		}
		return result, nil
	}
	if err := scanner.Err(); err != nil {
		return wrkResult{}, fmt.Errorf("read wrk output: %w", err)
	}
	return wrkResult{}, fmt.Errorf("wrk output has no %q line: was request.lua loaded?", strings.TrimSpace(resultPrefix))
}

// wrkVersion returns the version part of the first line of wrk -v, such as
// "wrk debian/4.1.0-3+b2 [epoll]". wrk -v exits with status 1, so only the
// output is checked.
func wrkVersion(ctx context.Context, binary string) (string, error) {
	output, err := exec.CommandContext(ctx, binary, "-v").CombinedOutput()
	first, _, _ := strings.Cut(string(output), "\n")
	if !strings.HasPrefix(first, "wrk") {
		return "", fmt.Errorf("run %s -v: %v: output %q", binary, err, first)
	}
	version, _, _ := strings.Cut(first, " Copyright")
	return strings.TrimSpace(version), nil
}
