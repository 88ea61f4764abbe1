package main

import (
	"os/exec"
	"syscall"
)

// setDeathSignal makes the kernel kill the child when the harness dies,
// even by SIGKILL, so that no upstream or bridge outlives a run.
func setDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// raiseFileLimit raises the soft RLIMIT_NOFILE of this process to its hard
// limit and returns the new soft limit. Setting it explicitly also makes
// the children inherit it: the Go runtime would otherwise give them back
// the limit the harness started with.
func raiseFileLimit() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	return lim.Cur, nil
}
