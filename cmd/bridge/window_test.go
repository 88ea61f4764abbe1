package main

import (
	"fmt"
	"strings"
	"testing"
)

// TestServeUpstreamWindow: by default the bridge's connection to the
// upstream announces static HTTP/2 windows, 1 MiB for each call and 4 MiB
// for the connection, which turn off gRPC's bandwidth-estimating PINGs;
// -upstream-window sets another size, and 0 leaves gRPC's own windows: the
// 64 KiB default, grown by those PINGs (the reflection answers the bridge
// reads at start are enough to send some).
func TestServeUpstreamWindow(t *testing.T) {
	t.Parallel()
	const settingsInitialWindowSize = 0x4
	for _, tc := range []struct {
		args       []string
		window     uint32 // announced in SETTINGS; 0: none
		connWindow uint32 // the connection's first WINDOW_UPDATE; 0: none expected
		bdp        bool
	}{
		{nil, 1 << 20, 4<<20 - 65535, false},
		{[]string{"-upstream-window", "256KiB"}, 256 << 10, 1<<20 - 65535, false},
		{[]string{"-upstream-window", "0"}, 0, 0, true},
	} {
		t.Run(fmt.Sprint(tc.args), func(t *testing.T) {
			t.Parallel()
			proxy := startH2Proxy(t, startEchoUpstream(t))
			url, _ := runServe(t, append([]string{"-upstream", proxy.addr}, tc.args...)...)
			waitReady(t, strings.TrimSuffix(strings.TrimPrefix(url, "ws://"), "/"))
			settings := <-proxy.settings
			if got, ok := settings[settingsInitialWindowSize]; tc.window != 0 && got != tc.window || tc.window == 0 && ok && got != 65535 {
				t.Errorf("SETTINGS_INITIAL_WINDOW_SIZE %d (sent: %v), want %d", got, ok, tc.window)
			}
			if tc.connWindow != 0 {
				if got := <-proxy.connWindow; got != tc.connWindow {
					t.Errorf("the connection's WINDOW_UPDATE %d, want %d", got, tc.connWindow)
				}
			}
			if tc.bdp {
				// Sent as the answers arrive, they may reach the
				// proxy after /readyz is 200.
				waitFor(t, "a bandwidth-estimating PING", func() bool { return proxy.bdpPings.Load() > 0 })
			} else if got := proxy.bdpPings.Load(); got != 0 {
				t.Errorf("%d bandwidth-estimating PINGs with static windows, want none", got)
			}
		})
	}
}
