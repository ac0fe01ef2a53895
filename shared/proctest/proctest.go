// Package proctest reads what benchmarks report about their own process
// and machine from Linux's /proc and getrusage: resident memory and its
// high-water mark, CPU time, and the load average that says how shared
// the machine was while they ran.
package proctest

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// StatusKB reads one "kB" field of /proc/self/status (VmRSS, VmHWM); -1
// when /proc does not say.
func StatusKB(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return -1
			}
			return kb
		}
	}
	return -1
}

// ResetPeakRSS resets VmHWM to the current RSS (writing 5 to clear_refs,
// Linux ≥ 4.0), so a later VmHWM is the peak of what came after; false
// when the kernel refused.
func ResetPeakRSS() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// CPU is the process's user and system CPU time so far.
func CPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// LoadAverage is the 1, 5 and 15 minute load averages, "unknown" when
// /proc does not say.
func LoadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
