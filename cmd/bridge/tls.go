package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// tlsConfig is the TLS part of the serve command line: the listener's key
// pair and the upstream connection's TLS settings.
type tlsConfig struct {
	cert, key string // -tls-cert, -tls-key: both or neither; empty: plaintext

	upstreamTLS        bool   // -upstream-tls, or implied by the four below
	upstreamCA         string // PEM roots; empty: the system roots
	upstreamCert       string // client certificate (mTLS); with upstreamKey
	upstreamKey        string
	upstreamServerName string // overrides the name verified in the upstream's certificate
}

// addTLSFlags registers the TLS flags of serve on fs.
func addTLSFlags(fs *flag.FlagSet, c *tlsConfig) {
	fs.StringVar(&c.cert, "tls-cert", "", "PEM certificate (chain) `file` of the listener: serve wss:// and https://; needs -tls-key;\nreloaded when the file changes")
	fs.StringVar(&c.key, "tls-key", "", "PEM private key `file` of -tls-cert")
	fs.BoolVar(&c.upstreamTLS, "upstream-tls", false, "connect to the upstream over TLS (implied by the other -upstream-ca/-cert/-key/-server-name flags)")
	fs.StringVar(&c.upstreamCA, "upstream-ca", "", "PEM `file` of the roots that verify the upstream's certificate; empty: the system roots")
	fs.StringVar(&c.upstreamCert, "upstream-cert", "", "PEM client certificate `file` presented to the upstream (mTLS); needs -upstream-key")
	fs.StringVar(&c.upstreamKey, "upstream-key", "", "PEM private key `file` of -upstream-cert")
	fs.StringVar(&c.upstreamServerName, "upstream-server-name", "", "`name` verified in the upstream's certificate instead of the target's host")
}

// check validates the flags after parsing and applies the implications;
// upstream is the -upstream target (empty: the plaintext demo clock).
func (c *tlsConfig) check(upstream string) error {
	if err := bothOrNeither("tls-cert", c.cert, "tls-key", c.key); err != nil {
		return err
	}
	if err := bothOrNeither("upstream-cert", c.upstreamCert, "upstream-key", c.upstreamKey); err != nil {
		return err
	}
	if c.upstreamCA != "" || c.upstreamCert != "" || c.upstreamServerName != "" {
		c.upstreamTLS = true
	}
	if c.upstreamTLS && upstream == "" {
		return errors.New("flag -upstream-tls (or -upstream-ca/-cert/-key/-server-name): needs -upstream; the built-in demo clock is plaintext")
	}
	return nil
}

// bothOrNeither fails naming the missing flag when only one of a pair is set.
func bothOrNeither(nameA, a, nameB, b string) error {
	switch {
	case a != "" && b == "":
		return fmt.Errorf("flag -%s: needs -%s too", nameA, nameB)
	case a == "" && b != "":
		return fmt.Errorf("flag -%s: needs -%s too", nameB, nameA)
	}
	return nil
}

// serverTLS returns the listener's TLS configuration, or nil for plaintext.
// The key pair is loaded now, so that a bad file fails at start.
func (c *tlsConfig) serverTLS(logger *slog.Logger) (*tls.Config, error) {
	if c.cert == "" {
		return nil, nil
	}
	r, err := newCertReloader(c.cert, c.key, logger)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: r.getCertificate,
		NextProtos:     []string{"http/1.1"}, // WebSocket needs HTTP/1.1
	}, nil
}

// upstreamCredentials returns the dial option of the upstream's TLS
// credentials, or nil when the upstream is plaintext.
func (c *tlsConfig) upstreamCredentials() (grpc.DialOption, error) {
	if !c.upstreamTLS {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.upstreamServerName}
	if c.upstreamCA != "" {
		pool, err := loadRoots(c.upstreamCA)
		if err != nil {
			return nil, fmt.Errorf("flag -upstream-ca: %w", err)
		}
		tc.RootCAs = pool
	}
	if c.upstreamCert != "" {
		pair, err := tls.LoadX509KeyPair(c.upstreamCert, c.upstreamKey)
		if err != nil {
			return nil, fmt.Errorf("flags -upstream-cert/-upstream-key: %w", err)
		}
		tc.Certificates = []tls.Certificate{pair}
	}
	return grpc.WithTransportCredentials(credentials.NewTLS(tc)), nil
}

// loadRoots reads a PEM file of root certificates.
func loadRoots(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no PEM certificate in it", file)
	}
	return pool, nil
}

// certReloader serves a key pair and reloads it from its files when either
// file's size or modification time has changed. It looks at the files on
// every handshake: two stat calls, cheap next to the handshake itself. When
// the new files fail to load, it keeps serving the old pair and logs the
// error once per change.
type certReloader struct {
	certFile, keyFile string
	logger            *slog.Logger

	mu        sync.Mutex
	pair      *tls.Certificate
	certStamp fileStamp
	keyStamp  fileStamp
}

// fileStamp is what tells that a file has changed.
type fileStamp struct {
	size    int64
	modTime time.Time
}

func stampOf(file string) (fileStamp, error) {
	fi, err := os.Stat(file)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{fi.Size(), fi.ModTime()}, nil
}

func newCertReloader(certFile, keyFile string, logger *slog.Logger) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile, logger: logger}
	cs, ks, err := r.stamps()
	if err != nil {
		return nil, fmt.Errorf("flags -tls-cert/-tls-key: %w", err)
	}
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("flags -tls-cert/-tls-key: %w", err)
	}
	r.pair, r.certStamp, r.keyStamp = &pair, cs, ks
	return r, nil
}

func (r *certReloader) stamps() (cert, key fileStamp, err error) {
	if cert, err = stampOf(r.certFile); err != nil {
		return cert, key, err
	}
	key, err = stampOf(r.keyFile)
	return cert, key, err
}

// getCertificate is the tls.Config.GetCertificate of the listener.
func (r *certReloader) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reload()
	return r.pair, nil
}

// reload loads the files when they changed; r.mu is held.
func (r *certReloader) reload() {
	cs, ks, err := r.stamps()
	if err != nil {
		// A missing file is often a rotation in progress: keep the old
		// pair and look again later, without noise.
		return
	}
	if cs == r.certStamp && ks == r.keyStamp {
		return
	}
	// Whatever the outcome, this change is seen: a failure is logged once.
	r.certStamp, r.keyStamp = cs, ks
	pair, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		r.logger.Error("TLS key pair changed but does not load: still serving the previous one",
			"cert", r.certFile, "key", r.keyFile, "error", err)
		return
	}
	r.pair = &pair
	r.logger.Info("reloaded the TLS key pair", "cert", r.certFile, "key", r.keyFile)
}

// callTLS returns the TLS configuration of `bridge call`: nil (the
// defaults) unless -ca or -insecure-skip-verify is given.
func callTLS(caFile string, skipVerify bool) (*tls.Config, error) {
	if caFile == "" && !skipVerify {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: skipVerify} //nolint:gosec // -insecure-skip-verify is the user's explicit choice
	if caFile != "" {
		pool, err := loadRoots(caFile)
		if err != nil {
			return nil, fmt.Errorf("flag -ca: %w", err)
		}
		tc.RootCAs = pool
	}
	return tc, nil
}
