package bridgetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Timeout bounds every wait of this package (a frame, readiness, shutdown),
// so that a broken bridge fails the test instead of hanging it. It is not a
// performance threshold: nothing should come close to it.
const Timeout = 10 * time.Second

// Client is a WebSocket client of the bridge that sends frames as the test
// writes them and checks what comes back. It is used by one goroutine at a
// time.
type Client struct {
	// Conn is the WebSocket connection.
	Conn *websocket.Conn
	// Response is the handshake response.
	Response *http.Response

	closeOnce sync.Once
	// Payload bytes of the text messages sent and read, as the bridge's
	// grpcwamp_bytes_in_total and grpcwamp_bytes_out_total count them.
	textSent, textRead int
}

// TextBytesSent returns the payload bytes of the text messages the client
// has sent.
func (c *Client) TextBytesSent() int { return c.textSent }

// TextBytesRead returns the payload bytes of the text messages the client
// has read.
func (c *Client) TextBytesRead() int { return c.textRead }

// syncIDs numbers the calls of [Client.Sync] across all clients.
var syncIDs atomic.Int64

// Dial connects to url offering subprotocols (none when empty) and closes
// the connection when the test ends. It does not read the WELCOME.
func Dial(t testing.TB, url string, subprotocols ...string) *Client {
	t.Helper()
	return DialHeader(t, url, nil, subprotocols...)
}

// DialHeader is [Dial] with extra handshake headers (Origin, Authorization
// and the like).
func DialHeader(t testing.TB, url string, header http.Header, subprotocols ...string) *Client {
	t.Helper()
	ws, resp, err := dial(t, url, header, subprotocols)
	if err != nil {
		t.Fatalf("bridgetest: dial %s offering %q: %v (%s)", url, subprotocols, err, describe(resp))
	}
	c := &Client{Conn: ws, Response: resp}
	t.Cleanup(c.Close)
	return c
}

// DialRefused dials url offering subprotocols and expects the handshake to
// be refused; it returns the HTTP status code and body of the refusal.
func DialRefused(t testing.TB, url string, subprotocols ...string) (int, string) {
	t.Helper()
	status, body, _ := DialHeaderRefused(t, url, nil, subprotocols...)
	return status, body
}

// DialHeaderRefused is [DialRefused] with extra handshake headers; it also
// returns the headers of the refusal.
func DialHeaderRefused(t testing.TB, url string, header http.Header, subprotocols ...string) (int, string, http.Header) {
	t.Helper()
	ws, resp, err := dial(t, url, header, subprotocols)
	if err == nil {
		ws.Close()
		t.Fatalf("bridgetest: dial %s offering %q: handshake accepted (subprotocol %q), want it refused",
			url, subprotocols, ws.Subprotocol())
	}
	if !errors.Is(err, websocket.ErrBadHandshake) || resp == nil {
		t.Fatalf("bridgetest: dial %s offering %q: %v, want a refused handshake with an HTTP response", url, subprotocols, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(body), resp.Header
}

func dial(t testing.TB, url string, header http.Header, subprotocols []string) (*websocket.Conn, *http.Response, error) {
	ctx, cancel := context.WithTimeout(t.Context(), Timeout)
	defer cancel()
	d := websocket.Dialer{Subprotocols: subprotocols, HandshakeTimeout: Timeout}
	return d.DialContext(ctx, url, header)
}

func describe(resp *http.Response) string {
	if resp == nil {
		return "no HTTP response"
	}
	body, _ := io.ReadAll(resp.Body)
	return fmt.Sprintf("HTTP %d %q", resp.StatusCode, body)
}

// Close sends a normal close frame and closes the connection, once.
func (c *Client) Close() {
	c.closeOnce.Do(func() {
		_ = c.Conn.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseNormalClosure, "test done"), time.Now().Add(time.Second))
		_ = c.Conn.Close()
	})
}

// Send sends frame as a text message, as written: tests write their input
// frames by hand so that they do not depend on the encoder.
func (c *Client) Send(t testing.TB, frame string) {
	t.Helper()
	c.SendMessage(t, websocket.TextMessage, []byte(frame))
}

// SendMessage sends data as a message of type typ (websocket.TextMessage or
// BinaryMessage), unchecked.
func (c *Client) SendMessage(t testing.TB, typ int, data []byte) {
	t.Helper()
	if err := c.Conn.SetWriteDeadline(time.Now().Add(Timeout)); err != nil {
		t.Fatalf("bridgetest: set write deadline: %v", err)
	}
	if err := c.Conn.WriteMessage(typ, data); err != nil {
		t.Fatalf("bridgetest: send %.200q: %v", data, err)
	}
	if typ == websocket.TextMessage {
		c.textSent += len(data)
	}
}

// Read returns the next message, which must be a text message, within
// [Timeout].
func (c *Client) Read(t testing.TB) json.RawMessage {
	t.Helper()
	typ, data, err := c.read()
	if err != nil {
		t.Fatalf("bridgetest: read frame: %v", err)
	}
	if typ != websocket.TextMessage {
		t.Fatalf("bridgetest: read a message of type %d (%.200q), want a text message", typ, data)
	}
	return data
}

func (c *Client) read() (int, []byte, error) {
	if err := c.Conn.SetReadDeadline(time.Now().Add(Timeout)); err != nil {
		return 0, nil, err
	}
	typ, data, err := c.Conn.ReadMessage()
	if err == nil && typ == websocket.TextMessage {
		c.textRead += len(data)
	}
	return typ, data, err
}

// Frame is a WAMP frame split into its elements.
type Frame []json.RawMessage

// ReadFrame reads the next message and splits it into a JSON array with a
// numeric type id first.
func (c *Client) ReadFrame(t testing.TB) Frame {
	t.Helper()
	data := c.Read(t)
	f, err := ParseFrame(data)
	if err != nil {
		t.Fatalf("bridgetest: %v", err)
	}
	return f
}

// ParseFrame splits data into a WAMP frame.
func ParseFrame(data []byte) (Frame, error) {
	var f Frame
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("frame %s is not a JSON array: %w", data, err)
	}
	if len(f) == 0 {
		return nil, fmt.Errorf("frame %s is empty", data)
	}
	var typ int
	if err := json.Unmarshal(f[0], &typ); err != nil {
		return nil, fmt.Errorf("frame %s: type id is not an integer: %w", data, err)
	}
	return f, nil
}

// Type returns the type id.
func (f Frame) Type() int {
	var typ int
	_ = json.Unmarshal(f[0], &typ)
	return typ
}

// String returns the element at i as a string, or "" when it is not one.
func (f Frame) String(i int) string {
	if i >= len(f) {
		return ""
	}
	var s string
	_ = json.Unmarshal(f[i], &s)
	return s
}

// CallID returns the callId of a call frame (element 1).
func (f Frame) CallID() string { return f.String(1) }

// Raw returns the frame as one JSON array.
func (f Frame) Raw() json.RawMessage {
	b, _ := json.Marshal([]json.RawMessage(f))
	return b
}

// ExpectFrame reads the next frame and compares it with want as JSON values
// (object key order and white space do not matter; numbers compare by
// value).
func (c *Client) ExpectFrame(t testing.TB, want string) {
	t.Helper()
	got := c.Read(t)
	if err := JSONEqual(got, []byte(want)); err != nil {
		t.Fatalf("bridgetest: frame mismatch: %v\n got: %s\nwant: %s", err, got, want)
	}
}

// JSONEqual reports, as a nil error, whether got and want are equal JSON
// values.
func JSONEqual(got, want []byte) error {
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		return fmt.Errorf("got is not JSON: %w", err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		return fmt.Errorf("want is not JSON (test bug): %w", err)
	}
	if !reflect.DeepEqual(g, w) {
		return errors.New("values differ")
	}
	return nil
}

// Welcome is a WELCOME frame.
type Welcome struct {
	SessionID   string
	ServerIdent string
}

// ReadWelcome reads the next frame and checks that it is a WELCOME of shape
// [0, sessionId, 1, serverIdent] with non-empty strings.
func (c *Client) ReadWelcome(t testing.TB) Welcome {
	t.Helper()
	data := c.Read(t)
	var f []any
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatalf("bridgetest: WELCOME %s: not a JSON array: %v", data, err)
	}
	if len(f) != 4 {
		t.Fatalf("bridgetest: WELCOME %s: %d elements, want 4 [0, sessionId, 1, serverIdent]", data, len(f))
	}
	id, ok1 := f[1].(string)
	ident, ok3 := f[3].(string)
	if f[0] != 0.0 || !ok1 || id == "" || f[2] != 1.0 || !ok3 || ident == "" {
		t.Fatalf("bridgetest: WELCOME %s: want [0, non-empty sessionId string, 1, non-empty serverIdent string]", data)
	}
	return Welcome{SessionID: id, ServerIdent: ident}
}

// CallError is a CALLERROR frame.
type CallError struct {
	CallID  string
	URI     string
	Desc    string
	Details ErrorDetails
	Raw     json.RawMessage
}

// ErrorDetails is the errorDetails object of a CALLERROR.
type ErrorDetails struct {
	Code    int               `json:"code"`
	Status  string            `json:"status"`
	Message string            `json:"message"`
	Details []json.RawMessage `json:"details"`
}

// StatusNames are the gRPC code names errorDetails.status carries, written
// out here rather than taken from a library so that the test checks them.
var StatusNames = map[int]string{
	0: "OK", 1: "CANCELLED", 2: "UNKNOWN", 3: "INVALID_ARGUMENT", 4: "DEADLINE_EXCEEDED",
	5: "NOT_FOUND", 6: "ALREADY_EXISTS", 7: "PERMISSION_DENIED", 8: "RESOURCE_EXHAUSTED",
	9: "FAILED_PRECONDITION", 10: "ABORTED", 11: "OUT_OF_RANGE", 12: "UNIMPLEMENTED",
	13: "INTERNAL", 14: "UNAVAILABLE", 15: "DATA_LOSS", 16: "UNAUTHENTICATED",
}

// ErrorURIs is the code -> errorURI table of PROTOCOL.md §3.
var ErrorURIs = map[int]string{
	1: "wamp.error.canceled", 2: "grpc.error.unknown", 3: "wamp.error.invalid_argument",
	4: "wamp.error.timeout", 5: "grpc.error.not_found", 6: "grpc.error.already_exists",
	7: "wamp.error.not_authorized", 8: "grpc.error.resource_exhausted",
	9: "grpc.error.failed_precondition", 10: "grpc.error.aborted", 11: "grpc.error.out_of_range",
	12: "wamp.error.no_such_procedure", 13: "grpc.error.internal", 14: "wamp.error.unavailable",
	15: "grpc.error.data_loss", 16: "grpc.error.unauthenticated",
}

// ExpectCallError reads the next frame and checks that it is
// [4, callID, ErrorURIs[code], errorDesc, {"code": code, "status":
// StatusNames[code], "message": errorDesc, "details": [...]}] with no other
// keys in errorDetails. It returns the frame for further checks.
func (c *Client) ExpectCallError(t testing.TB, callID string, code int) CallError {
	t.Helper()
	data := c.Read(t)
	e, err := ParseCallError(data, callID, code)
	if err != nil {
		t.Fatalf("bridgetest: %v", err)
	}
	return e
}

// ParseCallError parses a CALLERROR frame and checks it as
// [Client.ExpectCallError] does.
func ParseCallError(data []byte, callID string, code int) (CallError, error) {
	e := CallError{Raw: data}
	wantURI := ErrorURIs[code]
	fail := func(format string, args ...any) (CallError, error) {
		return e, fmt.Errorf("CALLERROR %s: %s; want [4, %q, %q, desc, {code: %d, status: %q, message: desc, details: [...]}]",
			data, fmt.Sprintf(format, args...), callID, wantURI, code, StatusNames[code])
	}
	f, err := ParseFrame(data)
	if err != nil {
		return e, err
	}
	if f.Type() != 4 || len(f) != 5 {
		return fail("type %d with %d elements", f.Type(), len(f))
	}
	e.CallID, e.URI = f.String(1), f.String(2)
	if err := json.Unmarshal(f[3], &e.Desc); err != nil {
		return fail("errorDesc is not a string")
	}
	if e.CallID != callID {
		return fail("callId %q", e.CallID)
	}
	if e.URI != wantURI {
		return fail("errorURI %q", e.URI)
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(f[4], &keys); err != nil || keys == nil {
		return fail("errorDetails is not an object")
	}
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		switch k {
		case "code", "status", "message", "details":
		default:
			return fail("unexpected key %q in errorDetails", k)
		}
	}
	for _, k := range []string{"code", "status", "message", "details"} {
		if _, ok := keys[k]; !ok {
			return fail("errorDetails lacks %q", k)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(f[4]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e.Details); err != nil {
		return fail("errorDetails: %v", err)
	}
	if e.Details.Code != code {
		return fail("errorDetails.code %d", e.Details.Code)
	}
	if e.Details.Status != StatusNames[code] {
		return fail("errorDetails.status %q", e.Details.Status)
	}
	if e.Details.Message != e.Desc {
		return fail("errorDetails.message %q differs from errorDesc %q", e.Details.Message, e.Desc)
	}
	if e.Details.Details == nil {
		return fail("errorDetails.details is not an array")
	}
	return e, nil
}

// Next returns the next message. Unlike the other readers it reports
// failure instead of failing the test, so a goroutine of the test may use
// it.
func (c *Client) Next() ([]byte, error) {
	_, data, err := c.read()
	return data, err
}

// Drain reads data frames until the connection ends and returns how many
// arrived, with the close code and reason (1006 and "" when the connection
// ended without a close frame).
func (c *Client) Drain(t testing.TB) (frames, code int, reason string) {
	t.Helper()
	for {
		_, _, err := c.read()
		if err == nil {
			frames++
			continue
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return frames, ce.Code, ce.Text
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("bridgetest: no close within %v after %d frames", Timeout, frames)
		}
		return frames, websocket.CloseAbnormalClosure, ""
	}
}

// ExpectClose reads until the server closes the connection and checks that
// it sent a close frame with code and a non-empty reason, which it returns.
// Any data frame before the close fails the test.
func (c *Client) ExpectClose(t testing.TB, code int) string {
	t.Helper()
	typ, data, err := c.read()
	if err == nil {
		t.Fatalf("bridgetest: read a message of type %d (%.200q), want close %d", typ, data, code)
	}
	var ce *websocket.CloseError
	if !errors.As(err, &ce) {
		t.Fatalf("bridgetest: read: %v, want close %d with a reason", err, code)
	}
	if ce.Code != code {
		t.Fatalf("bridgetest: closed with %d %q, want %d", ce.Code, ce.Text, code)
	}
	if ce.Text == "" {
		t.Fatalf("bridgetest: closed with %d and no reason, want a reason", ce.Code)
	}
	return ce.Text
}

// Sync shows that no frame is pending: it calls Echo with a fresh callId and
// expects that call's CALLRESULT as the very next frame. Tests use it after
// a terminal frame to show that nothing follows it.
func (c *Client) Sync(t testing.TB) {
	t.Helper()
	id := fmt.Sprintf("sync-%d", syncIDs.Add(1))
	c.Send(t, fmt.Sprintf(`[2,%q,"bridgetest.v1.TestService.Echo",{"text":%q}]`, id, id))
	f := c.ReadFrame(t)
	var result struct {
		Request struct {
			Text string `json:"text"`
		} `json:"request"`
	}
	if f.Type() != 3 || len(f) != 3 || f.CallID() != id || json.Unmarshal(f[2], &result) != nil || result.Request.Text != id {
		t.Fatalf("bridgetest: got %s, want the CALLRESULT of Echo call %q next", f.Raw(), id)
	}
}
