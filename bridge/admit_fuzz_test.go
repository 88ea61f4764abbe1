package bridge

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzAdmit gives the handshake's checks whatever Origin, Host,
// Authorization, query, X-Forwarded-For and X-User the fuzzer makes, under
// the default policy and under one with tokens, an origin list and X-User
// forwarded. They never panic; a refusal is 401, 403 or 431 with a
// message; an admitted handshake carried a valid token when tokens are
// required, and its metadata is what gRPC accepts (lower-case keys of
// [a-z0-9-_.], printable ASCII values) within MaxForwardedMetadata, with
// the client's address at the end of x-forwarded-for.
func FuzzAdmit(f *testing.F) {
	f.Add("http://example.com", "example.com", "Bearer t0k3n", "access_token=t0k3n", "203.0.113.7", "alice")
	f.Add("", "127.0.0.1:8080", "", "stream=collect&access_token=wrong", "", "")
	f.Add("https://app.example.com", "bridge", "bearer  t0k3n ", "", "1.2.3.4, 5.6.7.8", "b\x00b")
	f.Add("null", "", "Basic t0k3n", "access_token=%zz", strings.Repeat("9", 20000), "\xff")
	f.Add("HTTP://EXAMPLE.COM:80", "example.com:80", "Bearer", "access_token=", "\t", "é")

	policies := []config{defaultConfig(), defaultConfig(), defaultConfig()}
	policies[1].bearerTokens = []string{"t0k3n"}
	policies[1].allowedOrigins = []string{"https://app.example.com"}
	policies[1].forwardHeaders = []string{"authorization", "x-user"}
	policies[2].forwardedFor = false // -forward-client-address=false
	var handlers []*Handler
	for _, c := range policies {
		sec, err := newSecurity(c)
		if err != nil {
			f.Fatal(err)
		}
		handlers = append(handlers, &Handler{cfg: c, sec: sec})
	}
	f.Fuzz(func(t *testing.T, origin, host, auth, query, xff, user string) {
		for i, h := range handlers {
			r := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8080/", nil)
			r.RemoteAddr = "192.0.2.1:1234"
			r.Host = host
			r.URL.RawQuery = query
			for k, v := range map[string]string{"Origin": origin, "Authorization": auth, "X-Forwarded-For": xff, "X-User": user} {
				if v != "" {
					r.Header[k] = []string{v} // as a client may send them, unchecked
				}
			}
			w := httptest.NewRecorder()
			md, ok := h.admit(w, r)
			if !ok {
				switch w.Code {
				case http.StatusUnauthorized, http.StatusForbidden, http.StatusRequestHeaderFieldsTooLarge:
				default:
					t.Fatalf("policy %d: refused with %d, want 401, 403 or 431", i, w.Code)
				}
				if w.Body.Len() == 0 {
					t.Fatalf("policy %d: refusal %d without a message", i, w.Code)
				}
				continue
			}
			if w.Body.Len() != 0 {
				t.Fatalf("policy %d: admitted, but wrote %q", i, w.Body.String())
			}
			if len(h.sec.tokens) > 0 && !h.sec.checkToken(credential(r)) {
				t.Fatalf("policy %d: admitted without a valid token (credential %q)", i, credential(r))
			}
			if n := mdSize(md); n > MaxForwardedMetadata {
				t.Fatalf("policy %d: %d bytes of metadata, over %d", i, n, MaxForwardedMetadata)
			}
			for k, vs := range md {
				for _, c := range k {
					if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
						t.Fatalf("policy %d: metadata key %q", i, k)
					}
				}
				for _, v := range vs {
					if !printable(v) {
						t.Fatalf("policy %d: metadata %s: value %q is not printable ASCII", i, k, v)
					}
				}
			}
			got, sent := md[MetadataForwardedFor]
			switch {
			case !h.cfg.forwardedFor && sent:
				t.Fatalf("policy %d: x-forwarded-for %q, want none: it is turned off", i, got)
			case h.cfg.forwardedFor && (len(got) != 1 || !strings.HasSuffix(got[0], "192.0.2.1")):
				t.Fatalf("policy %d: x-forwarded-for %q, want the client's address last", i, got)
			}
		}
	})
}
