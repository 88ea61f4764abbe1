package bridgetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/anypb"

	bridgetestv1 "github.com/wampbridge/grpcwamp/gen/bridgetest/v1"
)

// UnknownTypeURL is the type URL of the Any that Echo (any_kind "unknown")
// and Fail (unknown_detail) send: no descriptor for it exists anywhere.
const UnknownTypeURL = "type.googleapis.com/nowhere.v1.Unknown"

// UnknownValue is the raw value of that Any; UnknownValueBase64 is how the
// protobuf JSON mapping renders it.
var UnknownValue = []byte{0x08, 0x01, 0x12, 0x02, 'h', 'i'}

// UnknownValueBase64 is base64 of [UnknownValue].
const UnknownValueBase64 = "CAESAmhp"

// ErrorInfo is the detail every failure of [Service] carries, first in the
// list: Fail, and Stream with fail_code.
func ErrorInfo() *errdetails.ErrorInfo {
	return &errdetails.ErrorInfo{
		Reason:   "TEST",
		Domain:   "bridgetest",
		Metadata: map[string]string{"k": "v"},
	}
}

// ErrorInfoJSON is [ErrorInfo] in the protobuf JSON mapping, as the bridge
// renders it in errorDetails.details.
const ErrorInfoJSON = `{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"TEST","domain":"bridgetest","metadata":{"k":"v"}}`

// UnknownDetailJSON is the detail of an unresolvable type in the protobuf
// JSON mapping, as the bridge renders it.
const UnknownDetailJSON = `{"@type":"` + UnknownTypeURL + `","value":"` + UnknownValueBase64 + `"}`

// Service implements bridgetest.v1.TestService:
//
//   - Echo returns the request, and an Any as any_kind asks: "known" packs
//     Inner{name: "packed"}, "unknown" an Any of [UnknownTypeURL]; with a
//     text that [Service.HoldEcho] named, it waits until the call's
//     context ends (reported by [Service.WaitCanceled] for the text).
//   - Fail ends with the requested code and message, with details
//     [ErrorInfo] and, if unknown_detail, an Any of [UnknownTypeURL]; code 0
//     returns an empty response.
//   - Stream sends count messages {index: 1..count, tag}; then ends with
//     fail_code (with an [ErrorInfo] detail) if set, else, if block, waits
//     until the call's context ends (reported by [Service.WaitCanceled]) or
//     [Service.Release] is called for its tag (then it ends OK), else ends OK.
//   - Sum adds every number of every request and counts the requests.
//   - Chat answers each request with repeat messages {text, index: 1..repeat}.
//   - Sum and Chat calls that [Service.Hold] named wait, once their request
//     side is closed, until their context ends.
//
// Its zero value is not usable; use [NewService]. It is safe for concurrent
// use.
type Service struct {
	bridgetestv1.UnimplementedTestServiceServer

	mu        sync.Mutex
	tags      map[string]*tagEvents
	metadata  map[string]metadata.MD // incoming metadata of Echo calls by text
	deadlines map[string]deadline    // deadlines of Echo calls by text
	echos     int                    // Echo calls served
	failures  map[string]*failPlan   // see FailFirst
	held      map[string]bool        // see HoldEcho
}

// deadline is what a call's context said of its deadline when the call
// arrived.
type deadline struct {
	left time.Duration // time.Until the deadline
	set  bool
}

// HoldEcho makes the Echo calls whose text is key wait until their
// context ends, and then fail with its status: a unary call that takes too
// long, for tests of deadlines.
func (s *Service) HoldEcho(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held == nil {
		s.held = make(map[string]bool)
	}
	s.held[key] = true
}

// Hold is [Service.HoldEcho] for the Chat calls whose first request's text
// is key and, if key is [SumKey], the Sum calls (the two share their keys):
// once the request side is closed (and Chat has answered every request),
// they wait until their context ends and then fail with its status.
// [Service.WaitBlocked] and [Service.WaitCanceled] for key report both
// events, once per key: a test holds a key, and so SumKey, once per
// Service.
func (s *Service) Hold(key string) { s.HoldEcho(key) }

// isHeld reports whether HoldEcho or Hold named key.
func (s *Service) isHeld(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.held[key]
}

// hold makes a held call with key wait until ctx ends and returns its
// status, reporting both events under key.
func (s *Service) hold(ctx context.Context, key string) error {
	e := s.events(key)
	e.blockedOnce.Do(func() { close(e.blocked) })
	<-ctx.Done()
	e.canceledOnce.Do(func() { close(e.canceled) })
	return status.FromContextError(ctx.Err()).Err()
}

// EchoDeadline returns how far away the deadline of the last Echo call
// with text was when it arrived, and whether it had one; it fails the
// test if no such call arrived.
func (s *Service) EchoDeadline(t testing.TB, text string) (time.Duration, bool) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.deadlines[text]
	if !ok {
		t.Fatalf("bridgetest: the upstream saw no Echo call with text %q", text)
	}
	return d.left, d.set
}

// StreamDeadline is [Service.EchoDeadline] for the Stream calls with tag.
func (s *Service) StreamDeadline(t testing.TB, tag string) (time.Duration, bool) {
	t.Helper()
	e := s.events(tag)
	s.mu.Lock()
	defer s.mu.Unlock()
	if e.calls == 0 {
		t.Fatalf("bridgetest: the upstream saw no Stream call with tag %q", tag)
	}
	return e.deadline.left, e.deadline.set
}

// deadlineOf returns what ctx says of its deadline now.
func deadlineOf(ctx context.Context) deadline {
	dl, ok := ctx.Deadline()
	if !ok {
		return deadline{}
	}
	return deadline{left: time.Until(dl), set: true}
}

type failPlan struct {
	left int
	code codes.Code
}

// FailFirst makes the next n Echo calls whose text is key, Stream calls
// whose tag is key, Chat calls whose first request's text is key, and Sum
// calls if key is [SumKey], fail with code before they send anything: an
// upstream failing for a while, for tests of retries.
func (s *Service) FailFirst(key string, n int, code codes.Code) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failures == nil {
		s.failures = make(map[string]*failPlan)
	}
	s.failures[key] = &failPlan{left: n, code: code}
}

// planned returns the failure FailFirst planned for a call with key, if any.
func (s *Service) planned(key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.failures[key]
	if !ok || p.left == 0 {
		return nil
	}
	p.left--
	return status.Errorf(p.code, "bridgetest: planned failure of %q, %d more to come", key, p.left)
}

// NewService returns a [Service].
func NewService() *Service {
	return &Service{tags: make(map[string]*tagEvents), metadata: make(map[string]metadata.MD), deadlines: make(map[string]deadline)}
}

// EchoMetadata returns the incoming gRPC metadata of the last Echo call
// with text, and whether there was one.
func (s *Service) EchoMetadata(text string) (metadata.MD, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	md, ok := s.metadata[text]
	return md.Copy(), ok
}

// ApplicationKeys returns the sorted keys of md, metadata a gRPC server
// received, without those gRPC itself puts on every call (":authority",
// "content-type", "user-agent" and "grpc-*"): what the client chose to
// send.
func ApplicationKeys(md metadata.MD) []string {
	var keys []string
	for k := range md {
		switch {
		case k == ":authority", k == "content-type", k == "user-agent", strings.HasPrefix(k, "grpc-"):
		default:
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// EchoCalls returns how many Echo calls the service has served: a test of
// load balancing counts them per upstream.
func (s *Service) EchoCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.echos
}

var _ bridgetestv1.TestServiceServer = (*Service)(nil)

// tagEvents are the events of the Stream calls with one tag. Each channel
// is closed once.
type tagEvents struct {
	blocked, canceled, release         chan struct{}
	blockedOnce, canceledOnce, relOnce sync.Once
	calls, running                     int         // guarded by Service.mu
	md                                 metadata.MD // incoming metadata of the last call; guarded by Service.mu
	deadline                           deadline    // of the last call; guarded by Service.mu
	sent                               int         // messages sent; guarded by Service.mu
	canceledInSend                     bool        // a cancellation ended a blocked Send
}

// Sent returns how many messages the Stream calls with tag have sent.
func (s *Service) Sent(tag string) int {
	e := s.events(tag)
	s.mu.Lock()
	defer s.mu.Unlock()
	return e.sent
}

// CanceledInSend reports whether a Stream call with tag was cancelled while
// it was inside Send: the client side had stopped reading and gRPC flow
// control held the upstream there.
func (s *Service) CanceledInSend(tag string) bool {
	e := s.events(tag)
	s.mu.Lock()
	defer s.mu.Unlock()
	return e.canceledInSend
}

// StreamMetadata returns the incoming gRPC metadata of the last Stream
// call with tag, and whether there was one.
func (s *Service) StreamMetadata(tag string) (metadata.MD, bool) {
	e := s.events(tag)
	s.mu.Lock()
	defer s.mu.Unlock()
	return e.md.Copy(), e.md != nil
}

// SumKey is the key of every Sum call for [Service.FailFirst] and
// [Service.Calls]: its requests carry no text to name it by.
const SumKey = "bridgetest.v1.TestService.Sum"

// Calls returns how many Stream calls with tag, Chat calls whose first
// request's text is tag, or Sum calls if tag is [SumKey], have started.
// (Only Stream calls are told apart from the others by the other methods
// taking a tag.)
func (s *Service) Calls(tag string) int {
	e := s.events(tag)
	s.mu.Lock()
	defer s.mu.Unlock()
	return e.calls
}

// Running returns how many Stream calls with tag are running now.
func (s *Service) Running(tag string) int {
	e := s.events(tag)
	s.mu.Lock()
	defer s.mu.Unlock()
	return e.running
}

func (s *Service) events(tag string) *tagEvents {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.tags[tag]
	if !ok {
		e = &tagEvents{
			blocked:  make(chan struct{}),
			canceled: make(chan struct{}),
			release:  make(chan struct{}),
		}
		s.tags[tag] = e
	}
	return e
}

// WaitBlocked returns when a Stream call with tag has sent its messages and
// waits (block: true), or a call held under tag (see [Service.Hold]) waits,
// or with an error naming the tag when ctx ends or [Timeout] passes first.
func (s *Service) WaitBlocked(ctx context.Context, tag string) error {
	return wait(ctx, s.events(tag).blocked, "the call %q to block", tag)
}

// WaitCanceled returns when the context of a Stream call with tag has been
// cancelled (while it sent its messages or while it blocked), or that of a
// call held under tag, or with an error naming the tag when ctx ends or
// [Timeout] passes first. It is how a test observes that the bridge
// cancelled the upstream call.
func (s *Service) WaitCanceled(ctx context.Context, tag string) error {
	return wait(ctx, s.events(tag).canceled, "cancellation of the call %q", tag)
}

// Canceled reports, without waiting, whether a Stream call with tag has seen
// its context cancelled.
func (s *Service) Canceled(tag string) bool {
	select {
	case <-s.events(tag).canceled:
		return true
	default:
		return false
	}
}

// Release ends the blocking Stream calls with tag with OK status.
func (s *Service) Release(tag string) {
	e := s.events(tag)
	e.relOnce.Do(func() { close(e.release) })
}

// wait waits for ch to close, at most until ctx ends or [Timeout] passes,
// so that a call the bridge never cancels fails the test instead of
// hanging it.
func wait(ctx context.Context, ch <-chan struct{}, format, tag string) error {
	ctx, cancel := context.WithTimeoutCause(ctx, Timeout, fmt.Errorf("not within %v", Timeout))
	defer cancel()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("bridgetest: waiting for "+format+": %w", tag, context.Cause(ctx))
	}
}

// Echo returns the request and the Any that any_kind asks for.
func (s *Service) Echo(ctx context.Context, req *bridgetestv1.EchoRequest) (*bridgetestv1.EchoResponse, error) {
	dl := deadlineOf(ctx)
	md, _ := metadata.FromIncomingContext(ctx)
	s.mu.Lock()
	s.metadata[req.GetText()] = md.Copy()
	s.deadlines[req.GetText()] = dl
	s.echos++
	held := s.held[req.GetText()]
	s.mu.Unlock()
	if err := s.planned(req.GetText()); err != nil {
		return nil, err
	}
	if held {
		return nil, s.hold(ctx, req.GetText())
	}
	resp := &bridgetestv1.EchoResponse{Request: req}
	switch req.GetAnyKind() {
	case "":
	case "known":
		a, err := anypb.New(&bridgetestv1.Inner{Name: "packed"})
		if err != nil {
			return nil, status.Errorf(codes.Internal, "bridgetest: pack Inner: %v", err)
		}
		resp.Any = a
	case "unknown":
		resp.Any = &anypb.Any{TypeUrl: UnknownTypeURL, Value: UnknownValue}
	default:
		return nil, status.Errorf(codes.InvalidArgument, "field \"any_kind\": want \"known\" or \"unknown\", got %q", req.GetAnyKind())
	}
	return resp, nil
}

// Fail ends with the status the request asks for.
func (s *Service) Fail(_ context.Context, req *bridgetestv1.FailRequest) (*bridgetestv1.FailResponse, error) {
	if req.GetCode() == 0 {
		return &bridgetestv1.FailResponse{}, nil
	}
	return nil, failure(codes.Code(req.GetCode()), req.GetMessage(), req.GetUnknownDetail())
}

// failure builds a status error with the [ErrorInfo] detail and, if
// unknown, an Any of an unresolvable type. The Status proto is built by
// hand: status.WithDetails would wrap an Any in another Any.
func failure(code codes.Code, msg string, unknown bool) error {
	info, err := anypb.New(ErrorInfo())
	if err != nil {
		return status.Errorf(codes.Internal, "bridgetest: pack ErrorInfo: %v", err)
	}
	p := &spb.Status{Code: int32(code), Message: msg, Details: []*anypb.Any{info}}
	if unknown {
		p.Details = append(p.Details, &anypb.Any{TypeUrl: UnknownTypeURL, Value: UnknownValue})
	}
	return status.FromProto(p).Err()
}

// Stream sends the stream the request describes.
func (s *Service) Stream(req *bridgetestv1.StreamRequest, stream grpc.ServerStreamingServer[bridgetestv1.StreamResponse]) error {
	ctx := stream.Context()
	tag := req.GetTag()
	e := s.events(tag)
	dl := deadlineOf(ctx)
	md, _ := metadata.FromIncomingContext(ctx)
	s.mu.Lock()
	e.md = md.Copy()
	e.deadline = dl
	e.calls++
	e.running++
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		e.running--
		s.mu.Unlock()
	}()
	if err := s.planned(tag); err != nil {
		return err
	}
	canceled := func() error {
		e.canceledOnce.Do(func() { close(e.canceled) })
		return status.FromContextError(ctx.Err()).Err()
	}
	var interval time.Duration
	if iv := req.GetInterval(); iv != nil {
		interval = iv.AsDuration()
	}
	for i := int32(1); i <= req.GetCount(); i++ {
		if i > 1 && interval > 0 {
			t := time.NewTimer(interval)
			select {
			case <-ctx.Done():
				t.Stop()
				return canceled()
			case <-t.C:
			}
		}
		live := ctx.Err() == nil
		err := stream.Send(&bridgetestv1.StreamResponse{Index: i, Tag: tag})
		s.mu.Lock()
		if err == nil {
			e.sent++
		} else if live && ctx.Err() != nil {
			e.canceledInSend = true
		}
		s.mu.Unlock()
		if err != nil {
			if ctx.Err() != nil {
				return canceled()
			}
			return err
		}
	}
	if code := req.GetFailCode(); code != 0 {
		return failure(codes.Code(code), fmt.Sprintf("stream %q failed after %d messages", tag, req.GetCount()), false)
	}
	if !req.GetBlock() {
		return nil
	}
	e.blockedOnce.Do(func() { close(e.blocked) })
	select {
	case <-ctx.Done():
		return canceled()
	case <-e.release:
		return nil
	}
}

// Sum adds every number of every request.
func (s *Service) Sum(stream grpc.ClientStreamingServer[bridgetestv1.SumRequest, bridgetestv1.SumResponse]) error {
	if err := s.started(SumKey); err != nil {
		return err
	}
	var resp bridgetestv1.SumResponse
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			if s.isHeld(SumKey) {
				return s.hold(stream.Context(), SumKey)
			}
			return stream.SendAndClose(&resp)
		}
		if err != nil {
			return err
		}
		resp.Requests++
		for _, n := range req.GetNumbers() {
			resp.Total += n
		}
	}
}

// started counts a Sum or Chat call under key, and returns the failure
// FailFirst planned for it, if any.
func (s *Service) started(key string) error {
	e := s.events(key)
	s.mu.Lock()
	e.calls++
	s.mu.Unlock()
	return s.planned(key)
}

// Chat answers each request with repeat messages.
func (s *Service) Chat(stream grpc.BidiStreamingServer[bridgetestv1.ChatRequest, bridgetestv1.ChatResponse]) error {
	var key string // the first request's text
	for first := true; ; first = false {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			if !first && s.isHeld(key) {
				return s.hold(stream.Context(), key)
			}
			return nil
		}
		if err != nil {
			return err
		}
		if first {
			key = req.GetText()
			if err := s.started(key); err != nil {
				return err
			}
		}
		for i := int32(1); i <= req.GetRepeat(); i++ {
			if err := stream.Send(&bridgetestv1.ChatResponse{Text: req.GetText(), Index: i}); err != nil {
				return err
			}
		}
	}
}
