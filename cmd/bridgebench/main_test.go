package main

import (
	"context"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain serves the upstream role when the smoke test runs this test
// binary as the upstream, as the command runs itself.
func TestMain(m *testing.M) {
	if len(os.Args) == 2 && os.Args[1] == upstreamRoleArg {
		os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	goleak.VerifyTestMain(m)
}
