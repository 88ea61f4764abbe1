package main

import (
	"context"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain serves the upstream, the relay or the gRPC proxy role when the
// smoke test runs this test binary as one of them, as the command runs
// itself.
func TestMain(m *testing.M) {
	if code, ok := runRole(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr); ok {
		os.Exit(code)
	}
	goleak.VerifyTestMain(m)
}
