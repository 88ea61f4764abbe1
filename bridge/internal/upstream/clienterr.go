package upstream

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Explain says what a failure of a call of m means and what to do about
// it, when grpc-go's client made the failure itself: its texts ("grpc:
// received message larger than max (N vs. M)", "error reading from server:
// EOF") name neither the method nor the setting to change, and some name
// the upstream's address, which is the operator's business, not every
// client's. It returns "" for any other error, which must reach the client
// as it is: above all the upstream's own statuses. recvLimit is the
// receive limit of the bridge's connection (grpc.MaxCallRecvMsgSize), 0
// if not known. reqSize returns the size of the request's wire encoding,
// as sent; Explain calls it only for a text whose meaning depends on it.
// withheld reports that the
// explanation leaves grpc-go's text out rather than quoting it: the caller
// logs that text for the operator.
//
// grpc-go marks nothing in a status to tell who made it, and a gRPC
// server reports its own limits with the very texts its client uses, so
// each case is recognised by grpc-go's exact text (v1.85) and by what the
// bridge knows of the call:
//
//   - "grpc: received message larger than max (N vs. M)": grpc-go's client
//     when a response of N bytes is over its receive limit M, so M must
//     be recvLimit (no explanation when recvLimit is not known). A grpc-go
//     server says the same of a request over its own limit, N being the
//     request's size on the wire: that case, N equal to reqSize, is left
//     alone, as is any M but recvLimit. What remains ambiguous is a
//     connection that compresses requests (an embedding program's
//     grpc.UseCompressor; the bridge command never does): N is then the
//     compressed request's size, so the refusal of an upstream whose
//     receive limit equals the bridge's is explained as a response over
//     the bridge's. A compressed response is N bytes as received.
//   - "error reading from server: ...", "closing transport due to: ...,
//     received prior goaway: ...", "keepalive ping failed to receive ACK
//     within timeout": the connection to the upstream was lost, or closed
//     after a GOAWAY, while the call was in flight. The explanation quotes
//     the text, less the addresses of the connection that a network error
//     in it names ("read tcp 10.0.0.9:41234->10.0.0.5:50051: ..." becomes
//     "read: ...", see [withoutAddresses]).
//   - the picker's failures (see [unreachable]), such as `connection
//     error: desc = "transport: Error while dialing: dial tcp
//     10.0.0.5:50051: connect: connection refused"`: the call found no
//     connection to send it on, because connecting failed. The readiness
//     check refuses calls while the channel is failing, but a call can pass
//     it just as the upstream goes away, or while the channel reconnects
//     after losing its connection, and then waits for that attempt. The
//     explanation says what the readiness refusal says, that the upstream
//     is not reachable and to retry shortly, and withholds the text, which
//     names the upstream's address and the resolver's. It says the call was
//     not sent: true of the attempt that failed so; earlier attempts, when
//     the bridge retries (-retry-method), are of a method the operator
//     declared safe to run twice.
//
// All of them come without details: a status with details is the
// upstream's. What the bridge cannot tell apart is an upstream that is
// itself a gRPC proxy and passes on, word for word, the status its own
// client made (a response over its receive limit, a lost connection to
// the server behind it, a failure to connect to it): that is explained as
// if the bridge had made it. The quoted text and the numbers stay the
// same; a withheld text goes to the bridge's log.
//
// Other texts of grpc-go's client are left as they are: they say enough,
// or the bridge cannot meet them, or cannot tell them from the upstream's.
// "trying to send message larger than max (N vs. M)" is how grpc-go's
// client refuses a request over its send limit, and how a grpc-go server
// reports a response over its own, N being the response's size, which may
// equal the request's: the bridge cannot tell the two apart, so it checks
// the request against its send limit before the call (see
// invoke.Core.SetUpstreamLimits) and leaves the text, then the upstream's,
// as it is. "stream terminated by RST_STREAM with
// error code: ..." and "unexpected HTTP status code received from server:
// ..." describe what the upstream (or a proxy) did; "the connection is
// draining" and "... server is draining the connection" are retried by
// grpc-go itself; "grpc: received message after decompression larger
// than max M" (no N) is what a client reads when a compressed response
// within the receive limit on the wire is larger once decompressed: the
// bridge command links grpc-go's gzip codec in (through the OpenTelemetry
// exporter, otlptracegrpc), so its client offers gzip and an upstream may
// compress its responses; the text names the limit, and a grpc-go server
// says the same of a compressed request; CANCELLED
// and DEADLINE_EXCEEDED come from the bridge's own contexts, which the
// session (CALL_CANCEL) and invoke (deadlines) word where they end them
// (a call cannot wait for a connection past them: the bridge's calls fail
// fast, so the picker's "latest balancer error: ..." does not arise).
func Explain(err error, m *Method, recvLimit int, reqSize func() int) (explanation string, withheld bool) {
	st, ok := status.FromError(err)
	if !ok {
		return "", false
	}
	switch st.Code() {
	case codes.ResourceExhausted, codes.Unavailable:
	default:
		return "", false
	}
	// Proto copies the status: only for the codes explained.
	if len(st.Proto().GetDetails()) > 0 {
		return "", false
	}
	msg := st.Message()
	switch st.Code() {
	case codes.ResourceExhausted:
		if n, limit, ok := sizes(msg, "grpc: received message larger than max ("); ok && recvLimit > 0 && limit == recvLimit && n != reqSize() {
			return fmt.Sprintf("the upstream's response to %s is %d bytes, more than the %d bytes the bridge accepts from its upstream in one message: ask for less at a time, or have the operator raise -upstream-max-recv-size (bridge.WithUpstreamMessageLimits and grpc.MaxCallRecvMsgSize of an embedded Handler's connection)",
				m.FullName, n, limit), false
		}
	case codes.Unavailable:
		const retry = "the call may have run upstream: call again if that is safe"
		switch {
		case unreachable(msg):
			return fmt.Sprintf("the bridge's upstream is not reachable: the bridge found no connection to it for the call of %s, so the call was not sent; retry shortly",
				m.FullName), true
		case strings.HasPrefix(msg, "closing transport due to: ") && strings.Contains(msg, ", received prior goaway: "):
			return fmt.Sprintf("the upstream announced that it was shutting down (HTTP/2 GOAWAY) and its connection closed before the call of %s ended (gRPC: %s): check the upstream's logs and the bridge's /readyz; %s",
				m.FullName, withoutAddresses(msg), retry), false
		case strings.HasPrefix(msg, "error reading from server: "):
			return fmt.Sprintf("the bridge's connection to its upstream broke during the call of %s (gRPC: %s): the upstream closed it or went away (a restart, a crash, or a proxy between them that cut it); check the upstream's logs and the bridge's /readyz; %s",
				m.FullName, withoutAddresses(msg), retry), false
		case msg == "keepalive ping failed to receive ACK within timeout":
			return fmt.Sprintf("the upstream did not answer the bridge's keep-alive ping in time, so the bridge gave up its connection during the call of %s (gRPC: %s): the network to the upstream or the upstream itself is stuck; check both, and -upstream-keepalive (grpc.WithKeepaliveParams of an embedded Handler's connection); %s",
				m.FullName, withoutAddresses(msg), retry), false
		}
	}
	return "", false
}

// unreachable reports whether msg, the message of an UNAVAILABLE status,
// is how grpc-go's picker (picker_wrapper.go: status.Error(codes.Unavailable,
// err.Error())) fails a call for which no connection could be made, with
// the balancers a bridge runs: pick_first, and round_robin, whose children
// are pick_first (both give the last connection attempt's error), or a
// policy built on balancer/base, which a service config from the
// upstream's DNS may choose.
//
// A failed connection attempt is a transport.ConnectionError, which the
// picker quotes whole, `connection error: desc = "..."`, its description
// being one of http2_client.go's connect-time texts: "transport: Error
// while dialing: ..." (and the others of NewHTTP2Client that start with
// "transport: ": the TLS handshake, the client preface and settings),
// "error reading server preface: ..." and "initial http2 frame from
// server is not a settings frame: ...". A call whose connection fails once
// it is under way gets the description alone ("error reading from server:
// EOF", see [Explain]) or, from the stream's status,
// `connection error: desc = "error reading from server: ..."`: that
// description is none of these, so such a call, which may have run
// upstream, is never told it was not sent.
//
// One connect-time failure comes unwrapped: NewHTTP2Client returns the
// error of flushing its preface and settings as the net package made it,
// "write tcp 127.0.0.1:40000->10.0.0.5:50051: write: broken pipe" (a
// server that accepts and closes at once). It is recognised by that shape
// of a *net.OpError: "write", a stream network, local->remote address.
func unreachable(msg string) bool {
	if desc, ok := strings.CutPrefix(msg, `connection error: desc = "`); ok {
		return strings.HasSuffix(desc, `"`) &&
			(strings.HasPrefix(desc, "transport: ") ||
				strings.HasPrefix(desc, "error reading server preface: ") ||
				strings.HasPrefix(desc, "initial http2 frame from server is not a settings frame: "))
	}
	if strings.HasPrefix(msg, "write ") {
		return netOpWrite.MatchString(msg)
	}
	// pick_first's name resolution failures (pickfirst.go), round_robin's
	// endpointsharding with no endpoint, and balancer/base's mergeErrors.
	return strings.HasPrefix(msg, "name resolver error: ") ||
		msg == "no children to pick from" ||
		strings.HasPrefix(msg, "last connection error: ") ||
		strings.HasPrefix(msg, "last resolver error: ")
}

// sizes parses grpc-go's "<prefix>N vs. M)", the whole of msg, into N and
// M; ok only if it is exactly that and N > M, as grpc-go checks.
func sizes(msg, prefix string) (n, limit int, ok bool) {
	rest, found := strings.CutPrefix(msg, prefix)
	if !found {
		return 0, 0, false
	}
	rest, found = strings.CutSuffix(rest, ")")
	if !found {
		return 0, 0, false
	}
	a, b, found := strings.Cut(rest, " vs. ")
	if !found {
		return 0, 0, false
	}
	n, errA := strconv.Atoi(a)
	limit, errB := strconv.Atoi(b)
	if errA != nil || errB != nil || n <= limit || limit < 0 || strconv.Itoa(n) != a || strconv.Itoa(limit) != b {
		return 0, 0, false
	}
	return n, limit, true
}

// netOpAddrs matches what a *net.OpError's text puts between its operation
// and its cause: the network and the connection's addresses, local and
// remote ("read tcp 10.0.0.9:41234->10.0.0.5:50051: ", "write tcp
// [::1]:41234->[::1]:50051: "), or the one address a dial names.
var netOpAddrs = regexp.MustCompile(`\b(read|write|dial) ` + netOpNetworks + ` [^ ]+: `)

// netOpWrite matches the text of a *net.OpError of a write on a
// connection, as unreachable knows it: "write", a stream network, the
// local->remote addresses, then the cause.
var netOpWrite = regexp.MustCompile(`^write ` + netOpNetworks + ` [^ ]+->[^ ]+: `)

// netOpNetworks are the networks of the bridge's upstream connections, as
// a *net.OpError's text names them.
const netOpNetworks = `(?:tcp|tcp4|tcp6|unix)`

// withoutAddresses returns msg, a text of grpc-go's quoted to the client,
// without the addresses a network error in it names: the upstream's
// address is the operator's business, as for the readiness refusal.
func withoutAddresses(msg string) string {
	return netOpAddrs.ReplaceAllString(msg, "$1: ")
}
