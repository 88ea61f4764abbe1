package main

import (
	"net"
	"strings"
	"testing"
)

func TestParseArg(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, arg, want string
	}{
		{"number", "3", `3`},
		{"negative float", "-2.5e3", `-2.5e3`},
		{"bare word", "hello", `"hello"`},
		{"words", "hello world", `"hello world"`},
		{"quoted number stays a string", `"3"`, `"3"`},
		{"object is compacted", "{ \"count\": 3,\n \"interval\": \"0.2s\" }", `{"count":3,"interval":"0.2s"}`},
		{"array", "[1, 2]", `[1,2]`},
		{"true", "true", `true`},
		{"null", "null", `null`},
		{"empty", "", `""`},
		{"broken object", `{"count":`, `"{\"count\":"`},
		{"two numbers", "3 4", `"3 4"`},
		{"duration", "0.2s", `"0.2s"`},
		{"padded number", " 3 ", `3`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := string(parseArg(tc.arg)); got != tc.want {
				t.Errorf("parseArg(%q) = %s, want %s", tc.arg, got, tc.want)
			}
		})
	}
}

func TestCallURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, url, mode, want, wantErr string
	}{
		{"plain", "ws://127.0.0.1:8080/", "", "ws://127.0.0.1:8080/", ""},
		{"stream mode", "ws://127.0.0.1:8080/", "last", "ws://127.0.0.1:8080/?stream=last", ""},
		{"stream mode case", "ws://h/wamp", "COLLECT", "ws://h/wamp?stream=collect", ""},
		{"query kept", "wss://h/?token=x", "progress", "wss://h/?stream=progress&token=x", ""},
		{"query replaced", "ws://h/?stream=last", "collect", "ws://h/?stream=collect", ""},
		{"http", "http://h:1/", "", "ws://h:1/", ""},
		{"https", "https://h/", "", "wss://h/", ""},
		{"bad scheme", "ftp://h/", "", "", "want a ws:// or wss:// URL"},
		{"no scheme", "127.0.0.1:8080", "", "", `URL "127.0.0.1:8080": want a ws:// or wss:// URL, such as ws://127.0.0.1:8080/`},
		{"no scheme, host name", "localhost:8080", "", "", `URL "localhost:8080": want a ws:// or wss:// URL, such as ws://localhost:8080/`},
		{"no host", "ws:///x", "", "", "no host"},
		{"bad mode", "ws://h/", "fast", "", "flag -stream"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := callURL(tc.url, tc.mode)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("callURL(%q, %q) = %q, %v; want an error containing %q", tc.url, tc.mode, got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("callURL(%q, %q) = %q, %v; want %q", tc.url, tc.mode, got, err, tc.want)
			}
		})
	}
}

func TestParseCallFlags(t *testing.T) {
	t.Parallel()
	var stderr strings.Builder
	cfg, err := parseCallFlags([]string{"-stream", "last", "-timeout", "3s", "ws://h/", "GetProgressiveTime", "20", "x", `{"a": 1}`}, noEnv, &stderr)
	if err != nil {
		t.Fatalf("parseCallFlags: %v (%s)", err, stderr.String())
	}
	if cfg.url != "ws://h/?stream=last" || cfg.procedure != "GetProgressiveTime" || cfg.timeout.String() != "3s" {
		t.Errorf("parseCallFlags = %+v", cfg)
	}
	var args []string
	for _, a := range cfg.args {
		args = append(args, string(a))
	}
	if got, want := strings.Join(args, " "), `20 "x" {"a":1}`; got != want {
		t.Errorf("args = %s, want %s", got, want)
	}
}

func TestUsage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		args       []string
		want       int
		wantStderr string
	}{
		{"call without arguments", []string{"call"}, exitUsage, "want URL and PROCEDURE"},
		{"call without procedure", []string{"call", "ws://h/"}, exitUsage, "want URL and PROCEDURE"},
		{"call help", []string{"call", "-h"}, exitOK, "usage: bridge call [-stream MODE] [-timeout D] [-ca FILE] [-insecure-skip-verify] [-token TOKEN] URL PROCEDURE [ARG...]\n"},
		{"serve help names call's flags", []string{"-h"}, exitOK, "\n       bridge call [-stream MODE] [-timeout D] [-ca FILE] [-insecure-skip-verify] [-token TOKEN] URL"},
		{"call bad stream", []string{"call", "-stream", "x", "ws://h/", "P"}, exitUsage, `invalid value "x" for flag -stream: unknown stream mode "x"`},
		{"call negative timeout", []string{"call", "-timeout", "-1s", "ws://h/", "P"}, exitUsage, "flag -timeout"},
		{"call unknown flag", []string{"call", "-qqqqqqq", "ws://h/", "P"}, exitUsage, "flag provided but not defined: -qqqqqqq\n(bridge call -h"},
		{"call misspelt flag", []string{"call", "-strem", "last", "ws://h/", "P"}, exitUsage, "flag provided but not defined: -strem\ndid you mean -stream?\n(bridge call -h"},
		{"call bad timeout", []string{"call", "-timeout", "soon", "ws://h/", "P"}, exitUsage, `invalid value "soon" for flag -timeout`},
		{"call URL without a scheme", []string{"call", "127.0.0.1:8080", "P"}, exitUsage, `URL "127.0.0.1:8080": want a ws:// or wss:// URL, such as ws://127.0.0.1:8080/`},
		{"call ftp URL", []string{"call", "ftp://h/", "P"}, exitUsage, `URL "ftp://h/": want a ws:// or wss:// URL`},
		{"serve help", []string{"-h"}, exitOK, "usage: bridge [serve]"},
		{"serve bad stream", []string{"serve", "-stream", "fast"}, exitUsage, `invalid value "fast" for flag -stream: unknown stream mode "fast"`},
		{"serve bad log level", []string{"-log-level", "loud"}, exitUsage, `flag -log-level: "loud": want debug, info, warn or error`},
		{"serve one attempt", []string{"-retry-attempts", "1"}, exitUsage, `flag -retry-attempts: 1 is less than 2; the first attempt counts, so 2 is one retry`},
		{"serve bad path", []string{"-path", "wamp"}, exitUsage, `flag -path: "wamp" must start with /`},
		{"serve extra argument", []string{"serve", "now"}, exitUsage, `unexpected argument "now": serve takes only flags (the upstream is -upstream HOST:PORT)`},
		{"serve negative shutdown grace", []string{"-shutdown-grace", "-1s"}, exitUsage, "flag -shutdown-grace"},
		{"serve upstream URL", []string{"-upstream", "http://localhost:50051"}, exitUsage,
			`flag -upstream: "http://localhost:50051" is a URL: a gRPC target is host:port or dns:///host:port (unix:PATH for a socket); for TLS add -upstream-tls`},
		{"serve upstream not host:port", []string{"-upstream", "::::"}, exitUsage,
			`flag -upstream: "::::": a gRPC target is host:port`},
		{"serve upstream port not a number", []string{"-upstream", "localhost:abc"}, exitUsage,
			`flag -upstream: "localhost:abc": the port "abc" is not a number from 1 to 65535 nor a known service name (such as https): a gRPC target is host:port`},
		{"serve upstream with a path", []string{"-upstream", "localhost:50051/x"}, exitUsage,
			`flag -upstream: "localhost:50051/x": the port "50051/x" is not a number from 1 to 65535 (no path goes after the port): a gRPC target is host:port`},
		{"serve upstream host with a space", []string{"-upstream", "local host:1"}, exitUsage,
			`flag -upstream: "local host:1": the host "local host" has ' ', which no host name or IP address has (a host name has letters, digits, '-', '.' and '_'): a gRPC target is host:port`},
		{"serve upstream passthrough without a port", []string{"-upstream", "passthrough:///h"}, exitUsage,
			`flag -upstream: "passthrough:///h": the port is missing: passthrough hands the address to the dialer as it is, which wants host:port (passthrough:///h:50051)`},
		{"serve send queue too long", []string{"-send-queue", "100000000000"}, exitUsage,
			`flag -send-queue: 100000000000 is more than 65536: every session allocates room for them (8 bytes a frame) when it opens`},
		{"serve too many procs", []string{"-procs", "100000"}, exitUsage, `flag -procs: 100000 is more than 1024`},
		{"serve integer out of range", []string{"-max-sessions", "99999999999999999999"}, exitUsage,
			`flag -max-sessions: 99999999999999999999 is out of range`},
		{"serve unknown flag", []string{"-max-sesions", "3"}, exitUsage, "flag provided but not defined: -max-sesions\ndid you mean -max-sessions?\n(bridge -h"},
		{"serve unknown flag, no likely one", []string{"-qqqqqqq"}, exitUsage, "flag provided but not defined: -qqqqqqq\n(bridge -h"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr strings.Builder
			if got := run(t.Context(), tc.args, &stdout, &stderr); got != tc.want {
				t.Errorf("run(%q) = %d, want %d; stderr:\n%s", tc.args, got, tc.want, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.wantStderr) {
				t.Errorf("run(%q) stderr does not contain %q:\n%s", tc.args, tc.wantStderr, stderr.String())
			}
			if stdout.Len() != 0 {
				t.Errorf("run(%q) wrote to stdout: %q", tc.args, stdout.String())
			}
			// An error in the flags is followed by a pointer to the
			// usage, not by its lines (160 of serve's), which would scroll
			// it away.
			if tc.want == exitUsage {
				hint := settingsHint
				if tc.args[0] == "call" {
					hint = callHint
				}
				if strings.Contains(stderr.String(), "usage:") || !strings.HasSuffix(stderr.String(), "\n"+hint+"\n") {
					t.Errorf("run(%q) stderr, want the error and a pointer to -h, not the usage:\n%s", tc.args, stderr.String())
				}
			}
		})
	}
}

func TestDialAddr(t *testing.T) {
	for _, tc := range []struct {
		addr net.Addr
		want string
	}{
		{&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}, "127.0.0.1:8080"},
		{&net.TCPAddr{IP: net.IPv6unspecified, Port: 8080}, "localhost:8080"},
		{&net.TCPAddr{IP: net.IPv4zero, Port: 9}, "localhost:9"},
		{&net.TCPAddr{IP: net.ParseIP("::1"), Port: 8080}, "[::1]:8080"},
	} {
		if got := dialAddr(tc.addr); got != tc.want {
			t.Errorf("dialAddr(%v) = %q, want %q", tc.addr, got, tc.want)
		}
	}
}

// TestCheckTarget: -upstream takes what grpc.NewClient connects to, and
// refuses at start what it would retry for ever.
func TestCheckTarget(t *testing.T) {
	for _, ok := range []string{"", "localhost:50051", "localhost", "10.0.0.5:443", "[::1]:50051", "::1", "[::1]",
		"dns:///svc.ns.svc.cluster.local:50051", "dns:h:50051", "DNS:h:1", "dns://8.8.8.8/h:50051",
		"passthrough:///127.0.0.1:1", "passthrough:h:50051", "unix:/run/api.sock", "unix:///run/api.sock",
		// What gRPC's DNS resolver and the dialer take: net.LookupPort's
		// ports (service names too), an empty host for localhost, an IPv6
		// zone, names with '_' or of other scripts.
		"localhost:https", "localhost:0443", ":50051", "dns:///:50051", "[fe80::1%eth0]:50051", "fe80::1%eth0", "h:65535",
		"my_service:50051", "bücher.example:50051", "dns:///[::1]:50051", "passthrough:///[::1]:50051",
		"passthrough:///unix:/run/api.sock", "unix-abstract:api"} {
		if err := checkTarget(ok); err != nil {
			t.Errorf("checkTarget(%q) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{"http://localhost:50051", "HTTPS://api:443", "grpc://api:50051", "xds:///svc", "dsn:///h:1",
		"::::", "::1:50051", "host:port:1",
		// Ports and hosts that gRPC would retry for ever.
		"localhost:abc", "localhost:50051/x", "localhost:0", "localhost:65536", "localhost:-1", "localhost:", "[::1]:",
		"local host:1", "local host", "a/b:1", "user@h:1", "h\tx:1", "[h x]:1", "dns:///h:abc", "dns:///h%20x:1", "dns:///",
		"passthrough:///h", "passthrough:///::1", "passthrough:///h:abc", "passthrough:///a b:1"} {
		if err := checkTarget(bad); err == nil {
			t.Errorf("checkTarget(%q) = nil, want an error", bad)
		}
	}
}

// noEnv is an empty environment, for parseCallFlags.
func noEnv(string) string { return "" }

// tokenEnv returns a getenv holding only $BRIDGE_CALL_TOKEN, set to v.
func tokenEnv(v string) func(string) string {
	return func(k string) string {
		if k == callTokenEnv {
			return v
		}
		return ""
	}
}

// TestParseCallToken: -token, or else $BRIDGE_CALL_TOKEN, is the bearer
// token of call; a token no Authorization header can carry is refused
// without being quoted.
func TestParseCallToken(t *testing.T) {
	t.Parallel()
	env := tokenEnv
	for _, tc := range []struct {
		name    string
		flags   []string
		getenv  func(string) string
		want    string
		wantErr string
	}{
		{"none", nil, noEnv, "", ""},
		{"flag", []string{"-token", "t1"}, noEnv, "t1", ""},
		{"variable", nil, env("t2"), "t2", ""},
		{"flag wins", []string{"-token", "t1"}, env("t2"), "t1", ""},
		{"empty variable is unset", nil, env(""), "", ""},
		{"empty flag", []string{"-token", ""}, env("t2"), "", "flag -token: empty token"},
		{"space in flag", []string{"-token", "se cret"}, noEnv, "", "flag -token: the token has a space, a control character or a non-ASCII byte at byte 3"},
		{"newline in variable", nil, env("secret\n"), "", "environment variable BRIDGE_CALL_TOKEN: the token has a space"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var stderr strings.Builder
			cfg, err := parseCallFlags(append(tc.flags, "ws://h/", "P"), tc.getenv, &stderr)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(stderr.String(), tc.wantErr) {
					t.Fatalf("parseCallFlags: %v, stderr %q; want an error containing %q", err, stderr.String(), tc.wantErr)
				}
				if strings.Contains(stderr.String(), "cret") {
					t.Errorf("the error quotes the token: %q", stderr.String())
				}
				return
			}
			if err != nil || cfg.token != tc.want {
				t.Fatalf("parseCallFlags: token %q, %v (%s); want %q", cfg.token, err, stderr.String(), tc.want)
			}
		})
	}
}
