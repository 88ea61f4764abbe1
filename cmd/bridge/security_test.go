package main

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestParseSecurityFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name                     string
		args                     []string
		origins, tokens, forward []string
	}{
		{"defaults", nil, nil, nil, nil},
		{"repeated", []string{
			"-allow-origin", "https://a.example", "-allow-origin", "*",
			"-bearer-token", "t1", "-bearer-token", "t2",
			"-forward-header", "authorization", "-forward-header", "x-user",
		}, []string{"https://a.example", "*"}, []string{"t1", "t2"}, []string{"authorization", "x-user"}},
		{"forward none", []string{"-forward-header="}, nil, nil, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var stderr strings.Builder
			cfg, err := parseServeFlags(tc.args, &stderr)
			if err != nil {
				t.Fatalf("parseServeFlags(%q): %v (%s)", tc.args, err, stderr.String())
			}
			if !slices.Equal(cfg.allowOrigins, tc.origins) || !slices.Equal(cfg.bearerTokens, tc.tokens) ||
				!slices.Equal(cfg.forwardHeaders, tc.forward) || (cfg.forwardHeaders == nil) != (tc.forward == nil) {
				t.Errorf("parseServeFlags(%q): origins %q, tokens %q, forward %#v; want %q, %q, %#v",
					tc.args, cfg.allowOrigins, cfg.bearerTokens, cfg.forwardHeaders, tc.origins, tc.tokens, tc.forward)
			}
		})
	}
	var stderr strings.Builder
	if _, err := parseServeFlags([]string{"-bearer-token", ""}, &stderr); err == nil {
		t.Error("-bearer-token '': no error")
	}
}

// TestServeBearerToken runs `bridge serve -bearer-token`: `bridge call`
// without the token is refused, with it in the query it works, and the
// token shows nowhere in the server's log.
func TestServeBearerToken(t *testing.T) {
	t.Parallel()
	const token = "cmd-s3cret-token"
	ctx, interrupt := context.WithCancel(t.Context())
	defer interrupt()
	stderr := newLineWriter()
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"-listen", "127.0.0.1:0", "-log-level", "debug", "-bearer-token", token}, nil, stderr)
	}()
	bannerRE := regexp.MustCompile(`^bridge: serving WAMP v1 on (ws://127\.0\.0\.1:\d+/) `)
	var url string
	for url == "" {
		select {
		case l := <-stderr.Lines:
			if m := bannerRE.FindStringSubmatch(l); m != nil {
				url = m[1]
			}
		case c := <-code:
			t.Fatalf("serve ended with %d before its banner; stderr:\n%s", c, stderr)
		}
	}
	out, callErr := newLineWriter(), newLineWriter()
	if got := run(t.Context(), []string{"call", url, "GetProgressiveTime", "1"}, out, callErr); got == exitOK {
		t.Errorf("call without the token: exit status 0, want a failure")
	} else if !strings.Contains(callErr.String(), "401") {
		t.Errorf("call without the token: stderr does not mention 401:\n%s", callErr)
	}
	waitFor(t, "a successful call with the token", func() bool { // the upstream may not be ready yet
		out, callErr = newLineWriter(), newLineWriter()
		return run(t.Context(), []string{"call", url + "?access_token=" + token, "GetProgressiveTime", "1"}, out, callErr) == exitOK
	})
	if lines := out.lines(); len(lines) == 0 {
		t.Errorf("call with the token printed nothing")
	} else {
		checkTicks(t, lines[:1]) // then the CALLRESULT null of progress mode
	}
	interrupt()
	if got := <-code; got != exitOK {
		t.Errorf("serve exit status %d, want 0; stderr:\n%s", got, stderr)
	}
	if !strings.Contains(stderr.String(), "handshake refused") {
		t.Errorf("the server did not log the refusal:\n%s", stderr)
	}
	if strings.Contains(stderr.String(), token) {
		t.Errorf("the server's log shows the token:\n%s", stderr)
	}
}

// TestCallToken runs `bridge call` against `bridge serve -bearer-token`:
// -token, or $BRIDGE_CALL_TOKEN, is sent as Authorization: Bearer and
// admitted; a wrong one is refused with 401.
func TestCallToken(t *testing.T) {
	t.Parallel()
	const token = "call-s3cret-token"
	url, stderr := runServe(t, "-bearer-token", token)
	call := func(args []string, getenv func(string) string) (int, string, string) {
		out, callErr := newLineWriter(), newLineWriter()
		cfg, err := parseCallFlags(append(args, url, "GetProgressiveTime", "1"), getenv, callErr)
		if err != nil {
			t.Fatalf("parseCallFlags(%q): %v", args, err)
		}
		return call(t.Context(), cfg, out, callErr), out.String(), callErr.String()
	}
	waitFor(t, "a successful call with -token", func() bool { // the upstream may not be ready yet
		code, _, _ := call([]string{"-token", token}, noEnv)
		return code == exitOK
	})
	envToken := tokenEnv
	for _, tc := range []struct {
		name       string
		args       []string
		getenv     func(string) string
		want       int
		wantStderr string
	}{
		{"-token", []string{"-token", token}, noEnv, exitOK, ""},
		{"BRIDGE_CALL_TOKEN", nil, envToken(token), exitOK, ""},
		{"-token wins over BRIDGE_CALL_TOKEN", []string{"-token", token}, envToken("wrong"), exitOK, ""},
		{"no token", nil, noEnv, exitFailure, "401 Unauthorized: a bearer token is required: send Authorization: Bearer <token> or the query parameter access_token; give the token in $BRIDGE_CALL_TOKEN or with -token\n"},
		{"wrong token", []string{"-token", "wrong"}, noEnv, exitFailure, "401 Unauthorized: the bearer token is not valid\n"},
	} {
		code, out, errOut := call(tc.args, tc.getenv)
		if code != tc.want || !strings.Contains(errOut, tc.wantStderr) {
			t.Errorf("%s: exit status %d, stderr %q; want %d and %q", tc.name, code, errOut, tc.want, tc.wantStderr)
		}
		if tc.want == exitOK {
			if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 2 {
				t.Errorf("%s: stdout %q, want a tick and null", tc.name, out)
			} else {
				checkTicks(t, lines[:1])
			}
		}
	}
	if strings.Contains(stderr.String(), token) {
		t.Errorf("the server's log shows the token:\n%s", stderr)
	}
}

// TestServeForwardOwnKeys: -forward-client-address=false and
// -forward-session-id=false keep x-forwarded-for and wamp-session-id from
// the upstream; by default both reach it.
func TestServeForwardOwnKeys(t *testing.T) {
	t.Parallel()
	addr, svc := startEchoService(t)
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{nil, []string{"wamp-session-id", "x-forwarded-for"}},
		{[]string{"-forward-client-address=false"}, []string{"wamp-session-id"}},
		{[]string{"-forward-session-id=false"}, []string{"x-forwarded-for"}},
		{[]string{"-forward-client-address=false", "-forward-session-id=false"}, nil},
	} {
		url, _ := runServe(t, append([]string{"-upstream", addr}, tc.args...)...)
		text := "keys " + strings.Join(tc.args, " ")
		waitFor(t, "the bridge to be ready", func() bool {
			return run(t.Context(), []string{"call", url, "bridgetest.v1.TestService.Echo", `{"text":"ready"}`}, newLineWriter(), newLineWriter()) == exitOK
		})
		if code := run(t.Context(), []string{"call", url, "bridgetest.v1.TestService.Echo", `{"text":"` + text + `"}`}, newLineWriter(), newLineWriter()); code != exitOK {
			t.Fatalf("bridge %q: call exit status %d, want %d", tc.args, code, exitOK)
		}
		md, _ := svc.seen(text)
		if got := applicationKeys(md); !slices.Equal(got, tc.want) {
			t.Errorf("bridge %q: metadata keys reaching the upstream: %q, want exactly %q (all of it: %v)", tc.args, got, tc.want, md)
		}
	}
}
