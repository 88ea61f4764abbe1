//go:build !linux

package main

import (
	"errors"
	"os/exec"
	"time"
)

// setDeathSignal does nothing here: only Linux has a parent-death signal.
// The harness still stops its children on every exit it sees.
func setDeathSignal(*exec.Cmd) {}

// raiseFileLimit is not implemented here: the run keeps the limit it has.
func raiseFileLimit() (uint64, error) {
	return 0, errors.New("raising RLIMIT_NOFILE is implemented on Linux only")
}

// processCPU is not implemented here: the report leaves out CPU time.
func processCPU(int) (time.Duration, error) {
	return 0, errors.New("reading a process's CPU time is implemented on Linux only")
}
