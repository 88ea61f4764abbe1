package bridge_test

// End-to-end tests of the handshake's security (origin allow-list, bearer
// tokens) and of the identity the bridge forwards to the upstream as gRPC
// metadata.

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/wampbridge/grpcwamp/bridge"
	"github.com/wampbridge/grpcwamp/bridge/internal/bridgetest"
)

// originOf returns the web origin of the bridge's own host.
func originOf(e env) string { return e.b.HTTP }

func TestE2EOriginDefault(t *testing.T) {
	t.Parallel()
	e := start(t, bridgetest.Reflection)
	t.Run("same host", func(t *testing.T) {
		t.Parallel()
		c := bridgetest.DialHeader(t, e.b.URL, http.Header{"Origin": {originOf(e)}}, "wamp")
		c.ReadWelcome(t)
	})
	t.Run("same host, other case", func(t *testing.T) {
		t.Parallel()
		c := bridgetest.DialHeader(t, e.b.URL, http.Header{"Origin": {strings.ToUpper(originOf(e))}}, "wamp")
		c.ReadWelcome(t)
	})
	t.Run("no origin", func(t *testing.T) {
		t.Parallel()
		c := bridgetest.Dial(t, e.b.URL, "wamp")
		c.ReadWelcome(t)
	})
	for _, foreign := range []string{"https://evil.example", "http://127.0.0.1:1", "null"} {
		t.Run("foreign "+foreign, func(t *testing.T) {
			t.Parallel()
			code, body, _ := bridgetest.DialHeaderRefused(t, e.b.URL, http.Header{"Origin": {foreign}}, "wamp")
			if code != http.StatusForbidden {
				t.Errorf("origin %q: status %d, want 403", foreign, code)
			}
			host := strings.TrimPrefix(e.b.HTTP, "http://")
			if !strings.Contains(body, fmt.Sprintf("%q", foreign)) || !strings.Contains(body, "-allow-origin") ||
				!strings.Contains(body, "own host ("+host+")") {
				t.Errorf("origin %q: body %q, want it to name the origin, -allow-origin and the default, pages of %s", foreign, body, host)
			}
		})
	}
}

func TestE2EOriginList(t *testing.T) {
	t.Parallel()
	e := start(t, bridgetest.Reflection, bridge.WithAllowedOrigins("https://app.example", "http://Other.Example:8080"))
	for _, ok := range []string{"https://app.example", "HTTPS://APP.EXAMPLE", "http://other.example:8080"} {
		c := bridgetest.DialHeader(t, e.b.URL, http.Header{"Origin": {ok}}, "wamp")
		c.ReadWelcome(t)
	}
	bridgetest.Dial(t, e.b.URL, "wamp").ReadWelcome(t) // no Origin: not a browser
	// Listing origins replaces the same-host default.
	for _, refused := range []string{originOf(e), "https://app.example:444", "http://app.example", "https://evil.example"} {
		code, body, _ := bridgetest.DialHeaderRefused(t, e.b.URL, http.Header{"Origin": {refused}}, "wamp")
		if code != http.StatusForbidden || !strings.Contains(body, refused) || strings.Contains(body, "own host") {
			t.Errorf("origin %q: %d %q, want 403 naming the origin (and not the same-host default, which the list replaced)", refused, code, body)
		}
	}
}

func TestE2EOriginAny(t *testing.T) {
	t.Parallel()
	e := start(t, bridgetest.Reflection, bridge.WithAllowedOrigins("*"))
	for _, o := range []string{"https://evil.example", originOf(e), "null"} {
		c := bridgetest.DialHeader(t, e.b.URL, http.Header{"Origin": {o}}, "wamp")
		c.ReadWelcome(t)
	}
}

func TestE2EOriginInvalidOption(t *testing.T) {
	t.Parallel()
	for _, o := range []string{"app.example", "https://app.example/path", ""} {
		if _, err := bridge.NewHandler(nil, bridge.WithAllowedOrigins(o)); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%q", o)) {
			t.Errorf("WithAllowedOrigins(%q): error %v, want one naming it", o, err)
		}
	}
	if _, err := bridge.NewHandler(nil, bridge.WithBearerTokens("")); err == nil {
		t.Error("WithBearerTokens(\"\"): no error")
	}
	// Each refused header name gets the reason it is refused.
	for name, why := range map[string]string{
		"x-forwarded-for":      "the bridge sets it",
		"grpc-timeout":         "belong to gRPC",
		"Sec-WebSocket-Key":    "WebSocket handshake",
		"host":                 "HTTP connection or request",
		"x user":               "a-z, 0-9",
		"":                     "empty",
		"wamp-session-id":      "the bridge sets it",
		"transfer-encoding":    "HTTP connection or request",
		"x-ünicode":            "a-z, 0-9",
		"sec-websocket-accept": "WebSocket handshake",
	} {
		_, err := bridge.NewHandler(nil, bridge.WithForwardHeaders(name))
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%q", name)) || !strings.Contains(err.Error(), why) {
			t.Errorf("WithForwardHeaders(%q): error %v, want one naming it and saying %q", name, err, why)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent use, for logs.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

const (
	goodToken  = "s3cret-token-A"
	otherToken = "s3cret-token-B"
	wrongToken = "wrong-token-XYZ"
)

func TestE2EBearerToken(t *testing.T) {
	t.Parallel()
	logs := new(syncBuffer)
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := start(t, bridgetest.Reflection, bridge.WithBearerTokens(goodToken, otherToken), bridge.WithLogger(logger))

	refused := []struct {
		name   string
		url    string
		header http.Header
	}{
		{"missing", e.b.URL, nil},
		{"wrong", e.b.URL, http.Header{"Authorization": {"Bearer " + wrongToken}}},
		{"prefix of a token", e.b.URL, http.Header{"Authorization": {"Bearer s3cret-token"}}},
		{"not bearer", e.b.URL, http.Header{"Authorization": {"Basic " + goodToken}}},
		{"wrong query", e.b.URL + "?access_token=" + wrongToken, nil},
	}
	for _, tc := range refused {
		code, body, h := bridgetest.DialHeaderRefused(t, tc.url, tc.header, "wamp")
		if code != http.StatusUnauthorized {
			t.Errorf("%s: status %d %q, want 401", tc.name, code, body)
		}
		if got := h.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
			t.Errorf("%s: WWW-Authenticate %q, want Bearer", tc.name, got)
		}
		for _, secret := range []string{goodToken, otherToken, wrongToken} {
			if strings.Contains(body, secret) {
				t.Errorf("%s: body %q echoes a token", tc.name, body)
			}
		}
	}

	accepted := []struct {
		name   string
		url    string
		header http.Header
	}{
		{"header", e.b.URL, http.Header{"Authorization": {"Bearer " + goodToken}}},
		{"header, second token, scheme in lower case", e.b.URL, http.Header{"Authorization": {"bearer " + otherToken}}},
		{"query", e.b.URL + "?access_token=" + url.QueryEscape(goodToken), nil},
		{"query with stream mode", e.b.URL + "?stream=collect&access_token=" + url.QueryEscape(otherToken), nil},
	}
	for _, tc := range accepted {
		t.Run(tc.name, func(t *testing.T) {
			c := bridgetest.DialHeader(t, tc.url, tc.header, "wamp")
			c.ReadWelcome(t)
			c.Sync(t)
			c.Close()
		})
	}
	// GET /procedures asks for a token as the handshake does: the list is
	// what a session could learn.
	procedures := func(query string, header http.Header) (int, http.Header) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, e.b.HTTP+"/procedures"+query, nil)
		if err != nil {
			t.Fatal(err)
		}
		maps.Copy(req.Header, header)
		resp, err := e.b.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, resp.Header
	}
	for _, tc := range []struct {
		name   string
		query  string
		header http.Header
		want   int
	}{
		{"missing", "", nil, http.StatusUnauthorized},
		{"wrong", "", http.Header{"Authorization": {"Bearer " + wrongToken}}, http.StatusUnauthorized},
		{"wrong query", "?access_token=" + wrongToken, nil, http.StatusUnauthorized},
		{"header", "", http.Header{"Authorization": {"Bearer " + goodToken}}, http.StatusOK},
		{"query", "?access_token=" + url.QueryEscape(otherToken), nil, http.StatusOK},
	} {
		code, h := procedures(tc.query, tc.header)
		if code != tc.want {
			t.Errorf("GET /procedures, token %s: status %d, want %d", tc.name, code, tc.want)
		}
		if code == http.StatusUnauthorized && !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("GET /procedures, token %s: WWW-Authenticate %q, want Bearer", tc.name, h.Get("WWW-Authenticate"))
		}
	}
	// Refusals are logged before they are answered; the sessions log
	// nothing of the handshake.
	out := logs.String()
	if !strings.Contains(out, "handshake refused") {
		t.Errorf("logs lack the refusals:\n%s", out)
	}
	for _, secret := range []string{goodToken, otherToken, wrongToken} {
		if strings.Contains(out, secret) {
			t.Errorf("logs contain token %q:\n%s", secret, out)
		}
	}
}

// TestE2EForwardedMetadataLimit: the metadata a handshake gives every
// upstream call is at most bridge.MaxForwardedMetadata bytes; a handshake
// beyond it gets 431 naming the headers and the limit.
func TestE2EForwardedMetadataLimit(t *testing.T) {
	t.Parallel()
	e := start(t, bridgetest.Reflection, bridge.WithForwardHeaders("x-user"))
	// Besides x-user: x-forwarded-for, 127.0.0.1.
	fits := bridge.MaxForwardedMetadata - len("x-user") - len("x-forwarded-for") - len("127.0.0.1")
	c := bridgetest.DialHeader(t, e.b.URL, http.Header{"X-User": {strings.Repeat("a", fits)}}, "wamp")
	c.ReadWelcome(t)
	if md := echoMetadata(t, e, c, "at the limit"); len(md["x-user"]) != 1 || len(md["x-user"][0]) != fits {
		t.Errorf("x-user at the limit did not reach the upstream whole")
	}
	code, body, _ := bridgetest.DialHeaderRefused(t, e.b.URL, http.Header{"X-User": {strings.Repeat("a", fits+1)}}, "wamp")
	if code != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("a byte over the limit: status %d %q, want 431", code, body)
	}
	for _, want := range []string{"x-forwarded-for, x-user", fmt.Sprint(bridge.MaxForwardedMetadata + 1), fmt.Sprint("the limit is ", bridge.MaxForwardedMetadata)} {
		if !strings.Contains(body, want) {
			t.Errorf("431 body %q does not contain %q", body, want)
		}
	}
	// A long X-Forwarded-For counts too: the bridge appends to it.
	code, _, _ = bridgetest.DialHeaderRefused(t, e.b.URL, http.Header{"X-Forwarded-For": {strings.Repeat("1", bridge.MaxForwardedMetadata)}}, "wamp")
	if code != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("X-Forwarded-For over the limit: status %d, want 431", code)
	}
}

// echoMetadata makes an Echo call with text on c and returns the metadata
// the upstream received with it.
func echoMetadata(t *testing.T, e env, c *bridgetest.Client, text string) map[string][]string {
	t.Helper()
	c.Send(t, fmt.Sprintf(`[2,"md",%q,{"text":%q}]`, echoProc, text))
	if f := c.ReadFrame(t); f.Type() != 3 {
		t.Fatalf("Echo: got %s, want a CALLRESULT", f.Raw())
	}
	md, ok := e.svc.EchoMetadata(text)
	if !ok {
		t.Fatalf("the upstream saw no Echo call with text %q", text)
	}
	return md
}

// expectKeys checks that the metadata an upstream received holds exactly
// the keys want (sorted), besides the ones gRPC itself sends.
func expectKeys(t *testing.T, md map[string][]string, want ...string) {
	t.Helper()
	if got := bridgetest.ApplicationKeys(md); !slices.Equal(got, want) {
		t.Errorf("metadata keys reaching the upstream: %q, want exactly %q (all of it: %v)", got, want, md)
	}
}

func TestE2EIdentityForwarding(t *testing.T) {
	t.Parallel()
	t.Run("default", func(t *testing.T) {
		t.Parallel()
		e := start(t, bridgetest.Reflection)
		c := bridgetest.DialHeader(t, e.b.URL, http.Header{
			"Authorization":   {"Bearer user-token"},
			"Cookie":          {"session=abc"},
			"X-Secret":        {"hush"},
			"X-Forwarded-For": {"203.0.113.7"},
			"X-User":          {"alice"},
		}, "wamp")
		w := c.ReadWelcome(t)
		md := echoMetadata(t, e, c, "default")
		expectKeys(t, md, "authorization", "wamp-session-id", "x-forwarded-for")
		if got := md["authorization"]; !slices.Equal(got, []string{"Bearer user-token"}) {
			t.Errorf("authorization %q, want [\"Bearer user-token\"]", got)
		}
		for _, k := range []string{"cookie", "x-secret", "x-user", "origin", "sec-websocket-key", "sec-websocket-protocol"} {
			if v, ok := md[k]; ok {
				t.Errorf("metadata %q = %q reached the upstream, want it not forwarded", k, v)
			}
		}
		xff := md["x-forwarded-for"]
		if len(xff) != 1 || !strings.HasPrefix(xff[0], "203.0.113.7, ") || !strings.HasSuffix(xff[0], "127.0.0.1") {
			t.Errorf("x-forwarded-for %q, want [\"203.0.113.7, 127.0.0.1\"]", xff)
		}
		if got := md["wamp-session-id"]; !slices.Equal(got, []string{w.SessionID}) {
			t.Errorf("wamp-session-id %q, want the WELCOME's [%q]", got, w.SessionID)
		}
	})
	t.Run("allow-list", func(t *testing.T) {
		t.Parallel()
		e := start(t, bridgetest.Reflection, bridge.WithForwardHeaders("X-User", "x-tenant"))
		c := bridgetest.DialHeader(t, e.b.URL, http.Header{
			"Authorization": {"Bearer user-token"},
			"X-User":        {"alice"},
			"X-Secret":      {"hush"},
		}, "wamp")
		w := c.ReadWelcome(t)
		md := echoMetadata(t, e, c, "allow-list")
		expectKeys(t, md, "wamp-session-id", "x-forwarded-for", "x-user")
		if got := md["x-user"]; !slices.Equal(got, []string{"alice"}) {
			t.Errorf("x-user %q, want [\"alice\"]", got)
		}
		for _, k := range []string{"authorization", "x-secret", "x-tenant"} {
			if v, ok := md[k]; ok {
				t.Errorf("metadata %q = %q reached the upstream, want it not forwarded", k, v)
			}
		}
		if got := md["x-forwarded-for"]; !slices.Equal(got, []string{"127.0.0.1"}) {
			t.Errorf("x-forwarded-for %q, want [\"127.0.0.1\"]", got)
		}
		if got := md["wamp-session-id"]; !slices.Equal(got, []string{w.SessionID}) {
			t.Errorf("wamp-session-id %q, want [%q]", got, w.SessionID)
		}
	})
	t.Run("query token", func(t *testing.T) {
		t.Parallel()
		e := start(t, bridgetest.Reflection, bridge.WithBearerTokens(goodToken))
		c := bridgetest.Dial(t, e.b.URL+"?access_token="+goodToken, "wamp")
		c.ReadWelcome(t)
		md := echoMetadata(t, e, c, "query token")
		expectKeys(t, md, "authorization", "wamp-session-id", "x-forwarded-for")
		if got := md["authorization"]; !slices.Equal(got, []string{"Bearer " + goodToken}) {
			t.Errorf("authorization %q, want [\"Bearer %s\"]", got, goodToken)
		}
	})
	t.Run("query token, authorization not forwarded", func(t *testing.T) {
		t.Parallel()
		e := start(t, bridgetest.Reflection, bridge.WithBearerTokens(goodToken), bridge.WithForwardHeaders())
		c := bridgetest.Dial(t, e.b.URL+"?access_token="+goodToken, "wamp")
		c.ReadWelcome(t)
		md := echoMetadata(t, e, c, "query token, not forwarded")
		expectKeys(t, md, "wamp-session-id", "x-forwarded-for")
		if v, ok := md["authorization"]; ok {
			t.Errorf("authorization %q reached the upstream, want it not forwarded", v)
		}
	})
	// Each of the bridge's own keys can be turned off; the others stay.
	for _, tc := range []struct {
		name                 string
		forwardedFor, sessID bool
		want                 []string
	}{
		{"no x-forwarded-for", false, true, []string{"authorization", "wamp-session-id"}},
		{"no wamp-session-id", true, false, []string{"authorization", "x-forwarded-for"}},
		{"neither", false, false, []string{"authorization"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := start(t, bridgetest.Reflection, bridge.WithForwardedFor(tc.forwardedFor), bridge.WithSessionIDMetadata(tc.sessID))
			c := bridgetest.DialHeader(t, e.b.URL, http.Header{
				"Authorization":   {"Bearer user-token"},
				"X-Forwarded-For": {"203.0.113.7"},
			}, "wamp")
			w := c.ReadWelcome(t)
			md := echoMetadata(t, e, c, tc.name)
			expectKeys(t, md, tc.want...)
			if got := md["authorization"]; !slices.Equal(got, []string{"Bearer user-token"}) {
				t.Errorf("authorization %q, want [\"Bearer user-token\"]", got)
			}
			if got := md["x-forwarded-for"]; tc.forwardedFor && !slices.Equal(got, []string{"203.0.113.7, 127.0.0.1"}) {
				t.Errorf("x-forwarded-for %q, want [\"203.0.113.7, 127.0.0.1\"]", got)
			}
			if got := md["wamp-session-id"]; tc.sessID && !slices.Equal(got, []string{w.SessionID}) {
				t.Errorf("wamp-session-id %q, want the WELCOME's [%q]", got, w.SessionID)
			}
		})
	}
	t.Run("no keys at all", func(t *testing.T) {
		t.Parallel()
		e := start(t, bridgetest.Reflection, bridge.WithForwardHeaders(), bridge.WithForwardedFor(false), bridge.WithSessionIDMetadata(false))
		c := bridgetest.DialHeader(t, e.b.URL, http.Header{"Authorization": {"Bearer user-token"}}, "wamp")
		c.ReadWelcome(t)
		expectKeys(t, echoMetadata(t, e, c, "no keys"))
		c.Send(t, fmt.Sprintf(`[2,"s",%q,{"count":1,"tag":"no keys stream"}]`, streamProc))
		c.ExpectFrame(t, `[1000,"s",{"index":1,"tag":"no keys stream"}]`)
		c.ExpectFrame(t, `[3,"s",null]`)
		md, ok := e.svc.StreamMetadata("no keys stream")
		if !ok {
			t.Fatal("the upstream saw no Stream call tagged \"no keys stream\"")
		}
		expectKeys(t, md)
	})
	t.Run("sessions differ", func(t *testing.T) {
		t.Parallel()
		e := start(t, bridgetest.Reflection)
		c1, c2 := bridgetest.Dial(t, e.b.URL, "wamp"), bridgetest.Dial(t, e.b.URL, "wamp")
		w1, w2 := c1.ReadWelcome(t), c2.ReadWelcome(t)
		md1, md2 := echoMetadata(t, e, c1, "s1"), echoMetadata(t, e, c2, "s2")
		if !slices.Equal(md1["wamp-session-id"], []string{w1.SessionID}) || !slices.Equal(md2["wamp-session-id"], []string{w2.SessionID}) {
			t.Errorf("wamp-session-id %q and %q, want %q and %q", md1["wamp-session-id"], md2["wamp-session-id"], w1.SessionID, w2.SessionID)
		}
	})
}

// TestE2EIdentityForwardingRetried: a retried call reaches the upstream
// with the same metadata as any other, and nothing more: go-grpc-middleware's
// retry interceptor would add x-retry-attempt to every attempt after the
// first.
func TestE2EIdentityForwardingRetried(t *testing.T) {
	t.Parallel()
	c, svc := retryBridge(t, "bridgetest.v1.TestService.*")
	svc.FailFirst("retried", 2, codes.Unavailable)
	md := echoMetadata(t, env{svc: svc}, c, "retried")
	if n := svc.EchoCalls(); n != 3 {
		t.Fatalf("the upstream served %d Echo calls, want 3: the call was not retried", n)
	}
	expectKeys(t, md, "wamp-session-id", "x-forwarded-for")

	svc.FailFirst("retried stream", 1, codes.Unavailable)
	c.Send(t, fmt.Sprintf(`[2,"s",%q,{"count":1,"tag":"retried stream"}]`, streamProc))
	c.ExpectFrame(t, `[1000,"s",{"index":1,"tag":"retried stream"}]`)
	c.ExpectFrame(t, `[3,"s",null]`)
	if n := svc.Calls("retried stream"); n != 2 {
		t.Fatalf("the upstream saw %d Stream calls, want 2: the call was not retried", n)
	}
	md, _ = svc.StreamMetadata("retried stream")
	expectKeys(t, md, "wamp-session-id", "x-forwarded-for")
}
