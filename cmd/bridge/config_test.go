package main

import (
	"flag"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wampbridge/grpcwamp/bridge"
)

// writeFile writes a config file into the test's directory and returns
// its name.
func writeFile(t *testing.T, text string) string {
	t.Helper()
	name := filepath.Join(t.TempDir(), "bridge.yaml")
	if err := os.WriteFile(name, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return name
}

// settingOf returns the effective setting name of cfg.
func settingOf(t *testing.T, cfg serveConfig, name string) setting {
	t.Helper()
	for _, s := range cfg.settings {
		if s.name == name {
			return s
		}
	}
	t.Fatalf("no setting %q", name)
	return setting{}
}

// TestConfigPrecedence: per setting, the command line beats the
// environment, which beats the file, which beats the default; a
// repeatable setting is taken whole from one source.
func TestConfigPrecedence(t *testing.T) {
	file := writeFile(t, `# a comment
---
max-sessions: 3
allow-origin:
  - https://file.example
  - https://file2.example
expose: demo.v1.*   # a scalar is a list of one
`)
	for _, tc := range []struct {
		name        string
		env         map[string]string
		args        []string
		sessions    int
		origins     []string
		sessionsSrc string
		originsSrc  string
	}{
		{"default", nil, nil, bridge.DefaultMaxSessions, nil, "default", "default"},
		{"file", map[string]string{configEnv: file}, nil, 3, []string{"https://file.example", "https://file2.example"}, "file " + file + ":3", "file " + file + ":4"},
		{"env over file", map[string]string{configEnv: file, "BRIDGE_MAX_SESSIONS": "4", "BRIDGE_ALLOW_ORIGIN": "https://env.example, https://env2.example"},
			nil, 4, []string{"https://env.example", "https://env2.example"}, "env BRIDGE_MAX_SESSIONS", "env BRIDGE_ALLOW_ORIGIN"},
		{"flag over env", map[string]string{configEnv: file, "BRIDGE_MAX_SESSIONS": "4", "BRIDGE_ALLOW_ORIGIN": "https://env.example"},
			[]string{"-max-sessions", "5", "-allow-origin", "https://flag.example"}, 5, []string{"https://flag.example"}, "flag", "flag"},
		{"flag over file", nil, []string{"-config", file, "-allow-origin", "https://flag.example"},
			3, []string{"https://flag.example"}, "file " + file + ":3", "flag"},
		{"empty env is unset", map[string]string{configEnv: file, "BRIDGE_MAX_SESSIONS": ""}, nil, 3, []string{"https://file.example", "https://file2.example"}, "file " + file + ":3", "file " + file + ":4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			var stderr strings.Builder
			cfg, err := parseServeFlags(tc.args, &stderr)
			if err != nil {
				t.Fatalf("parseServeFlags(%q): %v\n%s", tc.args, err, stderr.String())
			}
			if cfg.maxSessions != tc.sessions || !slices.Equal(cfg.allowOrigins, tc.origins) {
				t.Errorf("max-sessions %d, allow-origin %q; want %d, %q", cfg.maxSessions, cfg.allowOrigins, tc.sessions, tc.origins)
			}
			if got := settingOf(t, cfg, "max-sessions").from.String(); got != tc.sessionsSrc {
				t.Errorf("max-sessions from %q, want %q", got, tc.sessionsSrc)
			}
			if got := settingOf(t, cfg, "allow-origin").from.String(); got != tc.originsSrc {
				t.Errorf("allow-origin from %q, want %q", got, tc.originsSrc)
			}
			if tc.name != "default" && !slices.Equal(cfg.expose, []string{"demo.v1.*"}) {
				t.Errorf("expose %q from the file, want [demo.v1.*]", cfg.expose)
			}
		})
	}
}

// TestConfigEnvLists: repeatable settings in the environment are
// comma-separated, but feeds, which hold JSON, go one per line.
func TestConfigEnvLists(t *testing.T) {
	t.Setenv(bearerTokensEnv, " a , b,,c ,")
	t.Setenv("BRIDGE_FEED", "t1 demo.v1.ClockService.GetProgressiveTime {\"count\":1,\"interval\":\"1s\"}\n\n  t2 demo.v1.ClockService.GetProgressiveTime  \n")
	t.Setenv("BRIDGE_FORWARD_HEADER", "x-user,authorization")
	cfg, err := parseServeFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.bearerTokens, []string{"a", "b", "c"}) {
		t.Errorf("bearer tokens %q, want [a b c]", cfg.bearerTokens)
	}
	if len(cfg.feeds) != 2 || cfg.feeds[0].Topic != "t1" || cfg.feeds[1].Topic != "t2" {
		t.Errorf("feeds %+v, want topics t1 and t2", cfg.feeds)
	}
	if !slices.Equal(cfg.forwardHeaders, []string{"x-user", "authorization"}) {
		t.Errorf("forward headers %q", cfg.forwardHeaders)
	}
}

// TestConfigEnvNames: every flag but -print-config has its variable.
func TestConfigEnvNames(t *testing.T) {
	t.Parallel()
	cfg := defaultServeConfig()
	fs := newServeFlagSet(&cfg, io.Discard)
	n := 0
	fs.VisitAll(func(f *flag.Flag) {
		e := envName(f.Name)
		if f.Name == "print-config" {
			if e != "" {
				t.Errorf("-print-config has variable %s, want none", e)
			}
			return
		}
		n++
		want := "BRIDGE_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if f.Name == "bearer-token" {
			want = "BRIDGE_BEARER_TOKENS"
		}
		if e != want {
			t.Errorf("-%s: variable %q, want %q", f.Name, e, want)
		}
		env, err := readEnv(fs, []string{e + "=x"})
		if err != nil || env[f.Name].name != e {
			t.Errorf("readEnv(%s=x) = %v, %v; want it read as -%s", e, env, err, f.Name)
		}
	})
	if n == 0 {
		t.Error("no flags")
	}
}

// TestConfigErrors: unknown keys and variables, wrong shapes and bad
// values are refused at start, naming the source and what is allowed.
func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		file string // "": no file
		env  map[string]string
		args []string
		want []string
	}{
		{"unknown key", "listen: 127.0.0.1:0\nmax-sesions: 3\n", nil, nil,
			[]string{":2: unknown key \"max-sesions\"", `did you mean "max-sessions"`}},
		{"config key", "config: other.yaml\n", nil, nil, []string{":1: key \"config\" is not a setting of the file"}},
		{"key twice", "path: /a\npath: /b\n", nil, nil, []string{":2: key \"path\" given twice (first at line 1)"}},
		{"bad int", "\nmax-sessions: -1\n", nil, nil, []string{":2: max-sessions: invalid value \"-1\": -1 is less than 0; 0 means unlimited"}},
		{"not an int", "send-queue: many\n", nil, nil, []string{":1: send-queue: invalid value \"many\": want an integer of at least 1"}},
		{"bad bool", "upstream-tls: yes\n", nil, nil, []string{":1: upstream-tls: invalid value \"yes\": want true or false"}},
		{"bad size", "max-frame-size: 1MB\n", nil, nil, []string{":1: max-frame-size: invalid value \"1MB\": want a size in bytes"}},
		{"bad duration", "pong-timeout: 60\n", nil, nil, []string{":1: pong-timeout: invalid value \"60\": want a duration"}},
		{"bad choice", "log-format: xml\n", nil, nil, []string{":1: log-format: invalid value \"xml\": want text or json"}},
		{"list for a scalar", "listen: [a, b]\n", nil, nil, []string{":1: listen: want a single value, got a list"}},
		{"mapping in a list", "expose:\n  - a.*\n  - {x: 1}\n", nil, nil, []string{":1: expose: line 3: want a list of single values"}},
		{"bad list item", "alias:\n  - a=b\n  - nothing\n", nil, nil, []string{":3: alias: invalid value \"nothing\": want URI=METHOD"}},
		{"not a mapping", "- listen\n", nil, nil, []string{":1: want a mapping of settings"}},
		{"two documents", "listen: a\n---\nlisten: b\n", nil, nil, []string{"a second YAML document"}},
		{"broken YAML", "listen: [\n", nil, nil, []string{"config file ", "yaml"}},
		{"empty file", "# nothing\n", map[string]string{"BRIDGE_SEND_QUEUE": "0"}, nil, []string{"BRIDGE_SEND_QUEUE: invalid value \"0\" for -send-queue: 0 is less than 1"}},
		{"no file", "", map[string]string{configEnv: "/nonexistent/bridge.yaml"}, nil, []string{"config file (-config or BRIDGE_CONFIG)", "/nonexistent/bridge.yaml"}},
		{"bad env", "", map[string]string{"BRIDGE_SEND_QUEUE": "x"}, nil,
			[]string{"environment variable BRIDGE_SEND_QUEUE: invalid value \"x\" for -send-queue: want an integer"}},
		{"bad env list item", "", map[string]string{"BRIDGE_ALIAS": "a=b,c"}, nil,
			[]string{"environment variable BRIDGE_ALIAS: invalid value \"c\" for -alias: want URI=METHOD"}},
		{"unknown env", "", map[string]string{"BRIDGE_MAX_SESION": "3"}, nil,
			[]string{"environment variable BRIDGE_MAX_SESION: no setting has this name", `did you mean "BRIDGE_MAX_SESSIONS"`}},
		{"singular token env", "", map[string]string{"BRIDGE_BEARER_TOKEN": "t"}, nil,
			[]string{"BRIDGE_BEARER_TOKEN: no setting", `did you mean "BRIDGE_BEARER_TOKENS"`}},
		{"print-config env", "", map[string]string{"BRIDGE_PRINT_CONFIG": "true"}, nil, []string{"BRIDGE_PRINT_CONFIG: no setting"}},
		{"pong within ping", "ping-interval: 30s\n", map[string]string{"BRIDGE_PONG_TIMEOUT": "20s"}, nil,
			[]string{"-pong-timeout 20s (env BRIDGE_PONG_TIMEOUT) must be longer than -ping-interval 30s (file "}},
		{"secret not quoted", "bearer-token: \"\"\n", nil, nil, []string{":1: bearer-token: invalid value <redacted>: empty token"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if tc.file != "" {
				args = append([]string{"-config", writeFile(t, tc.file)}, args...)
			}
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			var stdout, stderr strings.Builder
			if got := run(t.Context(), append([]string{"serve"}, args...), &stdout, &stderr); got != exitUsage {
				t.Errorf("exit status %d, want %d", got, exitUsage)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr does not contain %q:\n%s", w, stderr.String())
				}
			}
		})
	}
}

// TestConfigKubernetesEnv: the variables of a Kubernetes Service named
// bridge are no settings, and no errors either.
func TestConfigKubernetesEnv(t *testing.T) {
	for _, k := range []string{"BRIDGE_SERVICE_HOST", "BRIDGE_SERVICE_PORT", "BRIDGE_SERVICE_PORT_HTTP", "BRIDGE_PORT",
		"BRIDGE_PORT_8080_TCP", "BRIDGE_PORT_8080_TCP_ADDR", "BRIDGE_PORT_8080_TCP_PORT", "BRIDGE_PORT_8080_TCP_PROTO",
		"BRIDGE_METRICS_SERVICE_HOST", "BRIDGE_METRICS_PORT"} {
		t.Setenv(k, "10.0.0.1")
	}
	if _, err := parseServeFlags(nil, io.Discard); err != nil {
		t.Errorf("parseServeFlags with Kubernetes service variables: %v", err)
	}
}

// TestConfigCallTokenEnv: BRIDGE_CALL_TOKEN is bridge call's token, no
// setting of serve and no error either, so that one shell can run both.
func TestConfigCallTokenEnv(t *testing.T) {
	t.Setenv(callTokenEnv, "t1")
	cfg, err := parseServeFlags(nil, io.Discard)
	if err != nil {
		t.Fatalf("parseServeFlags with %s: %v", callTokenEnv, err)
	}
	if len(cfg.bearerTokens) != 0 {
		t.Errorf("serve took %s as bearer tokens %q", callTokenEnv, cfg.bearerTokens)
	}
}

// TestPrintConfig: -print-config prints every setting with its source, as
// YAML that -config reads back to the same settings.
func TestPrintConfig(t *testing.T) {
	file := writeFile(t, `listen: 127.0.0.1:0
feed:
  - 'ticks demo.v1.ClockService.GetProgressiveTime {"count": 2, "interval": "1s"}'
alias: [clock=demo.v1.ClockService.GetTime]
forward-header: []
max-frame-size: 65536
json-use-proto-names: true
upstream: "localhost:50051"
`)
	t.Setenv(configEnv, file)
	t.Setenv("BRIDGE_COLLECT_LIMIT", "1000")
	t.Setenv("BRIDGE_ALLOW_ORIGIN", "*")
	var stdout, stderr strings.Builder
	if got := run(t.Context(), []string{"-print-config", "-stream", "last", "-ping-interval", "1s", "-log-level", "debug", "-nats", "true"}, &stdout, &stderr); got != exitOK {
		t.Fatalf("-print-config: exit status %d; stderr:\n%s", got, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{
		"\nlisten: 127.0.0.1:0 # file " + file + ":1\n",
		"\nfeed: # file " + file + ":2\n  - 'ticks demo.v1.ClockService.GetProgressiveTime {\"count\": 2, \"interval\": \"1s\"}'\n",
		"\nforward-header: [] # file " + file + ":5\n",
		"\nmax-frame-size: 64KiB # file",
		"\ncollect-limit: 1000 # env BRIDGE_COLLECT_LIMIT\n",
		"\nallow-origin: # env BRIDGE_ALLOW_ORIGIN\n  - '*'\n",
		"\nstream: last # flag\n",
		"\nnats: \"true\" # flag\n", // a string that reads as a boolean is quoted
		"\nmax-sessions: 10000 # default\n",
		"\nupstream-max-recv-size: 4MiB # default\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("-print-config lacks %q:\n%s", want, out)
		}
	}
	// procs is $GOMAXPROCS's when the tests run with it (see TestPrintConfigGOMAXPROCS).
	settingRE := regexp.MustCompile(`^[a-z-]+:.* # (default|flag|file \S+:\d+|env BRIDGE_[A-Z_]+|env GOMAXPROCS \(.*\))$`)
	n := 0
	for l := range strings.SplitSeq(out, "\n") {
		if l == "" || strings.HasPrefix(l, "#") || strings.HasPrefix(l, "  - ") {
			continue
		}
		n++
		if !settingRE.MatchString(l) {
			t.Errorf("-print-config line %q: want a setting with its source", l)
		}
	}

	// Read it back, with no environment: the same settings.
	first, err := parseServeFlags([]string{"-stream", "last", "-ping-interval", "1s", "-log-level", "debug", "-nats", "true"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(first.settings) {
		t.Errorf("-print-config printed %d settings, want %d", n, len(first.settings))
	}
	for _, k := range []string{configEnv, "BRIDGE_COLLECT_LIMIT", "BRIDGE_ALLOW_ORIGIN"} {
		t.Setenv(k, "")
	}
	again, err := parseServeFlags([]string{"-config", writeFile(t, out)}, io.Discard)
	if err != nil {
		t.Fatalf("-config of the -print-config output: %v\n%s", err, out)
	}
	for i, s := range first.settings {
		if a := again.settings[i]; a.name != s.name || !slices.Equal(a.values, s.values) {
			t.Errorf("after the round trip, %s = %q, want %q", a.name, a.values, s.values)
		}
	}
	if again.stream != bridge.StreamLast || again.pingInterval != time.Second || len(again.feeds) != 1 ||
		again.forwardHeaders == nil || len(again.forwardHeaders) != 0 || again.collectLimit != 1000 || !again.json.UseProtoNames {
		t.Errorf("after the round trip: %+v", again)
	}
}

// TestPrintConfigGOMAXPROCS: while the default -procs keeps $GOMAXPROCS,
// -print-config shows as procs the count in force, which its file, read
// back with -config, sets: the same as the run that printed it, where
// printing the default 1 would force one CPU.
func TestPrintConfigGOMAXPROCS(t *testing.T) {
	t.Parallel()
	// The GOMAXPROCS serve runs with: what it sets, else the runtime's
	// reading of $GOMAXPROCS, else the runtime's choice ("runtime").
	inForce := func(cfg serveConfig, gomaxprocs string) string {
		if n := procsToSet(cfg.procs, cfg.procsSet, gomaxprocs != ""); n > 0 {
			return strconv.Itoa(n)
		}
		if n, err := strconv.ParseInt(gomaxprocs, 10, 32); err == nil && n > 0 {
			return strconv.FormatInt(n, 10)
		}
		return "runtime"
	}
	for _, tc := range []struct {
		name       string
		args       []string
		env        []string
		gomaxprocs string // $GOMAXPROCS of env
		wantLine   string
		want       string // inForce, before and after the round trip
		wantBack   string // after the round trip, if not want
	}{
		{"GOMAXPROCS kept", nil, []string{"GOMAXPROCS=2"}, "2", "\nprocs: 2 # env GOMAXPROCS (kept, as -procs is not set)\n", "2", ""},
		{"GOMAXPROCS with a sign", nil, []string{"GOMAXPROCS=+3"}, "+3", "\nprocs: 3 # env GOMAXPROCS (kept, as -procs is not set)\n", "3", ""},
		{"GOMAXPROCS the runtime ignores", nil, []string{"GOMAXPROCS=two"}, "two",
			"\nprocs: 0 # env GOMAXPROCS (not a number above 0: the Go runtime's choice; kept, as -procs is not set)\n", "runtime", ""},
		{"GOMAXPROCS 0", nil, []string{"GOMAXPROCS=0"}, "0",
			"\nprocs: 0 # env GOMAXPROCS (not a number above 0: the Go runtime's choice; kept, as -procs is not set)\n", "runtime", ""},
		{"no GOMAXPROCS", nil, nil, "", "\nprocs: 1 # default\n", "1", ""},
		{"GOMAXPROCS above -procs's maximum", nil, []string{"GOMAXPROCS=2000"}, "2000",
			"\nprocs: 1024 # env GOMAXPROCS=2000 (kept, as -procs is not set; cut to -procs's maximum here)\n", "2000", "1024"},
		{"empty GOMAXPROCS", nil, []string{"GOMAXPROCS="}, "", "\nprocs: 1 # default\n", "1", ""},
		{"flag over GOMAXPROCS", []string{"-procs", "3"}, []string{"GOMAXPROCS=2"}, "2", "\nprocs: 3 # flag\n", "3", ""},
		{"variable over GOMAXPROCS", nil, []string{"GOMAXPROCS=2", "BRIDGE_PROCS=4"}, "2", "\nprocs: 4 # env BRIDGE_PROCS\n", "4", ""},
		{"-procs 0 with GOMAXPROCS", []string{"-procs", "0"}, []string{"GOMAXPROCS=2"}, "2", "\nprocs: 0 # flag\n", "2", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg, printed := printedConfig(t, tc.args, tc.env)
			if !strings.Contains(printed, tc.wantLine) {
				t.Errorf("-print-config with %q and %q lacks %q:\n%s", tc.args, tc.env, tc.wantLine, printed)
			}
			if got := inForce(cfg, tc.gomaxprocs); got != tc.want {
				t.Errorf("with %q and %q: GOMAXPROCS %s, want %s", tc.args, tc.env, got, tc.want)
			}
			// Read back where it was printed, without the BRIDGE_ variables,
			// which the file holds now.
			var env []string
			for _, kv := range tc.env {
				if !strings.HasPrefix(kv, "BRIDGE_") {
					env = append(env, kv)
				}
			}
			again, err := loadServeConfig([]string{"-config", writeFile(t, printed)}, env, io.Discard)
			if err != nil {
				t.Fatalf("-config of the -print-config output: %v\n%s", err, printed)
			}
			want := tc.want
			if tc.wantBack != "" {
				want = tc.wantBack
			}
			if got := inForce(again, tc.gomaxprocs); got != want {
				t.Errorf("-config of the -print-config output with %q: GOMAXPROCS %s, want %s", env, got, want)
			}
		})
	}
}

// printedConfig returns the configuration of serve with args and env, and
// what -print-config prints for it.
func printedConfig(t *testing.T, args, env []string) (serveConfig, string) {
	t.Helper()
	cfg, err := loadServeConfig(args, env, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := writeConfig(&out, cfg.settings); err != nil {
		t.Fatal(err)
	}
	return cfg, out.String()
}

// TestPrintConfigRedacts: bearer tokens show as <redacted>, and the
// placeholder read back is refused rather than taken for a token.
func TestPrintConfigRedacts(t *testing.T) {
	const secret = "s3cret-token"
	t.Setenv(bearerTokensEnv, secret+",other-"+secret)
	var stdout, stderr strings.Builder
	if got := run(t.Context(), []string{"-print-config"}, &stdout, &stderr); got != exitOK {
		t.Fatalf("-print-config: exit status %d; stderr:\n%s", got, stderr.String())
	}
	out := stdout.String()
	if strings.Contains(out+stderr.String(), secret) {
		t.Fatalf("-print-config shows the token:\n%s", out)
	}
	if !strings.Contains(out, "\nbearer-token: # env BRIDGE_BEARER_TOKENS\n  - <redacted>\n  - <redacted>\n") {
		t.Errorf("-print-config does not redact the tokens:\n%s", out)
	}
	file := writeFile(t, out)
	// With the variable still set, it wins over the placeholders.
	cfg, err := parseServeFlags([]string{"-config", file}, io.Discard)
	if err != nil || !slices.Equal(cfg.bearerTokens, []string{secret, "other-" + secret}) {
		t.Errorf("-config with %s set: tokens %d, %v; want the variable's", bearerTokensEnv, len(cfg.bearerTokens), err)
	}
	t.Setenv(bearerTokensEnv, "")
	stderr.Reset()
	if got := run(t.Context(), []string{"-config", file}, &stdout, &stderr); got != exitUsage {
		t.Errorf("-config with <redacted> tokens: exit status %d, want %d", got, exitUsage)
	}
	if !strings.Contains(stderr.String(), "bearer-token: invalid value <redacted>: <redacted> is what -print-config shows for a secret") {
		t.Errorf("-config with <redacted> tokens: stderr does not say why:\n%s", stderr.String())
	}
}

// TestPrintConfigRedactsURLs: the passwords (and tokens) in the userinfo
// of URL settings show as <redacted> in -print-config and in errors, the
// rest of the URL as given; read back, the placeholder is refused unless
// the environment gives the URL.
func TestPrintConfigRedactsURLs(t *testing.T) {
	const (
		natsURLs = "nats://alice:n4ts-s3cret@nats-1.example:4222,nats://t0ken-s3cret@nats-2.example:4222/"
		traceURL = "http://bob:tr4ce-s3cret@collector.example:4317/v1?x=1"
	)
	secrets := []string{"n4ts-s3cret", "t0ken-s3cret", "tr4ce-s3cret"}
	noSecret := func(what, out string) {
		t.Helper()
		for _, sec := range secrets {
			if strings.Contains(out, sec) {
				t.Errorf("%s shows the secret %q:\n%s", what, sec, out)
			}
		}
	}
	t.Setenv("BRIDGE_NATS", natsURLs)
	var stdout, stderr strings.Builder
	if got := run(t.Context(), []string{"-print-config", "-trace-endpoint", traceURL}, &stdout, &stderr); got != exitOK {
		t.Fatalf("-print-config: exit status %d; stderr:\n%s", got, stderr.String())
	}
	out := stdout.String()
	noSecret("-print-config", out+stderr.String())
	for _, want := range []string{
		"\nnats: nats://alice:<redacted>@nats-1.example:4222,nats://<redacted>@nats-2.example:4222/ # env BRIDGE_NATS\n",
		"\ntrace-endpoint: http://bob:<redacted>@collector.example:4317/v1?x=1 # flag\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("-print-config lacks %q:\n%s", want, out)
		}
	}

	// Read back with the variable still set, which wins for -nats: only
	// the trace endpoint's placeholder is refused, naming the way out.
	file := writeFile(t, out)
	stderr.Reset()
	if got := run(t.Context(), []string{"-config", file}, &stdout, &stderr); got != exitUsage {
		t.Errorf("-config with a <redacted> URL: exit status %d, want %d", got, exitUsage)
	}
	if want := "-trace-endpoint (file " + file + ":"; !strings.Contains(stderr.String(), want) ||
		!strings.Contains(stderr.String(), "<redacted> is what -print-config shows for the secret of a URL") ||
		!strings.Contains(stderr.String(), "BRIDGE_TRACE_ENDPOINT") {
		t.Errorf("-config with a <redacted> trace endpoint: stderr does not say %q, why and what to do:\n%s", want, stderr.String())
	}
	t.Setenv("BRIDGE_NATS", "")
	stderr.Reset()
	if got := run(t.Context(), []string{"-config", file, "-trace-endpoint", traceURL}, &stdout, &stderr); got != exitUsage ||
		!strings.Contains(stderr.String(), "-nats (file "+file+":") {
		t.Errorf("-config with a <redacted> NATS URL: exit status %d, stderr %q; want %d naming -nats and the file", got, stderr.String(), exitUsage)
	}

	// A bad URL is quoted in the error without its password.
	stderr.Reset()
	bad := "grpc://bob:tr4ce-s3cret@collector.example:4317"
	if got := run(t.Context(), []string{"-trace-endpoint", bad}, &stdout, &stderr); got != exitUsage ||
		!strings.Contains(stderr.String(), `"grpc://bob:<redacted>@collector.example:4317"`) {
		t.Errorf("bad -trace-endpoint: exit status %d, stderr %q; want %d quoting the URL redacted", got, stderr.String(), exitUsage)
	}
	noSecret("the error of a bad -trace-endpoint", stderr.String())
}

// TestServeNATSErrorRedacted: when the NATS server cannot be reached, the
// error that stops the bridge names the URL without its password.
func TestServeNATSErrorRedacted(t *testing.T) {
	t.Parallel()
	stderr := newLineWriter()
	var lc net.ListenConfig
	lis, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "nats://alice:n4ts-s3cret@" + lis.Addr().String()
	lis.Close() // nothing listens there now
	if got := run(t.Context(), []string{"-listen", "127.0.0.1:0", "-nats", url}, nil, stderr); got != exitFailure {
		t.Errorf("serve with an unreachable NATS server: exit status %d, want %d; stderr:\n%s", got, exitFailure, stderr)
	}
	if s := stderr.String(); strings.Contains(s, "n4ts-s3cret") || !strings.Contains(s, "NATS") {
		t.Errorf("stderr %q: want an error about NATS without the password", s)
	}
}

func TestRedactURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":                                    "",
		"nats://127.0.0.1:4222":               "nats://127.0.0.1:4222",
		"nats://a:b@h:1":                      "nats://a:<redacted>@h:1",
		"nats://tok@h:1":                      "nats://<redacted>@h:1",
		"http://a:b:c@h/p@q?r=s@t#u@v":        "http://a:<redacted>@h/p@q?r=s@t#u@v",
		"nats://a:b@h:1, nats://c:d@h:2":      "nats://a:<redacted>@h:1, nats://c:<redacted>@h:2",
		"not a url with @ in it":              "not a url with @ in it",
		"https://user%40x:p%40ss@h.example/x": "https://user%40x:<redacted>@h.example/x",
	} {
		if got := redactURL(in); got != want {
			t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseSize(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{
		"0": 0, "65536": 65536, "64KiB": 64 << 10, "64kib": 64 << 10, "16MiB": 16 << 20, " 2 GiB ": 2 << 30, "1023": 1023,
	} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "x", "-1", "1MB", "1.5MiB", "KiB", "99999999999GiB"} {
		if got, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) = %d, want an error", in, got)
		}
	}
	for in, want := range map[int64]string{0: "0", 1000: "1000", 1024: "1KiB", 1536: "1536", 4 << 20: "4MiB", 3 << 30: "3GiB"} {
		if got := formatSize(in); got != want {
			t.Errorf("formatSize(%d) = %q, want %q", in, got, want)
		}
		if back, err := parseSize(formatSize(in)); err != nil || back != in {
			t.Errorf("parseSize(formatSize(%d)) = %d, %v", in, back, err)
		}
	}
}

// TestNewSettings: the new settings reach the configuration, with their
// defaults.
func TestNewSettings(t *testing.T) {
	t.Parallel()
	cfg, err := loadServeConfig(nil, nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.sendQueue != 64 || cfg.maxFrameSize != 1<<20 || cfg.maxCallsInFlight != 256 || cfg.collectLimit != 16<<20 ||
		cfg.maxSubscriptions != 256 || cfg.maxEventSize != 64<<10 || cfg.eventQueue != 256 ||
		cfg.json != (bridge.JSONOptions{EmitUnpopulated: true}) || cfg.upstreamMaxRecvSize != 4<<20 || cfg.upstreamMaxSendSize != 0 ||
		cfg.noReadTimeout != 10*time.Second || cfg.pingInterval != 25*time.Second || cfg.pongTimeout != time.Minute || cfg.logFormat != "text" {
		t.Errorf("defaults: %+v", cfg)
	}
	args := []string{"-send-queue", "8", "-max-frame-size", "2MiB", "-max-calls-in-flight", "9", "-collect-limit", "1KiB",
		"-max-subscriptions", "10", "-max-event-size", "100", "-event-queue", "11", "-json-use-proto-names", "-json-emit-unpopulated=false",
		"-json-use-enum-numbers", "-json-discard-unknown", "-upstream-max-recv-size", "512", "-upstream-max-send-size", "1MiB",
		"-no-read-timeout", "3s", "-ping-interval", "4s", "-pong-timeout", "5s", "-log-format", "JSON"}
	if cfg, err = loadServeConfig(args, nil, io.Discard); err != nil {
		t.Fatal(err)
	}
	if cfg.sendQueue != 8 || cfg.maxFrameSize != 2<<20 || cfg.maxCallsInFlight != 9 || cfg.collectLimit != 1024 ||
		cfg.maxSubscriptions != 10 || cfg.maxEventSize != 100 || cfg.eventQueue != 11 ||
		cfg.json != (bridge.JSONOptions{UseProtoNames: true, UseEnumNumbers: true, DiscardUnknown: true}) ||
		cfg.upstreamMaxRecvSize != 512 || cfg.upstreamMaxSendSize != 1<<20 ||
		cfg.noReadTimeout != 3*time.Second || cfg.pingInterval != 4*time.Second || cfg.pongTimeout != 5*time.Second || cfg.logFormat != "json" {
		t.Errorf("parseServeFlags(%q): %+v", args, cfg)
	}
}

// TestReadmeFlags: the README's flag table lists exactly the flags of
// bridge -h.
func TestReadmeFlags(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var inReadme []string
	for _, m := range regexp.MustCompile("(?m)^\\| `-([a-z-]+)` \\|").FindAllStringSubmatch(string(readme), -1) {
		inReadme = append(inReadme, m[1])
	}
	cfg := defaultServeConfig()
	var flags []string
	newServeFlagSet(&cfg, io.Discard).VisitAll(func(f *flag.Flag) { flags = append(flags, f.Name) })
	slices.Sort(inReadme)
	if !slices.Equal(inReadme, flags) {
		t.Errorf("README flag table:\n%q\nbridge -h:\n%q", inReadme, flags)
	}
}
