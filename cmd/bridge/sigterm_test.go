package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestServeSIGTERM runs the bridge as a process (the test binary running
// main) with -shutdown-grace 3s, starts 50 streaming calls, and sends it
// SIGTERM once every call has delivered its first message. The 25 calls
// that end 0.5 s later complete with their last message and CALLRESULT;
// the 25 that would run for an hour end with CALLERROR
// wamp.error.unavailable when the grace is over; the connection closes
// with 1001 and the process exits 0.
func TestServeSIGTERM(t *testing.T) {
	t.Parallel()
	const calls = 50
	cmd, host, rest := startBridgeProcess(t, []string{"-shutdown-grace", "3s"}, nil)
	url := "ws://" + host + "/"

	readyz := "http://" + host + "/readyz"
	waitFor(t, "the bridge process to be ready", func() bool {
		resp, err := http.Get(readyz)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	ws, _, err := websocket.DefaultDialer.DialContext(t.Context(), url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	ws.SetReadDeadline(time.Now().Add(2 * readyTimeout))
	read := func() []json.RawMessage {
		t.Helper()
		_, data, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		var f []json.RawMessage
		if err := json.Unmarshal(data, &f); err != nil {
			t.Fatalf("frame %s: %v", data, err)
		}
		return f
	}
	read() // WELCOME
	for i := range calls {
		interval := "0.5s"
		if i%2 == 1 {
			interval = "3600s"
		}
		frame := fmt.Sprintf(`[2,"c%d","demo.v1.ClockService.GetProgressiveTime",{"count":2,"interval":%q}]`, i, interval)
		if err := ws.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
			t.Fatal(err)
		}
	}
	type result struct {
		progress int
		final    string // "result" or the CALLERROR's URI
	}
	results := make(map[string]*result)
	for i := range calls {
		results[fmt.Sprintf("c%d", i)] = new(result)
	}
	handle := func(f []json.RawMessage) {
		var typ int
		var id string
		json.Unmarshal(f[0], &typ)
		json.Unmarshal(f[1], &id)
		r, ok := results[id]
		if !ok {
			t.Fatalf("frame for unknown call %q", id)
		}
		switch typ {
		case 1000:
			r.progress++
		case 3:
			r.final = "result"
		case 4:
			json.Unmarshal(f[2], &r.final)
		default:
			t.Fatalf("unexpected frame type %d", typ)
		}
	}
	// Every call delivers its first message at once.
	for seen := 0; seen < calls; seen++ {
		handle(read())
	}
	for id, r := range results {
		if r.progress != 1 {
			t.Fatalf("before SIGTERM call %s has %d progress frames, want 1", id, r.progress)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var closeCode int
	for {
		_, data, err := ws.ReadMessage()
		if ce, ok := errors.AsType[*websocket.CloseError](err); ok {
			closeCode = ce.Code
			break
		}
		if err != nil {
			t.Fatalf("read after SIGTERM: %v", err)
		}
		var f []json.RawMessage
		if err := json.Unmarshal(data, &f); err != nil {
			t.Fatal(err)
		}
		handle(f)
	}
	if closeCode != websocket.CloseGoingAway {
		t.Errorf("close code %d, want 1001", closeCode)
	}
	for i := range calls {
		id := fmt.Sprintf("c%d", i)
		r := results[id]
		if i%2 == 0 && (r.progress != 2 || r.final != "result") {
			t.Errorf("call %s (ends in 0.5s, within the grace): %d progress frames, end %q; want 2 and a CALLRESULT", id, r.progress, r.final)
		}
		if i%2 == 1 && (r.progress != 1 || r.final != "wamp.error.unavailable") {
			t.Errorf("call %s (runs for an hour): %d progress frames, end %q; want 1 and CALLERROR wamp.error.unavailable", id, r.progress, r.final)
		}
	}
	log := <-rest // all of stderr, before Wait closes the pipe
	if err := cmd.Wait(); err != nil {
		t.Errorf("bridge process: %v, want exit status 0; stderr:\n%s", err, log)
	}
}

// TestServeSIGINT: Ctrl-C (SIGINT) shuts the bridge down as SIGTERM does:
// it logs the shutdown and exits 0.
func TestServeSIGINT(t *testing.T) {
	t.Parallel()
	cmd, _, rest := startBridgeProcess(t, nil, nil)
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	log := <-rest // all of stderr, before Wait closes the pipe
	if err := cmd.Wait(); err != nil {
		t.Errorf("bridge process after SIGINT: %v, want exit status 0; stderr:\n%s", err, log)
	}
	if !strings.Contains(log, "shutting down") {
		t.Errorf("bridge process after SIGINT logged no shutdown; stderr:\n%s", log)
	}
}
