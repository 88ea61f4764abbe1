// Command bridge serves gRPC methods to WAMP v1 clients over WebSocket, and
// calls them as a WAMP v1 client.
//
//	bridge [serve] [-config FILE] [-print-config] [-listen ADDR] [-upstream TARGET]
//	       [-descriptor-set FILE] [-stream MODE] [flags of pub/sub, naming, security, TLS, limits ...]
//	bridge call [-stream MODE] [-timeout D] [-ca FILE] [-insecure-skip-verify] [-token TOKEN] URL PROCEDURE [ARG...]
//
// With no -upstream, serve runs the demo clock (demo.v1.ClockService) in
// process and bridges it. Run `bridge -h` or `bridge call -h` for every
// flag; the README's flags table lists them too. Every flag of serve but
// -print-config is also an environment variable (BRIDGE_MAX_SESSIONS for
// -max-sessions) and a key of the YAML file of -config; see config.go.
//
// Exit status: 0 on success; 1 when serving fails or the call ends with
// CALLERROR or a closed connection; 2 for bad usage, a bad setting or an
// unknown BRIDGE_ variable; 130 when a call was interrupted.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit statuses.
const (
	exitOK          = 0
	exitFailure     = 1
	exitUsage       = 2
	exitInterrupted = 130 // 128 + SIGINT, as shells report it
)

func main() {
	// The first SIGINT or SIGTERM cancels ctx: serve shuts down gracefully
	// and call cancels its call. Then the default handling comes back, so a
	// second Ctrl-C ends the process at once.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	context.AfterFunc(ctx, stop)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run runs the command line args (without the program name) and returns the
// exit status. Cancelling ctx is the user's interrupt.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "call":
			return callMain(ctx, args[1:], stdout, stderr)
		case "serve":
			return serveMain(ctx, args[1:], stdout, stderr)
		}
	}
	return serveMain(ctx, args, stdout, stderr)
}
