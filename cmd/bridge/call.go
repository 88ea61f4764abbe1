package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/gorilla/websocket"
	rpccode "google.golang.org/genproto/googleapis/rpc/code"

	"github.com/wampbridge/grpcwamp/bridge"
	"github.com/wampbridge/grpcwamp/bridge/wampv1"
)

const (
	// cancelWait bounds the wait for the CALLERROR that answers CALL_CANCEL.
	cancelWait = 5 * time.Second
	// writeTimeout bounds each frame the client writes.
	writeTimeout = 10 * time.Second
	// handshakeTimeout bounds the WebSocket handshake.
	handshakeTimeout = 30 * time.Second
)

// callConfig is the parsed command line of `bridge call`.
type callConfig struct {
	url        string // with ?stream= when -stream was given
	procedure  string
	args       []json.RawMessage
	timeout    time.Duration // 0: none
	cancelWait time.Duration
	tls        *tls.Config // -ca, -insecure-skip-verify; nil: the system roots
	token      string      // -token or $BRIDGE_CALL_TOKEN, sent as Authorization: Bearer; "": none
}

// callTokenEnv is the variable of call's -token: unlike the flag, it does
// not show in ps. serve lets it through (readEnv), since it is no setting
// of serve.
const callTokenEnv = "BRIDGE_CALL_TOKEN"

// callUsageLine is the synopsis of call, in its usage, serve's and the
// package comment.
const callUsageLine = "bridge call [-stream MODE] [-timeout D] [-ca FILE] [-insecure-skip-verify] [-token TOKEN] URL PROCEDURE [ARG...]"

// callHint follows an error in the command line of call, as settingsHint
// does for serve: a line, not the whole usage after it.
const callHint = "(bridge call -h lists the flags)"

// callUsage prints the usage of call: what -h prints.
func callUsage(fs *flag.FlagSet) {
	fmt.Fprint(fs.Output(), "usage: "+callUsageLine+`

bridge call calls PROCEDURE as a WAMP v1 client of the server at URL
(ws://host:port/path, or wss:// over TLS). Each ARG that is valid JSON is sent as that value,
any other as a JSON string: 3 sends the number 3, '"3"' the string "3",
hello the string "hello", '{"count":3}' an object.

Each progressive result (CALL_PROGRESS_RESULT) is printed on stdout as one
line of JSON as it arrives, then the final result (CALLRESULT). A CALLERROR
is printed on stderr as "error: URI: description", followed by its details
when they say more (google.rpc.Status details, or a server's own).
Ctrl-C cancels the call (CALL_CANCEL) and waits for its CALLERROR.

A bearer token that the server requires goes in $`+callTokenEnv+`, which ps
does not show, or in -token; either is sent as Authorization: Bearer on the
WebSocket handshake.

Exit status: 0 result, 1 CALLERROR or failure, 2 usage, 130 interrupted.

flags:
`)
	fs.PrintDefaults()
}

// parseCallFlags parses the command line of `bridge call`. It reports
// errors on stderr itself, each followed by a pointer to -h (callHint),
// and the usage for -h, returning flag.ErrHelp. getenv reads the
// environment (os.Getenv).
func parseCallFlags(args []string, getenv func(string) string, stderr io.Writer) (callConfig, error) {
	cfg := callConfig{cancelWait: cancelWait}
	fs := flag.NewFlagSet("bridge call", flag.ContinueOnError)
	fs.SetOutput(stderr)
	// The flag package prints the usage after each error too; it is
	// printed for -h alone, and after an error the hint.
	fs.Usage = func() {}
	stream := fs.String("stream", "", "ask for this `mode` of server streams with ?stream=: progress, last or collect; empty: the server's default")
	fs.DurationVar(&cfg.timeout, "timeout", 0, "cancel the call when it has not ended after this `duration`; 0: no limit")
	caFile := fs.String("ca", "", "PEM `file` of the roots that verify a wss:// server's certificate; empty: the system roots")
	skipVerify := fs.Bool("insecure-skip-verify", false, "do not verify a wss:// server's certificate: DANGEROUS, anyone on the path can\nimpersonate the server; for development only")
	token := fs.String("token", "", "send `token` as Authorization: Bearer on the WebSocket handshake; it shows in ps:\nbetter in $"+callTokenEnv+", which ps does not show and the flag overrides")
	if err := parseFlags(fs, args, stderr, callUsage, callHint); err != nil {
		return cfg, err
	}
	usageErr := func(err error) (callConfig, error) {
		fmt.Fprintf(stderr, "%v\n%s\n", err, callHint)
		return cfg, err
	}
	if fs.NArg() < 2 {
		return usageErr(errors.New("want URL and PROCEDURE"))
	}
	if cfg.timeout < 0 {
		return usageErr(fmt.Errorf("flag -timeout: %v is negative", cfg.timeout))
	}
	u, err := callURL(fs.Arg(0), *stream)
	if err != nil {
		return usageErr(err)
	}
	cfg.url = u
	if cfg.tls, err = callTLS(*caFile, *skipVerify); err != nil {
		return usageErr(err)
	}
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == "token" })
	if given { // the flag wins over the variable
		if err := checkCallToken(*token); err != nil {
			return usageErr(fmt.Errorf("flag -token: %w", err))
		}
		cfg.token = *token
	} else if v := getenv(callTokenEnv); v != "" { // empty counts as unset, as serve's variables do
		if err := checkCallToken(v); err != nil {
			return usageErr(fmt.Errorf("environment variable %s: %w", callTokenEnv, err))
		}
		cfg.token = v
	}
	cfg.procedure = fs.Arg(1)
	for _, a := range fs.Args()[2:] {
		cfg.args = append(cfg.args, parseArg(a))
	}
	return cfg, nil
}

// checkCallToken checks a bearer token for the Authorization header,
// without quoting it: it is a secret.
func checkCallToken(t string) error {
	if t == "" {
		return errors.New("empty token")
	}
	for i := range len(t) {
		if c := t[i]; c <= ' ' || c >= 0x7f {
			return fmt.Errorf("the token has a space, a control character or a non-ASCII byte at byte %d: an Authorization: Bearer header carries printable ASCII only", i+1)
		}
	}
	return nil
}

// callURL checks the server URL and adds ?stream=mode when mode is set.
// http and https are accepted for ws and wss.
func callURL(raw, mode string) (string, error) {
	// host:port alone either fails to parse (127.0.0.1:8080: url.Parse's
	// complaint would not say what is missing) or parses as scheme host.
	noScheme := func() (string, error) {
		return "", fmt.Errorf("URL %q: want a ws:// or wss:// URL, such as ws://%s/", raw, raw)
	}
	u, err := url.Parse(raw)
	if err != nil && !strings.Contains(raw, "://") {
		return noScheme()
	}
	if err != nil {
		return "", fmt.Errorf("URL %q: %w", raw, err)
	}
	switch u.Scheme {
	case "ws", "wss":
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	default:
		if !strings.Contains(raw, "://") {
			return noScheme()
		}
		return "", fmt.Errorf("URL %q: want a ws:// or wss:// URL", raw)
	}
	if u.Host == "" {
		return "", fmt.Errorf("URL %q: no host", raw)
	}
	if mode != "" {
		var m bridge.StreamMode
		if err := (streamFlag{&m}).Set(mode); err != nil {
			return "", fmt.Errorf("invalid value %q for flag -stream: %w", mode, err)
		}
		q := u.Query()
		q.Set("stream", m.String())
		u.RawQuery = q.Encode()
	}
	return u.String(), nil
}

// parseArg turns one command-line argument into a CALL argument: the
// argument itself when it is valid JSON (compacted onto one line), else the
// argument as a JSON string.
func parseArg(s string) json.RawMessage {
	if json.Valid([]byte(s)) {
		var b bytes.Buffer
		if err := json.Compact(&b, []byte(s)); err == nil {
			return b.Bytes()
		}
	}
	b, err := json.Marshal(s)
	if err != nil {
		panic(fmt.Sprintf("marshal a string: %v", err)) // cannot happen: strings always marshal
	}
	return b
}

// newCallID returns a random call id, 16 hex digits.
func newCallID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails: crypto/rand.Read crashes the program instead
	return hex.EncodeToString(b[:])
}

// callMain runs `bridge call` and returns the exit status. Cancelling ctx is
// the user's Ctrl-C.
func callMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseCallFlags(args, os.Getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		return exitUsage
	}
	return call(ctx, cfg, stdout, stderr)
}

// inbound is one WebSocket message, or the error that ended reading.
type inbound struct {
	data []byte
	err  error
}

// caller is one `bridge call` run. Only its goroutine writes to conn; a
// second goroutine reads.
type caller struct {
	cfg            callConfig
	conn           *websocket.Conn
	callID         string
	stdout, stderr io.Writer
	interrupted    bool // Ctrl-C seen: the exit status is 130 whatever follows
}

// call dials the server, makes the call and prints its results, and returns
// the exit status.
func call(ctx context.Context, cfg callConfig, stdout, stderr io.Writer) int {
	// dctx ends at Ctrl-C (ctx) or at the -timeout; ctx.Err tells which.
	dctx := ctx
	if cfg.timeout > 0 {
		var cancel context.CancelFunc
		dctx, cancel = context.WithTimeout(ctx, cfg.timeout)
		defer cancel()
	}
	d := websocket.Dialer{
		Proxy:            http.ProxyFromEnvironment,
		HandshakeTimeout: handshakeTimeout,
		Subprotocols:     []string{bridge.Subprotocol},
		TLSClientConfig:  cfg.tls,
	}
	var header http.Header
	if cfg.token != "" {
		header = http.Header{"Authorization": {"Bearer " + cfg.token}}
	}
	conn, resp, err := d.DialContext(dctx, cfg.url, header)
	if err != nil {
		switch {
		case ctx.Err() != nil:
			fmt.Fprintln(stderr, "bridge call: interrupted while connecting")
			return exitInterrupted
		case resp != nil:
			// gorilla keeps up to 1 KiB of the refusal's body.
			body, _ := io.ReadAll(resp.Body)
			hint := ""
			switch {
			case resp.StatusCode < 300 || resp.StatusCode == http.StatusNotFound:
				// An HTTP server answered, but not the WebSocket endpoint.
				hint = "; is the path right? the bridge's endpoint is its -path, / by default"
			case resp.StatusCode == http.StatusUnauthorized && cfg.token == "":
				hint = "; give the token in $" + callTokenEnv + " or with -token"
			}
			fmt.Fprintf(stderr, "bridge call: %s did not accept the WebSocket handshake: %s: %s%s\n",
				cfg.url, resp.Status, strings.TrimSpace(string(body)), hint)
		default:
			hint := ""
			if _, ok := errors.AsType[*tls.CertificateVerificationError](err); ok {
				hint = "; pass -ca FILE with the roots that sign the server's certificate (or -insecure-skip-verify, for development only)"
			}
			fmt.Fprintf(stderr, "bridge call: connect to %s: %v%s\n", cfg.url, err, hint)
		}
		return exitFailure
	}

	frames := make(chan inbound)
	stopReading := make(chan struct{})
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		for {
			typ, data, err := conn.ReadMessage()
			if err == nil && typ != websocket.TextMessage {
				err = errors.New("got a binary WebSocket message: WAMP v1 frames are text")
			}
			select {
			case frames <- inbound{data, err}:
			case <-stopReading:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	defer func() {
		close(stopReading)
		_ = conn.Close() // ends ReadMessage
		<-readerDone
	}()

	c := &caller{cfg: cfg, conn: conn, callID: newCallID(), stdout: stdout, stderr: stderr}
	return c.run(ctx, dctx, frames)
}

// run waits for WELCOME, sends the CALL and prints what answers it.
func (c *caller) run(ctx, dctx context.Context, frames <-chan inbound) int {
	select {
	case in := <-frames:
		if code, ok := c.welcome(in); !ok {
			return code
		}
	case <-dctx.Done():
		if ctx.Err() != nil {
			fmt.Fprintln(c.stderr, "bridge call: interrupted while waiting for WELCOME")
			return exitInterrupted
		}
		fmt.Fprintf(c.stderr, "bridge call: no WELCOME within %v\n", c.cfg.timeout)
		return exitFailure
	}

	if err := c.write(&wampv1.Call{CallID: c.callID, ProcURI: c.cfg.procedure, Args: c.cfg.args}); err != nil {
		fmt.Fprintf(c.stderr, "bridge call: send CALL: %v\n", err)
		return exitFailure
	}

	done := dctx.Done()
	var giveUp <-chan time.Time // runs after CALL_CANCEL
	for {
		select {
		case in := <-frames:
			if code, end := c.answer(in); end {
				return code
			}
		case <-done:
			done = nil // cancel once
			c.interrupted = ctx.Err() != nil
			if c.interrupted {
				fmt.Fprintf(c.stderr, "bridge call: interrupted: cancelling call %s\n", c.callID)
			} else {
				fmt.Fprintf(c.stderr, "bridge call: no result within %v: cancelling call %s\n", c.cfg.timeout, c.callID)
			}
			if err := c.write(&wampv1.CallCancel{CallID: c.callID}); err != nil {
				fmt.Fprintf(c.stderr, "bridge call: send CALL_CANCEL: %v\n", err)
				return c.status(exitFailure)
			}
			t := time.NewTimer(c.cfg.cancelWait)
			defer t.Stop()
			giveUp = t.C
		case <-giveUp:
			fmt.Fprintf(c.stderr, "bridge call: no answer to CALL_CANCEL within %v; giving up\n", c.cfg.cancelWait)
			return c.status(exitFailure)
		}
	}
}

// welcome checks the first frame; ok is false with the exit status when it
// is not a WAMP v1 WELCOME.
func (c *caller) welcome(in inbound) (code int, ok bool) {
	if in.err != nil {
		return c.readFailed(in.err), false
	}
	m, err := wampv1.Decode(in.data)
	if err != nil {
		fmt.Fprintf(c.stderr, "bridge call: first frame: %v\n", err)
		return exitFailure, false
	}
	w, isWelcome := m.(*wampv1.Welcome)
	if !isWelcome {
		fmt.Fprintf(c.stderr, "bridge call: first frame is %v, want Welcome\n", m.Type())
		return exitFailure, false
	}
	if w.ProtocolVersion != 1 {
		fmt.Fprintf(c.stderr, "bridge call: server speaks WAMP protocol version %d, want 1\n", w.ProtocolVersion)
		return exitFailure, false
	}
	return exitOK, true
}

// answer handles one frame after the CALL; end is true with the exit status
// when the call has ended or cannot go on.
func (c *caller) answer(in inbound) (code int, end bool) {
	if in.err != nil {
		return c.readFailed(in.err), true
	}
	m, err := wampv1.Decode(in.data)
	switch {
	case errors.Is(err, wampv1.ErrUnknownType):
		return 0, false // WAMP v1 ignores frames it does not know
	case err != nil:
		fmt.Fprintf(c.stderr, "bridge call: bad frame from the server: %v\n", err)
		return c.status(exitFailure), true
	}
	switch m := m.(type) {
	case *wampv1.CallProgressResult:
		if m.CallID == c.callID {
			c.printJSON(c.stdout, m.Result)
		}
	case *wampv1.CallResult:
		if m.CallID == c.callID {
			c.printJSON(c.stdout, m.Result)
			c.close()
			return c.status(exitOK), true
		}
	case *wampv1.CallError:
		if m.CallID == c.callID {
			fmt.Fprintf(c.stderr, "error: %s: %s\n", m.ErrorURI, m.ErrorDesc)
			if m.ErrorDetails != nil && !repeatsDesc(m.ErrorDetails, m.ErrorDesc) {
				c.printJSON(c.stderr, m.ErrorDetails)
			}
			c.close()
			return c.status(exitFailure), true
		}
	}
	// Frames of other calls and events are not ours.
	return 0, false
}

// repeatsDesc reports whether details, a CALLERROR's errorDetails, says
// nothing that the line printed before it does not: the bridge's own
// {"code", "status", "message", "details"} with message desc and no
// google.rpc.Status details (the errorURI names the code).
func repeatsDesc(details json.RawMessage, desc string) bool {
	var d struct {
		Code    *int              `json:"code"`
		Status  string            `json:"status"`
		Message *string           `json:"message"`
		Details []json.RawMessage `json:"details"`
	}
	dec := json.NewDecoder(bytes.NewReader(details))
	dec.DisallowUnknownFields()
	if dec.Decode(&d) != nil || d.Code == nil || d.Message == nil || *d.Message != desc || len(d.Details) != 0 {
		return false
	}
	// The code and its name agree, as the bridge writes them.
	name, ok := rpccode.Code_name[int32(*d.Code)]
	return ok && *d.Code >= 0 && *d.Code <= 16 && name == d.Status
}

// status returns code, or 130 once the user has interrupted the call.
func (c *caller) status(code int) int {
	if c.interrupted {
		return exitInterrupted
	}
	return code
}

// readFailed reports why reading ended before the call did.
func (c *caller) readFailed(err error) int {
	if ce, ok := errors.AsType[*websocket.CloseError](err); ok {
		fmt.Fprintf(c.stderr, "bridge call: connection closed before the call ended: code %d, reason %q\n", ce.Code, ce.Text)
	} else {
		fmt.Fprintf(c.stderr, "bridge call: read from %s: %v\n", c.cfg.url, err)
	}
	return c.status(exitFailure)
}

// printJSON writes v as one line, in one Write so that it leaves at once.
func (c *caller) printJSON(w io.Writer, v json.RawMessage) {
	var b bytes.Buffer
	if len(v) == 0 {
		b.WriteString("null")
	} else if err := json.Compact(&b, v); err != nil {
		b.Reset()
		b.Write(v)
	}
	b.WriteByte('\n')
	_, _ = w.Write(b.Bytes())
}

// write sends one frame.
func (c *caller) write(m wampv1.Message) error {
	if err := c.conn.SetWriteDeadline(time.Now().Add(writeTimeout)); err != nil {
		return err
	}
	return c.conn.WriteMessage(websocket.TextMessage, wampv1.Encode(m))
}

// close starts the closing handshake after the call has ended; the socket
// itself is closed by call.
func (c *caller) close() {
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
	_ = c.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
}
