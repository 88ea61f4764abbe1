package main

import (
	"strings"
	"testing"
	"time"

	"github.com/wampbridge/grpcwamp/bridge"
)

func TestParseLimitFlags(t *testing.T) {
	t.Parallel()
	var stderr strings.Builder
	cfg, err := parseServeFlags(nil, &stderr)
	if err != nil {
		t.Fatalf("parseServeFlags(): %v (%s)", err, stderr.String())
	}
	if cfg.maxSessions != bridge.DefaultMaxSessions || cfg.upstreamKeepalive != 0 {
		t.Errorf("defaults: -max-sessions %d, -upstream-keepalive %v; want %d, 0",
			cfg.maxSessions, cfg.upstreamKeepalive, bridge.DefaultMaxSessions)
	}
	args := []string{"-max-sessions", "0", "-upstream-keepalive", "5m"}
	if cfg, err = parseServeFlags(args, &stderr); err != nil {
		t.Fatalf("parseServeFlags(%q): %v (%s)", args, err, stderr.String())
	}
	if cfg.maxSessions != 0 || cfg.upstreamKeepalive != 5*time.Minute {
		t.Errorf("parseServeFlags(%q): -max-sessions %d, -upstream-keepalive %v", args, cfg.maxSessions, cfg.upstreamKeepalive)
	}
	for _, bad := range [][]string{{"-max-sessions", "-1"}, {"-upstream-keepalive", "-1s"}} {
		stderr.Reset()
		if _, err := parseServeFlags(bad, &stderr); err == nil || !strings.Contains(err.Error(), bad[0]) {
			t.Errorf("parseServeFlags(%q): %v, want an error naming the flag", bad, err)
		}
	}
}
