package main

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

// httpGet fetches u with client and returns the status and the body; any
// failure to fetch or read it fails the test.
func httpGet(t *testing.T, client *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := client.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// runMainEnv, set to 1, makes the test binary run the bridge's main instead
// of the tests: a test starts the bridge as a real process that way, to
// send it signals.
const runMainEnv = "GRPCWAMP_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
	}
	// serve runs inside this process in most tests: -procs must not change
	// the GOMAXPROCS of the tests, nor -gc-heap-floor their GOGC.
	// TestServeProcs and TestServeGCHeapFloor run real processes.
	setGOMAXPROCS = func(int) int { return 0 }
	startGCFloor = func(uint64) func() { return func() {} }
	goleak.VerifyTestMain(m)
}

// lineWriter is an io.Writer safe for concurrent use that keeps what was
// written and hands each completed line to Lines.
type lineWriter struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	partial []byte
	Lines   chan string // buffered; lines beyond its capacity are only kept in buf
}

func newLineWriter() *lineWriter {
	return &lineWriter{Lines: make(chan string, 1000)}
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		select {
		case w.Lines <- string(w.partial[:i]):
		default:
		}
		w.partial = w.partial[i+1:]
	}
	return len(p), nil
}

func (w *lineWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// lines returns what was written, split into lines without the last newline.
func (w *lineWriter) lines() []string {
	s := strings.TrimSuffix(w.String(), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}
