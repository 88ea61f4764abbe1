package bridge

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"google.golang.org/grpc/metadata"
)

// Metadata keys the bridge sets on every upstream call of a session, besides
// the handshake headers of [WithForwardHeaders], unless [WithForwardedFor]
// or [WithSessionIDMetadata] turns them off.
const (
	// MetadataForwardedFor is the client's address appended to the
	// handshake's X-Forwarded-For, as proxies do.
	MetadataForwardedFor = "x-forwarded-for"
	// MetadataSessionID is the WAMP session id of the WELCOME.
	MetadataSessionID = "wamp-session-id"
)

// AccessTokenParam is the URL query parameter that may carry the bearer
// token instead of the Authorization header, for browsers, which cannot set
// headers on a WebSocket handshake.
const AccessTokenParam = "access_token"

// WithAllowedOrigins sets the web origins (scheme://host[:port], compared
// case-insensitively) whose pages may open sessions; "*" allows every
// origin. Repeated options add up. By default only pages served from the
// bridge's own host may, as the Origin equals the request's Host. A
// handshake without Origin (not from a browser) is always allowed: use
// [WithBearerTokens] to keep such clients out. A refused origin gets 403.
func WithAllowedOrigins(origins ...string) Option {
	return func(c *config) { c.allowedOrigins = append(c.allowedOrigins, origins...) }
}

// WithBearerTokens requires every handshake to carry one of tokens, as
// "Authorization: Bearer <token>" or, where the client cannot set headers
// (browsers), as the URL query parameter access_token (which may then show
// in access logs of proxies). Others get 401, and so does GET /procedures
// without a token. Repeated options add up; none (the default) requires no
// token.
func WithBearerTokens(tokens ...string) Option {
	return func(c *config) { c.bearerTokens = append(c.bearerTokens, tokens...) }
}

// WithForwardHeaders sets the handshake headers (case-insensitive names)
// forwarded as gRPC metadata on every upstream call of the session,
// replacing the default, "authorization". A bearer token given as
// access_token is forwarded as "authorization: Bearer <token>" when
// "authorization" is listed. No other header reaches the upstream; the
// bridge adds x-forwarded-for and wamp-session-id itself.
// WithForwardHeaders() forwards no header.
func WithForwardHeaders(names ...string) Option {
	return func(c *config) { c.forwardHeaders = append([]string{}, names...) }
}

// WithForwardedFor sets whether every upstream call of a session carries
// x-forwarded-for: the handshake's X-Forwarded-For with the client's address
// appended, as proxies do. It is on by default. Off, the upstream learns
// nothing of the client's address, and the handshake's X-Forwarded-For is
// not forwarded either (it cannot be listed in [WithForwardHeaders]).
//
// Each key the bridge adds costs every call some CPU in gRPC's client and
// server (README, Performance); turn it off where the upstream does not
// use it.
func WithForwardedFor(on bool) Option {
	return func(c *config) { c.forwardedFor = on }
}

// WithSessionIDMetadata sets whether every upstream call of a session
// carries wamp-session-id, the session id of the WELCOME, by which the
// upstream can tell a client's calls apart from another's and match them
// with the bridge's log. It is on by default; see [WithForwardedFor] for
// why one may turn it off.
func WithSessionIDMetadata(on bool) Option {
	return func(c *config) { c.sessionIDMetadata = on }
}

// security is the handshake policy built from the options.
type security struct {
	anyOrigin bool
	origins   []string // lower case scheme://host[:port]
	tokens    [][sha256.Size]byte
	forward   []string // lower case header names
}

// notForwardable are headers that describe the HTTP connection or request
// rather than the client (notForwardableBecause refuses the bridge's own
// keys and the grpc-* and sec-websocket-* families before it).
var notForwardable = map[string]bool{
	"host": true, "connection": true, "upgrade": true, "te": true, "transfer-encoding": true,
	"keep-alive": true, "proxy-connection": true, "content-type": true, "content-length": true,
	"user-agent": true,
}

func newSecurity(c config) (*security, error) {
	s := &security{}
	for _, o := range c.allowedOrigins {
		if o == "*" {
			s.anyOrigin = true
			continue
		}
		u, err := url.Parse(o)
		if err != nil || u.Scheme == "" || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			return nil, fmt.Errorf("bridge: allowed origin %q: want scheme://host[:port] or *", o)
		}
		s.origins = append(s.origins, strings.ToLower(u.Scheme+"://"+u.Host))
	}
	for i, t := range c.bearerTokens {
		if t == "" || strings.ContainsAny(t, " \t\r\n") {
			return nil, fmt.Errorf("bridge: bearer token %d: must be non-empty and without white space", i+1)
		}
		s.tokens = append(s.tokens, sha256.Sum256([]byte(t)))
	}
	for _, n := range c.forwardHeaders {
		k := strings.ToLower(strings.TrimSpace(n))
		if why := notForwardableBecause(k); why != "" {
			return nil, fmt.Errorf("bridge: forwarded header %q: the bridge may not forward it: %s", n, why)
		}
		s.forward = append(s.forward, k)
	}
	return s, nil
}

// notForwardableBecause says why the header named k (lower case) may not
// be forwarded, or returns "" when it may.
func notForwardableBecause(k string) string {
	switch {
	case k == "":
		return "the name is empty"
	case strings.HasPrefix(k, "grpc-"):
		return "grpc-* headers belong to gRPC itself"
	case strings.HasPrefix(k, "sec-websocket-"):
		return "sec-websocket-* headers belong to the WebSocket handshake"
	case k == MetadataForwardedFor || k == MetadataSessionID:
		return "the bridge sets it on every call itself, unless turned off"
	case notForwardable[k]:
		return "it describes the HTTP connection or request, not the client"
	case !validToken(k):
		return "gRPC metadata keys hold only a-z, 0-9, '-', '_' and '.'"
	}
	return ""
}

// validToken reports whether k is an HTTP header name gRPC metadata accepts.
func validToken(k string) bool {
	for _, r := range k {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// checkOrigin reports whether r's Origin is allowed.
func (s *security) checkOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || s.anyOrigin {
		return true
	}
	if len(s.origins) == 0 {
		u, err := url.Parse(origin)
		return err == nil && u.Host != "" && strings.EqualFold(u.Host, r.Host)
	}
	o := strings.ToLower(strings.TrimSuffix(origin, "/"))
	for _, a := range s.origins {
		if o == a {
			return true
		}
	}
	return false
}

// credential returns the Authorization header, or "Bearer <access_token>"
// when the header is absent and the query has the parameter, or "".
func credential(r *http.Request) string {
	if v := r.Header.Get("Authorization"); v != "" {
		return v
	}
	if t := r.URL.Query().Get(AccessTokenParam); t != "" {
		return "Bearer " + t
	}
	return ""
}

// checkToken reports whether cred carries a configured bearer token, in
// time independent of which token matched or how much of it.
func (s *security) checkToken(cred string) bool {
	scheme, tok, ok := strings.Cut(cred, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	match := 0
	for _, t := range s.tokens {
		match |= subtle.ConstantTimeCompare(sum[:], t[:])
	}
	return match == 1
}

// admit checks the handshake's origin and token. On refusal it answers the
// request and returns false; else it returns the metadata for the upstream
// calls of the session (the session adds wamp-session-id).
func (h *Handler) admit(w http.ResponseWriter, r *http.Request) (metadata.MD, bool) {
	s := h.sec
	if !s.checkOrigin(r) {
		h.cfg.logger.Debug("handshake refused: origin not allowed", "remote", r.RemoteAddr, "origin", r.Header.Get("Origin"))
		msg := fmt.Sprintf("origin %q is not allowed to open WAMP sessions: allow it with -allow-origin (bridge.WithAllowedOrigins)",
			r.Header.Get("Origin"))
		if len(s.origins) == 0 {
			msg += fmt.Sprintf("; without it, only pages served from this bridge's own host (%s) may connect", r.Host)
		}
		http.Error(w, msg, http.StatusForbidden)
		return nil, false
	}
	cred, ok := h.authorize(w, r, "handshake")
	if !ok {
		return nil, false
	}
	md := metadata.MD{}
	for _, k := range s.forward {
		var vs []string
		if k == "authorization" {
			if cred != "" {
				vs = []string{cred}
			}
		} else {
			vs = r.Header.Values(k)
		}
		for _, v := range vs {
			if printable(v) {
				md.Append(k, v)
			}
		}
	}
	if h.cfg.forwardedFor {
		client := r.RemoteAddr
		if host, _, err := net.SplitHostPort(client); err == nil {
			client = host
		}
		xff := client
		if prior := strings.Join(r.Header.Values("X-Forwarded-For"), ", "); strings.TrimSpace(prior) != "" && printable(prior) {
			xff = prior + ", " + client
		}
		md.Set(MetadataForwardedFor, xff)
	}
	if n := mdSize(md); n > MaxForwardedMetadata {
		h.cfg.logger.Debug("handshake refused: forwarded headers too large", "remote", r.RemoteAddr, "bytes", n)
		http.Error(w, fmt.Sprintf("the headers forwarded to the upstream on every call (%s) come to %d bytes: the limit is %d; send shorter ones",
			strings.Join(slices.Sorted(maps.Keys(md)), ", "), n, MaxForwardedMetadata), http.StatusRequestHeaderFieldsTooLarge)
		return nil, false
	}
	return md, true
}

// MaxForwardedMetadata bounds the metadata a session's handshake gives
// every upstream call (the forwarded headers and x-forwarded-for, keys
// and values): HTTP/2 header compression does not index values of more
// than a few KiB, so each call would carry them in full. A handshake
// beyond it gets 431.
const MaxForwardedMetadata = 16 << 10

// mdSize is the size of md's keys and values.
func mdSize(md metadata.MD) int {
	n := 0
	for k, vs := range md {
		for _, v := range vs {
			n += len(k) + len(v)
		}
	}
	return n
}

// authorize checks the bearer token of a request (what names it in the
// log: "handshake", "GET /procedures") when tokens are configured. On
// refusal it answers 401 and returns false; else it returns the request's
// credential, "" if none.
func (h *Handler) authorize(w http.ResponseWriter, r *http.Request, what string) (string, bool) {
	cred := credential(r)
	if len(h.sec.tokens) == 0 {
		return cred, true
	}
	if cred == "" {
		h.cfg.logger.Debug(what+" refused: no bearer token", "remote", r.RemoteAddr)
		w.Header().Set("WWW-Authenticate", `Bearer realm="grpcwamp"`)
		http.Error(w, "a bearer token is required: send Authorization: Bearer <token> or the query parameter "+AccessTokenParam,
			http.StatusUnauthorized)
		return "", false
	}
	if !h.sec.checkToken(cred) {
		h.cfg.logger.Debug(what+" refused: invalid bearer token", "remote", r.RemoteAddr)
		w.Header().Set("WWW-Authenticate", `Bearer realm="grpcwamp", error="invalid_token"`)
		http.Error(w, "the bearer token is not valid", http.StatusUnauthorized)
		return "", false
	}
	return cred, true
}

// printable reports whether v is a value gRPC accepts in (non-binary)
// metadata: printable ASCII. Other values are dropped rather than failing
// every call of the session.
func printable(v string) bool {
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return false
		}
	}
	return true
}
