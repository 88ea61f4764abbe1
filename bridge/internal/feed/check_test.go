package feed

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/wampbridge/grpcwamp/bridge/internal/upstream"
	bridgetestv1 "github.com/wampbridge/grpcwamp/gen/bridgetest/v1"
	demov1 "github.com/wampbridge/grpcwamp/gen/demo/v1"
)

// attrsHandler keeps every record as its level, message and attributes.
type attrsHandler struct{ records *[]map[string]string }

func (h attrsHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h attrsHandler) Handle(_ context.Context, r slog.Record) error {
	m := map[string]string{"level": r.Level.String(), "msg": r.Message}
	r.Attrs(func(a slog.Attr) bool {
		m[a.Key] = a.Value.String()
		return true
	})
	*h.records = append(*h.records, m)
	return nil
}
func (h attrsHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h attrsHandler) WithGroup(string) slog.Handler      { return h }

// catalogOf returns the catalog of the services of fds, linked into the
// binary.
func catalogOf(t *testing.T, fds ...protoreflect.FileDescriptor) *upstream.Catalog {
	t.Helper()
	var services []protoreflect.ServiceDescriptor
	for _, fd := range fds {
		for i := range fd.Services().Len() {
			services = append(services, fd.Services().Get(i))
		}
	}
	c, err := upstream.NewCatalog(protoregistry.GlobalFiles, services)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const (
	testStreams  = "bridgetest.v1.TestService.Chat, bridgetest.v1.TestService.Stream"
	streamFields = "count, fail_code, block, tag, interval"
)

// TestCheckSchema: CheckSchema logs one warning per binding that does not
// fit the catalog, naming the binding in its flag form and saying what is
// wrong and what fits; bindings that fit log nothing.
func TestCheckSchema(t *testing.T) {
	t.Parallel()
	bindings := []string{
		`ok bridgetest.v1.TestService.Stream {"count":1}`,
		`ok.path.{tag} /bridgetest.v1.TestService/Stream`,
		`ok.camel.{failCode} bridgetest.v1.TestService.Stream`,
		`ok.proto.{fail_code} bridgetest.v1.TestService.Stream`,
		`ok.duration.{interval} bridgetest.v1.TestService.Stream`,
		`ok.bidi.{text} bridgetest.v1.TestService.Chat`,
		`missing bridgetest.v1.TestService.Streem {"count":1}`,
		`unary bridgetest.v1.TestService.Echo`,
		`client bridgetest.v1.TestService.Sum`,
		`ticker.{symbol} bridgetest.v1.TestService.Stream {"count":1}`,
		`flag.{block} bridgetest.v1.TestService.Stream`,
		`builtin wamp.reflection.procedure.list`,
	}
	want := map[string]string{
		"missing":         `no method bridgetest.v1.TestService.Streem in the upstream's schema (source test schema): check the name (a method's full name pkg.Service.Method, its gRPC path /pkg.Service/Method, or a URI from its bridge.v1.procedure option); methods with streams: ` + testStreams,
		"unary":           `method bridgetest.v1.TestService.Echo does not stream its responses (it is unary): a feed needs a server-streaming method; methods with streams: ` + testStreams,
		"client":          `method bridgetest.v1.TestService.Sum does not stream its responses (it is client streaming): a feed needs a server-streaming method; methods with streams: ` + testStreams,
		"ticker.{symbol}": `placeholder {symbol} is not a field of bridgetest.v1.TestService.Stream's request bridgetest.v1.StreamRequest (fields: ` + streamFields + `)`,
		"flag.{block}":    `placeholder {block} names field block of bridgetest.v1.TestService.Stream's request bridgetest.v1.StreamRequest, a bool: the topic's text is given to it as a JSON string, which only a string, number, enum or bytes field takes`,
		"builtin":         `wamp.reflection.procedure.list is a built-in procedure of the bridge, not a method of the upstream: a feed needs a server-streaming method; methods with streams: ` + testStreams,
	}
	var bs []Binding
	for _, s := range bindings {
		b, err := ParseBinding(s)
		if err != nil {
			t.Fatal(err)
		}
		bs = append(bs, b)
	}
	var records []map[string]string
	opts := fast
	opts.Logger = slog.New(attrsHandler{&records})
	m, err := New(bs, newFakeCaller(t), newFakePublisher(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	m.CheckSchema(catalogOf(t, bridgetestv1.File_bridgetest_v1_test_proto), "test schema")

	got := map[string]string{}
	for _, r := range records {
		if r["msg"] != MsgMisfit || r["level"] != "WARN" {
			t.Errorf("unexpected record %v", r)
			continue
		}
		topic, _, _ := strings.Cut(r["feed"], " ")
		if _, dup := got[topic]; dup {
			t.Errorf("feed %q reported twice", r["feed"])
		}
		if !strings.Contains(strings.Join(bindings, "\n"), r["feed"]) {
			t.Errorf("record names feed %q, want the flag's value", r["feed"])
		}
		got[topic] = r["problem"]
	}
	for topic, problem := range want {
		if got[topic] != problem {
			t.Errorf("feed %s: problem\n%s\nwant\n%s", topic, got[topic], problem)
		}
	}
	for topic := range got {
		if _, ok := want[topic]; !ok {
			t.Errorf("feed %s reported, but it fits: %s", topic, got[topic])
		}
	}
}

// TestCheckSchemaEachVersion: each check logs the bindings that do not
// fit that version of the schema, again if they still do not; a binding
// that comes to fit gets one info line; nothing else is logged.
func TestCheckSchemaEachVersion(t *testing.T) {
	t.Parallel()
	var records []map[string]string
	opts := fast
	opts.Logger = slog.New(attrsHandler{&records})
	m, err := New([]Binding{
		{Topic: "clock", Procedure: "demo.v1.ClockService.GetProgressiveTime"},
		{Topic: "ticks", Procedure: "bridgetest.v1.TestService.Stream"},
	}, newFakeCaller(t), newFakePublisher(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	summary := func() []string {
		var lines []string
		for _, r := range records {
			lines = append(lines, r["level"]+" "+r["feed"])
		}
		records = nil
		return lines
	}
	check := func(what string, cat *upstream.Catalog, want ...string) {
		t.Helper()
		m.CheckSchema(cat, "test schema")
		if got := summary(); strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("%s: logged %q, want %q", what, got, want)
		}
	}
	test := catalogOf(t, bridgetestv1.File_bridgetest_v1_test_proto)
	both := catalogOf(t, bridgetestv1.File_bridgetest_v1_test_proto, demov1.File_demo_v1_clock_proto)
	clock := catalogOf(t, demov1.File_demo_v1_clock_proto)
	check("first version", test, "WARN clock demo.v1.ClockService.GetProgressiveTime")
	check("second version, still without the clock", test, "WARN clock demo.v1.ClockService.GetProgressiveTime")
	check("the clock deployed", both, "INFO clock demo.v1.ClockService.GetProgressiveTime")
	check("unchanged fit", both)
	check("the test service gone", clock, "WARN ticks bridgetest.v1.TestService.Stream")
}
