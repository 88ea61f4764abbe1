package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/reflection"

	demov1 "github.com/wampbridge/grpcwamp/gen/demo/v1"
)

// testCA is a certificate authority made up for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	file string // PEM of cert
}

func newTestCA(t *testing.T, dir string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "bridge test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "ca.pem")
	writePEM(t, file, "CERTIFICATE", der)
	return &testCA{cert: cert, key: key, file: file}
}

func (ca *testCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// leaf writes a certificate with IP SAN 127.0.0.1 signed by ca, and its
// key, to certFile and keyFile.
func (ca *testCA) leaf(t *testing.T, certFile, keyFile string, serial int64, usage x509.ExtKeyUsage) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, certFile, "CERTIFICATE", der)
	writePEM(t, keyFile, "PRIVATE KEY", kder)
}

func writePEM(t *testing.T, file, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// runServe runs `bridge serve args` until the test ends and returns the
// URL of its banner and its stderr.
func runServe(t *testing.T, args ...string) (string, *lineWriter) {
	t.Helper()
	ctx, interrupt := context.WithCancel(t.Context())
	stderr := newLineWriter()
	code := make(chan int, 1)
	go func() { code <- run(ctx, append([]string{"-listen", "127.0.0.1:0"}, args...), nil, stderr) }()
	t.Cleanup(func() {
		interrupt()
		if got := <-code; got != exitOK {
			t.Errorf("serve exit status %d, want 0; stderr:\n%s", got, stderr)
		}
	})
	bannerRE := regexp.MustCompile(`^bridge: serving WAMP v1 on (wss?://127\.0\.0\.1:\d+/) `)
	for {
		select {
		case l := <-stderr.Lines:
			if m := bannerRE.FindStringSubmatch(l); m != nil {
				return m[1], stderr
			}
		case c := <-code:
			code <- c // for the cleanup
			t.Fatalf("serve ended with %d before its banner; stderr:\n%s", c, stderr)
		}
	}
}

func TestParseTLSFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string // error text; empty: no error
	}{
		{[]string{"-tls-cert", "c.pem"}, "needs -tls-key"},
		{[]string{"-tls-key", "k.pem"}, "flag -tls-key: needs -tls-cert"},
		{[]string{"-upstream", "x:1", "-upstream-cert", "c.pem"}, "needs -upstream-key"},
		{[]string{"-upstream-tls"}, "needs -upstream"},
		{[]string{"-upstream", "x:1", "-upstream-server-name", "x"}, ""},
	} {
		var stderr strings.Builder
		cfg, err := parseServeFlags(tc.args, &stderr)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("parseServeFlags(%q): %v", tc.args, err)
		case tc.want == "" && !cfg.tls.upstreamTLS:
			t.Errorf("parseServeFlags(%q): upstream TLS not implied", tc.args)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("parseServeFlags(%q): error %v, want one containing %q", tc.args, err, tc.want)
		}
	}
}

// TestServeTLS runs `bridge serve -tls-cert -tls-key` over the demo clock:
// `bridge call -ca` over wss:// works, ws:// does not, and a rewritten key
// pair is served on the next handshake.
func TestServeTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := newTestCA(t, dir)
	certFile, keyFile := filepath.Join(dir, "server.pem"), filepath.Join(dir, "server.key")
	ca.leaf(t, certFile, keyFile, 100, x509.ExtKeyUsageServerAuth)
	url, serveErr := runServe(t, "-tls-cert", certFile, "-tls-key", keyFile)
	if !strings.HasPrefix(url, "wss://") {
		t.Fatalf("banner URL %q, want wss://", url)
	}
	var out, callErr *lineWriter
	waitFor(t, "a successful call over wss://", func() bool { // the upstream may not be ready yet
		out, callErr = newLineWriter(), newLineWriter()
		return run(t.Context(), []string{"call", "-ca", ca.file, url, "GetTime"}, out, callErr) == exitOK
	})
	if !strings.Contains(out.String(), `"time"`) {
		t.Errorf("call GetTime printed %q, want the time", out)
	}

	plain := "ws://" + strings.TrimPrefix(url, "wss://")
	if got := run(t.Context(), []string{"call", plain, "GetTime"}, newLineWriter(), newLineWriter()); got == exitOK {
		t.Errorf("call over ws:// to the TLS listener: exit status 0, want a failure")
	}
	callErr = newLineWriter()
	if got := run(t.Context(), []string{"call", url, "GetTime"}, newLineWriter(), callErr); got == exitOK {
		t.Errorf("call over wss:// without -ca: exit status 0, want a certificate failure")
	} else if !strings.Contains(callErr.String(), "certificate") || !strings.Contains(callErr.String(), "pass -ca FILE") {
		t.Errorf("call over wss:// without -ca: stderr does not mention the certificate and -ca:\n%s", callErr)
	}

	// /healthz over https.
	host := strings.TrimSuffix(strings.TrimPrefix(url, "wss://"), "/")
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.pool()}}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get("https://" + host + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz over https: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz over https: %s, want 200", resp.Status)
	}

	if got := peerSerial(t, host, ca); got != 100 {
		t.Fatalf("served serial %d, want 100", got)
	}
	// Rotate: a new leaf over the same files, stamped later so the change
	// shows even within the file system's time resolution.
	ca.leaf(t, certFile, keyFile, 200, x509.ExtKeyUsageServerAuth)
	later := time.Now().Add(time.Hour)
	for _, f := range []string{certFile, keyFile} {
		if err := os.Chtimes(f, later, later); err != nil {
			t.Fatal(err)
		}
	}
	if got := peerSerial(t, host, ca); got != 200 {
		t.Errorf("after rewriting the files: served serial %d, want 200", got)
	}
	// A broken rewrite keeps the last good pair.
	if err := os.WriteFile(keyFile, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := peerSerial(t, host, ca); got != 200 {
		t.Errorf("after breaking the key file: served serial %d, want 200 still", got)
	}
	if got := peerSerial(t, host, ca); got != 200 { // the same broken files: not logged again
		t.Errorf("after breaking the key file, again: served serial %d, want 200 still", got)
	}
	log := serveErr.String()
	if !strings.Contains(log, "reloaded the TLS key pair") {
		t.Errorf("the server did not log the reload:\n%s", log)
	}
	if n := strings.Count(log, "does not load"); n != 1 {
		t.Errorf("the server logged the failed reload %d times, want once:\n%s", n, log)
	}
}

// peerSerial makes a TLS handshake with host and returns the serial number
// of the certificate it presents.
func peerSerial(t *testing.T, host string, ca *testCA) int64 {
	t.Helper()
	d := tls.Dialer{Config: &tls.Config{RootCAs: ca.pool(), MinVersion: tls.VersionTLS12}}
	conn, err := d.DialContext(t.Context(), "tcp", host)
	if err != nil {
		t.Fatalf("TLS handshake with %s: %v", host, err)
	}
	defer conn.Close()
	return conn.(*tls.Conn).ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

// clock is a minimal demo.v1.ClockService for the upstream TLS test.
type clock struct {
	demov1.UnimplementedClockServiceServer
}

func (clock) GetTime(context.Context, *demov1.GetTimeRequest) (*demov1.GetTimeResponse, error) {
	return &demov1.GetTimeResponse{Time: time.Now().Format("20060102 15:04:05")}, nil
}

// TestServeUpstreamMTLS bridges an upstream that requires client
// certificates: with -upstream-ca/-cert/-key a call works; without the
// client certificate the bridge does not become ready.
func TestServeUpstreamMTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := newTestCA(t, dir)
	srvCert, srvKey := filepath.Join(dir, "upstream.pem"), filepath.Join(dir, "upstream.key")
	ca.leaf(t, srvCert, srvKey, 10, x509.ExtKeyUsageServerAuth)
	cliCert, cliKey := filepath.Join(dir, "client.pem"), filepath.Join(dir, "client.key")
	ca.leaf(t, cliCert, cliKey, 11, x509.ExtKeyUsageClientAuth)

	pair, err := tls.LoadX509KeyPair(srvCert, srvKey)
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer(grpc.Creds(credentials.NewTLS(&tls.Config{
		Certificates: []tls.Certificate{pair},
		ClientCAs:    ca.pool(),
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS12,
	})))
	demov1.RegisterClockServiceServer(gs, clock{})
	reflection.Register(gs)
	addr := serveGRPC(t, gs)

	t.Run("client certificate", func(t *testing.T) {
		url, _ := runServe(t, "-upstream", addr, "-upstream-ca", ca.file, "-upstream-cert", cliCert, "-upstream-key", cliKey)
		var out *lineWriter
		waitFor(t, "a successful call through the mTLS upstream", func() bool {
			out = newLineWriter()
			return run(t.Context(), []string{"call", url, "GetTime"}, out, newLineWriter()) == exitOK
		})
		if !strings.Contains(out.String(), `"time"`) {
			t.Errorf("call GetTime printed %q, want the time", out)
		}
	})
	t.Run("no client certificate", func(t *testing.T) {
		url, _ := runServe(t, "-upstream", addr, "-upstream-ca", ca.file)
		host := strings.TrimSuffix(strings.TrimPrefix(url, "ws://"), "/")
		tr := &http.Transport{}
		defer tr.CloseIdleConnections()
		// The reason names the failed connection once the first attempt
		// has failed: under TLS 1.3 the client usually reads the server's
		// "certificate required" alert, but a loaded machine may let it
		// see the connection reset first, which names no certificate.
		var status int
		var body []byte
		waitFor(t, "/readyz to name the failed connection", func() bool {
			resp, err := (&http.Client{Transport: tr}).Get("http://" + host + "/readyz")
			if err != nil {
				t.Fatalf("GET /readyz: %v", err)
			}
			body, _ = io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			status = resp.StatusCode
			return status != http.StatusServiceUnavailable || strings.Contains(string(body), "connection error")
		})
		if status != http.StatusServiceUnavailable {
			t.Errorf("GET /readyz without a client certificate: %d %q, want 503 naming the failed connection", status, body)
		}
		callErr := newLineWriter()
		if got := run(t.Context(), []string{"call", url, "GetTime"}, newLineWriter(), callErr); got == exitOK {
			t.Errorf("call without a client certificate: exit status 0, want a failure")
		} else if !strings.Contains(callErr.String(), "wamp.error.unavailable") {
			t.Errorf("call without a client certificate: stderr does not show wamp.error.unavailable:\n%s", callErr)
		}
	})
}

// TestHTTPErrorLogTLSErrors: the HTTP server's errors are warnings, but
// failed TLS handshakes, one line per client, are logged only
// tlsErrorsLogged times and then at most once a minute, the last of the
// first ones saying so: a client cannot flood the log.
func TestHTTPErrorLogTLSErrors(t *testing.T) {
	var buf bytes.Buffer
	l := httpErrorLog(slog.New(slog.NewTextHandler(&buf, nil)))
	for i := range 100 {
		l.Printf("http: TLS handshake error from 127.0.0.1:%d: remote error: tls: bad certificate", 40000+i)
	}
	l.Printf("http: panic serving 127.0.0.1:1: boom")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != tlsErrorsLogged+1 {
		t.Fatalf("%d log lines for 100 failed handshakes and a panic, want %d:\n%s", len(lines), tlsErrorsLogged+1, buf.String())
	}
	if !strings.Contains(lines[tlsErrorsLogged-1], "further TLS handshake errors: at most one a minute") {
		t.Errorf("line %d does not say the log of them slows: %s", tlsErrorsLogged, lines[tlsErrorsLogged-1])
	}
	if last := lines[len(lines)-1]; !strings.Contains(last, "level=WARN") || !strings.Contains(last, "http: panic serving") {
		t.Errorf("another server error: %s, want it logged as a warning", last)
	}
}
