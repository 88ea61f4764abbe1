package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// bridgePackage is the product's command, built for every run.
const bridgePackage = "github.com/wampbridge/grpcwamp/cmd/bridge"

// startTimeout bounds how long a child may take to report its address and,
// for the bridge, to become ready.
const startTimeout = 30 * time.Second

// A child is a process the harness started: the upstream, the relay or
// the bridge. Its stderr goes to a log file in the run's temporary
// directory.
type child struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	stdin   io.Closer     // a role's stdin; nil for the bridge
	stopped bool          // stop was called: an exit is no failure
	exited  chan struct{} // closed when the process has exited
	waitErr error         // valid once exited is closed
	copied  chan struct{} // closed when stderr is copied to the log in full
}

// startChild starts cmd with its stderr copied to dir/name.log. Each line
// of stderr is also passed to onLine (may be nil) until it returns true.
// It sets up the process to die with the harness (see setDeathSignal).
func startChild(name, dir string, cmd *exec.Cmd, onLine func(string) bool) (*child, error) {
	logPath := filepath.Join(dir, name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("%s: log file: %w", name, err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		logFile.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	setDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("%s: start %s: %w", name, cmd.Path, err)
	}
	c := &child{name: name, cmd: cmd, logPath: logPath, exited: make(chan struct{}), copied: make(chan struct{})}
	go func() {
		defer close(c.copied)
		defer logFile.Close()
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logFile, line)
			if onLine != nil && onLine(line) {
				onLine = nil
			}
		}
		// Drain what a line too long for the scanner left.
		_, _ = io.Copy(logFile, stderr)
	}()
	go func() {
		<-c.copied // Wait closes the pipe: read it all first
		c.waitErr = cmd.Wait()
		close(c.exited)
	}()
	return c, nil
}

// stop asks the process to end with SIGTERM, kills it after grace, and
// waits for it. It may be called more than once.
func (c *child) stop(grace time.Duration) {
	c.stopped = true
	if c.stdin != nil {
		c.stdin.Close()
	}
	select {
	case <-c.exited:
		return
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
	case <-time.After(grace):
		_ = c.cmd.Process.Kill()
		<-c.exited
	}
}

// failure returns an error when the child exited before stop was called,
// else nil. stop and failure are called from one goroutine.
func (c *child) failure() error {
	if c.stopped {
		return nil
	}
	select {
	case <-c.exited:
		return fmt.Errorf("%s exited early: %v (log: %s)", c.name, c.waitErr, c.logPath)
	default:
		return nil
	}
}

// diedWithin waits up to d for the child to exit, unless stop was called,
// and returns failure's error. A failing measurement calls it: the
// socket's end may reach the harness before the child's exit does.
func (c *child) diedWithin(d time.Duration) error {
	if c.stopped {
		return nil
	}
	select {
	case <-c.exited:
	case <-time.After(d):
	}
	return c.failure()
}

// logTail returns the last lines of the child's log, at most n.
func (c *child) logTail(n int) string {
	b, err := os.ReadFile(c.logPath)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", c.logPath, err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return "(nothing)"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("... (%d lines before; full log: %s)", len(lines)-n, c.logPath)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// buildBridge builds the product binary into dir and returns its path.
func buildBridge(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "bridge")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, bridgePackage)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build %s (run bridgebench from inside the repository): %w\n%s", bridgePackage, err, out.String())
	}
	return bin, nil
}

// addEnv adds env, NAME=VALUE settings, to the environment cmd would
// otherwise inherit from bridgebench.
func addEnv(cmd *exec.Cmd, env []string) {
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
}

// startRoleProcess runs self (this command's executable) with args, in
// one of its roles, as the child name, with env (NAME=VALUE settings)
// added to its environment, and returns it with the first lines lines of
// its stdout: the addresses it serves.
func startRoleProcess(ctx context.Context, name, self, dir string, args, env []string, lines int) (*child, []string, error) {
	cmd := exec.Command(self, args...)
	addEnv(cmd, env)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	c, err := startChild(name, dir, cmd, nil)
	if err != nil {
		return nil, nil, err
	}
	c.stdin = stdin
	addrc := make(chan []string, 1)
	go func() {
		r := bufio.NewReader(stdout)
		var addrs []string
		for range lines {
			line, _ := r.ReadString('\n')
			if line = strings.TrimSpace(line); line == "" {
				break
			}
			addrs = append(addrs, line)
		}
		addrc <- addrs
		_, _ = io.Copy(io.Discard, r)
	}()
	select {
	case addrs := <-addrc:
		if len(addrs) < lines {
			// Its stdout ended: it is likely exiting. Ask why before stop,
			// after which an exit is no failure.
			ferr := c.diedWithin(time.Second)
			c.stop(time.Second)
			return c, nil, fmt.Errorf("%s reported %d of its %d addresses: %v", name, len(addrs), lines, ferr)
		}
		return c, addrs, nil
	case <-time.After(startTimeout):
		c.stop(time.Second)
		return c, nil, fmt.Errorf("%s did not report its addresses within %v", name, startTimeout)
	case <-ctx.Done():
		c.stop(time.Second)
		return c, nil, ctx.Err()
	}
}

// startUpstreamProcess runs the upstream role and returns it with its
// gRPC address and the address of its TCP echo server.
func startUpstreamProcess(ctx context.Context, self, dir string) (c *child, grpcAddr, echoAddr string, err error) {
	c, addrs, err := startRoleProcess(ctx, "upstream", self, dir, []string{upstreamRoleArg}, nil, 2)
	if err != nil {
		return c, "", "", err
	}
	return c, addrs[0], addrs[1], nil
}

// startRelayProcess runs the relay role in front of the echo server at
// echoAddr and returns it with its address.
func startRelayProcess(ctx context.Context, self, dir, echoAddr string) (*child, string, error) {
	c, addrs, err := startRoleProcess(ctx, "relay", self, dir, []string{relayRoleArg, echoAddr}, nil, 1)
	if err != nil {
		return c, "", err
	}
	return c, addrs[0], nil
}

// startProxyProcess runs the gRPC proxy role in front of upstream, with
// env added to its environment (the bridge's settings: see
// startBridgeProcess), and returns it with its address.
func startProxyProcess(ctx context.Context, self, dir, upstream string, env []string) (*child, string, error) {
	c, addrs, err := startRoleProcess(ctx, "gRPC proxy", self, dir, []string{proxyRoleArg, upstream}, env, 1)
	if err != nil {
		return c, "", err
	}
	return c, addrs[0], nil
}

// startWSRelayProcess runs the WebSocket relay of the reference figures in
// front of upstream, with env added to its environment as to the
// bridge's, and returns it and its WebSocket URL.
func startWSRelayProcess(ctx context.Context, self, dir, upstream string, env []string) (*child, string, error) {
	c, urls, err := startRoleProcess(ctx, "WebSocket relay", self, dir, []string{wsRelayRoleArg, upstream}, env, 1)
	if err != nil {
		return c, "", err
	}
	return c, urls[0], nil
}

// bannerMarker precedes the WebSocket URL in the bridge's start banner
// (cmd/bridge/serve.go).
const bannerMarker = "serving WAMP v1 on "

// pprofMarker precedes the URL of the Go profiles in the banner.
const pprofMarker = "pprof: "

// startBridgeProcess runs the bridge binary in front of upstream, on a
// port of 127.0.0.1 that the system chooses, with no session limit, and
// waits until it is ready (/readyz). It returns the WebSocket URL, the
// base URL of its HTTP endpoints, and the base URL of its Go profiles
// (-debug-listen), through which the memory figure forces a collection.
//
// name names the process in errors and its log, name.log in dir. env,
// NAME=VALUE settings such as GOMAXPROCS=1, is added to the bridge's
// environment, which is otherwise bridgebench's own.
func startBridgeProcess(ctx context.Context, name, bin, upstream, dir string, env []string) (c *child, wsURL, httpURL, pprofURL string, err error) {
	cmd := exec.Command(bin, "serve", "-listen", "127.0.0.1:0", "-upstream", upstream,
		"-max-sessions", "0", "-log-level", "warn", "-shutdown-grace", "1s", "-debug-listen", "127.0.0.1:0")
	addEnv(cmd, env)
	urlc := make(chan string, 1)
	pprofc := make(chan string, 1)
	c, err = startChild(name, dir, cmd, func(line string) bool {
		_, rest, ok := strings.Cut(line, bannerMarker)
		if !ok {
			return false
		}
		u, _, _ := strings.Cut(rest, " ")
		_, p, _ := strings.Cut(rest, pprofMarker)
		p, _, _ = strings.Cut(p, ")")
		urlc <- u
		pprofc <- p
		return true
	})
	if err != nil {
		return nil, "", "", "", err
	}
	select {
	case wsURL = <-urlc:
	case <-c.exited:
		return c, "", "", "", c.failure()
	case <-time.After(startTimeout):
		c.stop(time.Second)
		return c, "", "", "", fmt.Errorf("%s printed no banner within %v (log: %s)", name, startTimeout, c.logPath)
	case <-ctx.Done():
		c.stop(time.Second)
		return c, "", "", "", ctx.Err()
	}
	rest, ok := strings.CutPrefix(wsURL, "ws://")
	if !ok {
		c.stop(time.Second)
		return c, "", "", "", fmt.Errorf("%s banner: URL %q does not start with ws://", name, wsURL)
	}
	host, _, _ := strings.Cut(rest, "/")
	httpURL = "http://" + host
	if err := waitReady(ctx, c, httpURL+"/readyz"); err != nil {
		c.stop(time.Second)
		return c, "", "", "", err
	}
	return c, wsURL, httpURL, <-pprofc, nil
}

// httpClient makes the harness's requests to the bridge (/readyz,
// /metrics). Without keep-alives no connection outlives a request, so no
// goroutine of the client outlives the run.
var httpClient = &http.Client{
	Transport: &http.Transport{DisableKeepAlives: true},
	Timeout:   startTimeout,
}

// waitReady polls url until it answers 200, the child exits, or
// startTimeout passes. Polling is fine here: this is not a test, and the
// bridge offers no readiness notification.
func waitReady(ctx context.Context, c *child, url string) error {
	deadline := time.Now().Add(startTimeout)
	var last string
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := httpClient.Do(req)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Sprintf("%s: %s", resp.Status, strings.TrimSpace(string(body)))
		} else {
			last = err.Error()
		}
		if err := c.failure(); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bridge not ready within %v: GET %s: %s", startTimeout, url, last)
		}
		select {
		case <-time.After(50 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
