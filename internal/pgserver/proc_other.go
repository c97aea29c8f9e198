//go:build !linux

package pgserver

import "syscall"

// setDeathSignal does nothing: only Linux can signal a child when its parent
// dies. Stop the server with Server.Stop.
func setDeathSignal(*syscall.SysProcAttr) {}

// processesIn cannot tell without /proc; PostgreSQL's own postmaster.pid
// checks then decide.
func processesIn(string) ([]int, bool) { return nil, false }
