// Package procstat samples another process's CPU time and resident memory
// from /proc, so a load run can report the server's cost next to its
// throughput. Linux only; it depends only on the standard library.
package procstat

import (
	"bytes"
	"errors"
	"os"
	"strconv"
	"time"
)

// clockTicks is USER_HZ; 100 on every Linux the project runs on.
const clockTicks = 100

// CPUTime returns the user+system CPU time consumed by pid so far.
func CPUTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("procstat: malformed stat")
	}
	f := bytes.Fields(b[i+1:])
	// f[0] is field 3 (state); utime is field 14, stime field 15.
	if len(f) < 13 {
		return 0, errors.New("procstat: short stat")
	}
	ut, err1 := strconv.ParseUint(string(f[11]), 10, 64)
	st, err2 := strconv.ParseUint(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("procstat: bad cpu fields")
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// RSS returns the resident set size of pid in bytes (VmRSS).
func RSS(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	i := bytes.Index(b, []byte("VmRSS:"))
	if i < 0 {
		return 0, errors.New("procstat: no VmRSS")
	}
	f := bytes.Fields(b[i+len("VmRSS:"):])
	if len(f) < 1 {
		return 0, errors.New("procstat: bad VmRSS")
	}
	kb, err := strconv.ParseInt(string(f[0]), 10, 64)
	if err != nil {
		return 0, err
	}
	return kb << 10, nil
}

// CPUMeter measures a process's CPU use as a percentage of one core over
// an interval. The zero value with Pid 0 measures nothing.
type CPUMeter struct {
	Pid   int
	t0    time.Time
	cpu0  time.Duration
	valid bool
}

// Start begins an interval.
func (m *CPUMeter) Start() {
	if m.Pid <= 0 {
		return
	}
	c, err := CPUTime(m.Pid)
	m.t0, m.cpu0, m.valid = time.Now(), c, err == nil
}

// Percent returns the CPU use since Start (100 = one full core) and
// starts a new interval.
func (m *CPUMeter) Percent() float64 {
	if m.Pid <= 0 || !m.valid {
		return 0
	}
	c, err := CPUTime(m.Pid)
	now := time.Now()
	if err != nil {
		m.valid = false
		return 0
	}
	el := now.Sub(m.t0)
	p := 0.0
	if el > 0 {
		p = 100 * float64(c-m.cpu0) / float64(el)
	}
	m.t0, m.cpu0 = now, c
	return p
}

// RunDelay returns the total time the threads of pid have spent runnable
// but waiting for a CPU (/proc/PID/task/*/schedstat, second field). A
// large share of wall time means the measurement competed with other load.
func RunDelay(pid int) (time.Duration, error) {
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	var total int64
	for _, e := range ents {
		b, err := os.ReadFile(dir + "/" + e.Name() + "/schedstat")
		if err != nil {
			continue // thread exited
		}
		f := bytes.Fields(b)
		if len(f) >= 2 {
			v, _ := strconv.ParseInt(string(f[1]), 10, 64)
			total += v
		}
	}
	return time.Duration(total), nil
}
