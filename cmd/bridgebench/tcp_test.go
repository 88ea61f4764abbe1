package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"strings"
	"testing"
)

// startRole runs a role in this process with pipes for stdin and stdout,
// reads the lines lines it reports, and returns them. The cleanup closes
// its stdin and checks that it returns exit status 0.
func startRole(t *testing.T, args []string, lines int) []string {
	t.Helper()
	stdinR, stdinW := io.Pipe()
	stdoutR, stdoutW := io.Pipe()
	code := make(chan int, 1)
	go func() {
		// Not t.Context(): it ends before the cleanup, and the role is to
		// end when its stdin does.
		c, ok := runRole(context.Background(), args, stdinR, stdoutW, testWriter{t})
		if !ok {
			c = -1
		}
		stdoutW.Close()
		code <- c
	}()
	t.Cleanup(func() {
		stdinW.Close()
		if c := <-code; c != exitOK {
			t.Errorf("role %q: exit status %d, want 0", args, c)
		}
	})
	r := bufio.NewReader(stdoutR)
	var out []string
	for range lines {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("role %q: read its addresses: %v", args, err)
		}
		out = append(out, strings.TrimSpace(line))
	}
	// Nothing else is written; the role's exit closes the pipe.
	go func() { _, _ = io.Copy(io.Discard, r) }()
	return out
}

// TestTCPRoles runs the upstream and the relay roles in this process and
// makes round trips to the echo server directly and through the relay,
// as a round of the benchmark does. The roles end when their stdin ends.
func TestTCPRoles(t *testing.T) {
	t.Parallel()
	up := startRole(t, []string{upstreamRoleArg}, 2)
	echoAddr := up[1]
	relay := startRole(t, []string{relayRoleArg, echoAddr}, 1)
	for _, tc := range []struct{ name, addr string }{{"echo", echoAddr}, {"relay", relay[0]}} {
		// No duration: the warm-up round trips and one measured.
		rtts, err := tcpLatency(t.Context(), tc.name, tc.addr, 0)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if len(rtts) != 1 || rtts[0] <= 0 {
			t.Errorf("%s: round trips %v, want one measured", tc.name, rtts)
		}
	}
}

// TestRelayClosesWithUpstream: when its upstream closes, the relay closes
// the client's connection, and the figure fails instead of waiting.
func TestRelayClosesWithUpstream(t *testing.T) {
	t.Parallel()
	closer, err := startTCP("closer", testWriter{t}, func(context.Context, net.Conn) {})
	if err != nil {
		t.Fatal(err)
	}
	defer closer.stop()
	rl, err := startRelay(closer.addr(), testWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	defer rl.stop()
	if _, err := tcpLatency(t.Context(), "relay", rl.addr(), 0); err == nil {
		t.Error("round trips through a relay whose upstream closes: no error")
	}
}
