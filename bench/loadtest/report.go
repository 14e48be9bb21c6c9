package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// report is the Markdown output of the run command.
type report struct {
	Machine      machine
	WrkVersion   string
	Options      runOptions
	Measurements []measurement
}

// write prints the machine, the run parameters and the results table.
func (r report) write(w io.Writer) error {
	var b strings.Builder
	m := r.Machine
	fmt.Fprintf(&b, "Machine: %d CPUs (%s), %s memory, %s, kernel %s; loadtest built with %s; load average %s at the start.\n",
		m.CPUs, m.CPUModel, m.Memory, m.OS, m.Kernel, m.GoVersion, m.LoadAverage)
	fmt.Fprintf(&b, "Load generator: %s with %d threads (as many as connections when there are fewer), %s per measurement",
		r.WrkVersion, r.Options.Threads, r.Options.Duration)
	if r.Options.Warmup > 0 {
		fmt.Fprintf(&b, " after a %s warm-up per target and scenario", r.Options.Warmup)
	}
	b.WriteString(". wrk, the upstream, the bare ReverseProxy and the proxy run as separate processes on the same CPUs.")
	if slices.Contains(r.Options.Modes, modeREST) {
		b.WriteString(" The REST scenarios go through a second bare ReverseProxy and a second proxy, in REST mode with a role/viewer key, in front of the same upstream.")
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "Other CPU is the share of the machine's CPU time that other processes used during the measurement (an estimate from /proc); above %.0f %% the row was disturbed.\n\n", 100*busyThreshold)

	b.WriteString(resultsTable(r.Measurements))

	_, err := io.WriteString(w, b.String())
	return err
}

// resultsTable returns the Markdown table of the measurements, with the
// requests per second and latencies of each row divided by those of the
// upstream alone and of the bare ReverseProxy with the same scenario and
// connection count.
func resultsTable(measurements []measurement) string {
	var b strings.Builder
	b.WriteString("| Scenario | Connections | Target | Requests/s | p50 (ms) | p99 (ms) | Requests/s ÷ upstream | Requests/s ÷ bare proxy | p50 ÷ bare proxy | p99 ÷ bare proxy | Errors | Other CPU |\n")
	b.WriteString("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")

	for _, row := range measurements {
		upstream, hasUpstream := findMeasurement(measurements, row.Scenario, row.Connections, targetUpstream)
		bare, hasBare := findMeasurement(measurements, row.Scenario, row.Connections, targetBare)
		result := row.Result

		fmt.Fprintf(&b, "| %s | %d | %s | %.0f | %s | %s | %s | %s | %s | %s | %d | %s |\n",
			row.Scenario, row.Connections, row.Target,
			result.RequestsPerSecond,
			milliseconds(result.LatencyP50Micros), milliseconds(result.LatencyP99Micros),
			ratio(result.RequestsPerSecond, upstream.Result.RequestsPerSecond, hasUpstream),
			ratio(result.RequestsPerSecond, bare.Result.RequestsPerSecond, hasBare),
			ratio(float64(result.LatencyP50Micros), float64(bare.Result.LatencyP50Micros), hasBare),
			ratio(float64(result.LatencyP99Micros), float64(bare.Result.LatencyP99Micros), hasBare),
			result.Errors.Total(),
			percent(row.OtherCPU),
		)
	}
	return b.String()
}

func findMeasurement(measurements []measurement, scenarioName string, connections int, targetName string) (measurement, bool) {
	for _, m := range measurements {
		if m.Scenario == scenarioName && m.Connections == connections && m.Target == targetName {
			return m, true
		}
	}
	return measurement{}, false
}

// milliseconds formats microseconds as milliseconds with three decimals.
func milliseconds(micros int64) string {
	return fmt.Sprintf("%.3f", float64(micros)/1000)
}

// ratio formats value/base with two decimals, or "n/a" when there is no
// base or it is zero.
func ratio(value, base float64, hasBase bool) string {
	if !hasBase || base == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", value/base)
}

// percent formats a share from 0 to 1 as a whole percentage, or "n/a" for a
// negative share.
func percent(share float64) string {
	if share < 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.0f %%", 100*share)
}
