//go:build linux

package pgserver

import (
	"os"
	"strconv"
	"syscall"
)

// setDeathSignal has the kernel ask postgres for a fast shutdown when its
// parent dies, so that a killed rcm does not leave a server holding the data
// directory until someone finds it.
func setDeathSignal(attr *syscall.SysProcAttr) {
	attr.Pdeathsig = syscall.SIGINT
}

// processesIn lists the processes whose working directory is dir. Every
// PostgreSQL process changes into its data directory, so this finds a previous
// server and its orphaned backends even when postmaster.pid says nothing
// useful. ok is false when /proc cannot tell.
func processesIn(dir string) (pids []int, ok bool) {
	if _, err := os.Readlink("/proc/self/cwd"); err != nil {
		return nil, false
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, false
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		// Unreadable means gone or another user's; a server on our data
		// directory runs as us or, when we are root, is readable anyway.
		if cwd, err := os.Readlink("/proc/" + e.Name() + "/cwd"); err == nil && cwd == dir {
			pids = append(pids, pid)
		}
	}
	return pids, true
}
