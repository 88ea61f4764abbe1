package bridge_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/wampbridge/grpcwamp/bridge/internal/bridgetest"
	bridgetestv1 "github.com/wampbridge/grpcwamp/gen/bridgetest/v1"
)

// The benchmarks measure the bridge against direct gRPC to the same
// upstream in the same run; compare the two sub-benchmarks' figures (a
// ratio is what matters, since the absolute numbers depend on the machine).
// Client, bridge and upstream share one process here; issue #6's benchmark
// separates them.
//
//	go test -run '^$' -bench . -benchtime 3s ./bridge/
//
// BenchmarkIdleSessionMemory measures what an idle session costs the
// bridge; run it alone with -benchtime 1x (each iteration opens its
// sessions anew):
//
//	go test -run '^$' -bench IdleSessionMemory -benchtime 1x ./bridge/

// BenchmarkStream streams b.N messages in one server-streaming call.
func BenchmarkStream(b *testing.B) {
	addr, _ := bridgetest.StartUpstream(b, bridgetest.UpstreamOptions{})
	b.Run("direct", func(b *testing.B) {
		client := bridgetestv1.NewTestServiceClient(dial(b, addr))
		b.ReportAllocs()
		start := time.Now()
		stream, err := client.Stream(b.Context(), &bridgetestv1.StreamRequest{Count: int32(b.N), Tag: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		for n := 0; ; n++ {
			if _, err := stream.Recv(); err == io.EOF {
				if n != b.N {
					b.Fatalf("received %d messages, want %d", n, b.N)
				}
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
	})
	b.Run("bridge", func(b *testing.B) {
		br := bridgetest.StartBridge(b, addr, bridgetest.Reflection)
		c := bridgetest.Dial(b, br.URL, "wamp")
		c.ReadWelcome(b)
		b.ReportAllocs()
		start := time.Now()
		c.Send(b, fmt.Sprintf(`[2,"s","bridgetest.v1.TestService.Stream",{"count":%d,"tag":"bench"}]`, b.N))
		progress := []byte(`[1000,`)
		for n := 0; ; n++ {
			_, data, err := c.Conn.ReadMessage()
			if err != nil {
				b.Fatal(err)
			}
			if !bytes.HasPrefix(data, progress) {
				if n != b.N || !bytes.HasPrefix(data, []byte(`[3,`)) {
					b.Fatalf("after %d progress frames got %s, want CALLRESULT after %d", n, data, b.N)
				}
				break
			}
		}
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
	})
}

// BenchmarkUnary makes b.N unary calls one after another: the round trip.
func BenchmarkUnary(b *testing.B) {
	addr, _ := bridgetest.StartUpstream(b, bridgetest.UpstreamOptions{})
	b.Run("direct", func(b *testing.B) {
		client := bridgetestv1.NewTestServiceClient(dial(b, addr))
		req := &bridgetestv1.EchoRequest{Text: "hello", Number: 42}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := client.Echo(b.Context(), req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("bridge", func(b *testing.B) {
		br := bridgetest.StartBridge(b, addr, bridgetest.Reflection)
		c := bridgetest.Dial(b, br.URL, "wamp")
		c.ReadWelcome(b)
		call := []byte(`[2,"u","bridgetest.v1.TestService.Echo",{"text":"hello","number":42}]`)
		b.ReportAllocs()
		for b.Loop() {
			if err := c.Conn.WriteMessage(websocket.TextMessage, call); err != nil {
				b.Fatal(err)
			}
			if _, data, err := c.Conn.ReadMessage(); err != nil || !bytes.HasPrefix(data, []byte(`[3,`)) {
				b.Fatalf("got %s, %v; want CALLRESULT", data, err)
			}
		}
	})
}

// BenchmarkIdleSessionMemory reports the memory (heap and stacks in use)
// (and stacks alone) and goroutines that each idle session holds in the bridge: a session that
// has read WELCOME and made one unary call. The clients run in a child
// process (this test binary, which TestMain turns into runIdleClients), so that the
// figures count the bridge side only; the upstream shares the bridge's
// process but holds nothing per session once the calls have ended. Two
// sizes show that the cost is linear in the number of sessions.
func BenchmarkIdleSessionMemory(b *testing.B) {
	for _, n := range []int{250, 1000} {
		b.Run(fmt.Sprintf("sessions=%d", n), func(b *testing.B) { benchIdleSessions(b, n) })
	}
}

func benchIdleSessions(b *testing.B, n int) {
	addr, _ := bridgetest.StartUpstream(b, bridgetest.UpstreamOptions{})
	br := bridgetest.StartBridge(b, addr, bridgetest.Reflection)
	// One session and call first, so that what the bridge builds once (the
	// gRPC connection's streams, the method table) is not charged to the
	// sessions measured.
	c := bridgetest.Dial(b, br.URL, "wamp")
	c.ReadWelcome(b)
	c.Send(b, `[2,"warm","bridgetest.v1.TestService.Echo",{"text":"hello"}]`)
	c.Read(b)
	c.Close()
	var mem, stack, goroutines float64
	for range b.N {
		waitGoroutines(b, -1)
		base, g0 := memInUse(), runtime.NumGoroutine()
		stop := startIdleClients(b, br.URL, n)
		after, g1 := memInUse(), runtime.NumGoroutine()
		mem += float64(int64(after.HeapInuse+after.StackInuse)-int64(base.HeapInuse+base.StackInuse)) / float64(n)
		stack += float64(int64(after.StackInuse)-int64(base.StackInuse)) / float64(n)
		goroutines += float64(g1-g0) / float64(n)
		stop()
		waitGoroutines(b, g0)
	}
	b.ReportMetric(mem/float64(b.N), "bytes/session")
	b.ReportMetric(stack/float64(b.N), "stack-bytes/session")
	b.ReportMetric(goroutines/float64(b.N), "goroutines/session")
}

// memInUse returns the memory statistics after two collections.
func memInUse() *runtime.MemStats {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return &m
}

// waitGoroutines waits until at most n goroutines run (n < 0: until the
// count stops falling), so that the sessions of the previous iteration are
// gone before the next measures its base. Polling is fine here: this is a
// benchmark's set-up, not an assertion.
func waitGoroutines(b *testing.B, n int) {
	deadline := time.Now().Add(bridgetest.Timeout)
	last := runtime.NumGoroutine()
	for time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		g := runtime.NumGoroutine()
		if (n >= 0 && g <= n) || (n < 0 && g >= last) {
			return
		}
		last = g
	}
	b.Fatalf("%d goroutines still running after %v, want at most %d", runtime.NumGoroutine(), bridgetest.Timeout, n)
}

// startIdleClients starts the child process holding n sessions to url and
// returns once they are all idle; stop closes them and waits for the child.
func startIdleClients(b *testing.B, url string, n int) (stop func()) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), idleClientsURL+"="+url, idleClientsCount+"="+strconv.Itoa(n))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	stop = func() {
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			b.Fatalf("idle clients: %v", err)
		}
	}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if sc.Text() == idleClientsReady {
			go io.Copy(io.Discard, stdout)
			return stop
		}
	}
	stop()
	b.Fatal("idle clients: the child ended before its sessions were ready")
	return nil
}

const (
	idleClientsURL   = "GRPCWAMP_IDLE_CLIENTS_URL"
	idleClientsCount = "GRPCWAMP_IDLE_CLIENTS_COUNT"
	idleClientsReady = "idle clients ready"
)

// runIdleClients is the child process of BenchmarkIdleSessionMemory, run
// by TestMain when the environment names a bridge: it opens the sessions,
// reads WELCOME and makes one unary call on each, says so on stdout and
// holds them until stdin is closed.
func runIdleClients(url, count string) error {
	n, err := strconv.Atoi(count)
	if err != nil {
		return fmt.Errorf("%s: %w", idleClientsCount, err)
	}
	call := []byte(`[2,"u","bridgetest.v1.TestService.Echo",{"text":"hello","number":42}]`)
	dialer := websocket.Dialer{Subprotocols: []string{"wamp"}, HandshakeTimeout: bridgetest.Timeout}
	conns := make([]*websocket.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range n {
		c, _, err := dialer.Dial(url, nil)
		if err != nil {
			return err
		}
		conns = append(conns, c)
		if _, data, err := c.ReadMessage(); err != nil || !bytes.HasPrefix(data, []byte(`[0,`)) {
			return fmt.Errorf("got %s, %v; want WELCOME", data, err)
		}
		if err := c.WriteMessage(websocket.TextMessage, call); err != nil {
			return err
		}
		if _, data, err := c.ReadMessage(); err != nil || !bytes.HasPrefix(data, []byte(`[3,`)) {
			return fmt.Errorf("got %s, %v; want CALLRESULT", data, err)
		}
	}
	fmt.Println(idleClientsReady)
	_, err = io.Copy(io.Discard, os.Stdin)
	return err
}

func dial(b *testing.B, addr string) *grpc.ClientConn {
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cc.Close() })
	return cc
}
