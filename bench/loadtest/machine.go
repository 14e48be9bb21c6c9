package main

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// machine describes the computer a report was measured on. A value that
// cannot be read is "unknown".
type machine struct {
	CPUs      int
	CPUModel  string
	Memory    string
	OS        string
	Kernel    string
	GoVersion string // Go version that built the loadtest binary
	// LoadAverage is the 1-, 5- and 15-minute load average from
	// /proc/loadavg when the run started. Other programs running then take
	// CPU time from the measured processes.
	LoadAverage string
}

func readMachine() machine {
	return machine{
		CPUs:        runtime.NumCPU(),
		CPUModel:    procField("/proc/cpuinfo", "model name"),
		Memory:      memoryTotal(),
		OS:          osName(),
		Kernel:      firstLine("/proc/sys/kernel/osrelease"),
		GoVersion:   runtime.Version(),
		LoadAverage: loadAverage(),
	}
}

// procField returns the value of the first "name : value" line in a /proc
// file.
func procField(path, name string) string {
	file, err := os.Open(path)
	if err != nil {
		return "unknown"
	}
	defer file.Close()

	scanner := bufio.NewScanner(file)
	for scanner.Scan() {
		key, value, found := strings.Cut(scanner.Text(), ":")
		if found && strings.TrimSpace(key) == name {
			return strings.TrimSpace(value)
		}
	}
	return "unknown"
}

// memoryTotal returns MemTotal from /proc/meminfo in GiB.
func memoryTotal() string {
	fields := strings.Fields(procField("/proc/meminfo", "MemTotal"))
	if len(fields) != 2 || fields[1] != "kB" {
		return "unknown"
	}
	kibibytes, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return "unknown"
	}
	return strconv.FormatFloat(kibibytes/(1<<20), 'f', 1, 64) + " GiB"
}

// osName returns PRETTY_NAME from /etc/os-release.
func osName() string {
	content, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return "unknown"
	}
	for line := range strings.Lines(string(content)) {
		if value, found := strings.CutPrefix(strings.TrimSpace(line), "PRETTY_NAME="); found {
			return strings.Trim(value, `"`)
		}
	}
	return "unknown"
}

func firstLine(path string) string {
	content, err := os.ReadFile(path)
	if err != nil {
		return "unknown"
	}
	line, _, _ := strings.Cut(string(content), "\n")
	return strings.TrimSpace(line)
}

func loadAverage() string {
	fields := strings.Fields(firstLine("/proc/loadavg"))
	if len(fields) < 3 {
		return "unknown"
	}
	return strings.Join(fields[:3], " ")
}
