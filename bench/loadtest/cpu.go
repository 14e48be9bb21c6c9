package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicksPerSecond is USER_HZ, the unit of the CPU times in /proc/stat
// and /proc/PID/stat. Linux fixes it at 100 on the common architectures
// (getconf CLK_TCK prints it); Go has no portable way to read it.
const clockTicksPerSecond = 100

// cpuCounters are cumulative CPU times, in clock ticks, of the whole machine
// and of the processes the load test runs.
type cpuCounters struct {
	machineBusy int64
	measured    int64
}

// readCPUCounters reads the busy time of all CPUs and the CPU time of the
// given processes. A process that has exited counts as zero.
func readCPUCounters(pids []int) (cpuCounters, error) {
	busy, err := machineBusyTicks()
	if err != nil {
		return cpuCounters{}, err
	}

	var measured int64
	for _, pid := range pids {
		ticks, err := processTicks(pid)
		if err != nil {
			continue
		}
		measured += ticks
	}
	return cpuCounters{machineBusy: busy, measured: measured}, nil
}

// otherCPUShare returns the share of the machine's CPU capacity during
// elapsed that went to processes other than the measured ones and wrk,
// whose CPU time wrkCPU was taken from its exit status. It is an estimate:
// kernel work that Linux does not charge to a process, such as some
// loopback packet handling, counts as other.
func otherCPUShare(before, after cpuCounters, wrkCPU, elapsed time.Duration, cpus int) float64 {
	if elapsed <= 0 || cpus <= 0 {
		return 0
	}
	busy := float64(after.machineBusy-before.machineBusy) / clockTicksPerSecond
	measured := float64(after.measured-before.measured)/clockTicksPerSecond + wrkCPU.Seconds()
	return max(0, busy-measured) / (elapsed.Seconds() * float64(cpus))
}

// machineBusyTicks returns the non-idle time of all CPUs from the first line
// of /proc/stat: user, nice, system, irq, softirq and steal. Guest time is
// already part of user and nice.
func machineBusyTicks() (int64, error) {
	line := firstLine("/proc/stat")
	fields := strings.Fields(line)
	if len(fields) < 9 || fields[0] != "cpu" {
		return 0, fmt.Errorf("read /proc/stat: unexpected first line %q", line)
	}

	var busy int64
	for _, index := range []int{1, 2, 3, 6, 7, 8} {
		value, err := strconv.ParseInt(fields[index], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("read /proc/stat: field %d of %q: %w", index, line, err)
		}
		busy += value
	}
	return busy, nil
}

// processTicks returns utime plus stime of a process from /proc/PID/stat.
func processTicks(pid int) (int64, error) {
	content, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read CPU time of process %d: %w", pid, err)
	}
	return parseProcessTicks(string(content))
}

// parseProcessTicks reads utime and stime, fields 14 and 15 of a
// /proc/PID/stat line. The command name in field 2 may contain spaces and
// parentheses, so the fields are counted from the last ')'.
func parseProcessTicks(stat string) (int64, error) {
	end := strings.LastIndexByte(stat, ')')
	if end < 0 {
		return 0, fmt.Errorf("parse /proc/PID/stat: no ')' in %.80q", stat)
	}
	// fields[0] is field 3 (state), so utime is fields[11].
	fields := strings.Fields(stat[end+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("parse /proc/PID/stat: %d fields after the command name, want at least 13", len(fields))
	}

	utime, err := strconv.ParseInt(fields[11], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse /proc/PID/stat utime: %w", err)
	}
	stime, err := strconv.ParseInt(fields[12], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse /proc/PID/stat stime: %w", err)
	}
	return utime + stime, nil
}
