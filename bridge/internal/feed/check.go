package feed

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/wampbridge/grpcwamp/bridge/internal/invoke"
	"github.com/wampbridge/grpcwamp/bridge/internal/upstream"
)

// MsgMisfit and MsgFits are the messages of the lines [Manager.CheckSchema]
// logs.
const (
	MsgMisfit = "-feed does not fit the upstream's schema: its topics get no events until it does"
	MsgFits   = "-feed fits the upstream's schema now"
)

// listedMax is how many names a problem lists at most.
const listedMax = 20

// CheckSchema checks every binding against cat, the schema just loaded
// from source (as the log names it), and logs one warning per binding that
// does not fit it: its procedure names no method, or a method that does
// not stream its responses, or its placeholder names no field of the
// method's request that a string can fill. A binding that did not fit the
// catalog checked before and fits this one gets an info line. Call it once
// per version of the schema (upstream.Upstream.SetOnLoad), not per
// subscription; calls must not overlap. It changes nothing else: streams
// are started on Interest as before, and fail (and are restarted) as
// before while their binding does not fit.
func (m *Manager) CheckSchema(cat *upstream.Catalog, source string) {
	for _, r := range m.rules {
		problem := r.misfit(cat, source)
		switch {
		case problem != "":
			r.unfit = true
			m.logger.Warn(MsgMisfit, "feed", r.flag(), "problem", problem)
		case r.unfit:
			r.unfit = false
			m.logger.Info(MsgFits, "feed", r.flag(), "source", source)
		}
	}
}

// flag returns the binding in the -feed flag's form.
func (r *rule) flag() string {
	s := r.Topic + " " + r.Procedure
	if len(r.Request) > 0 {
		s += " " + string(r.Request)
	}
	return s
}

// misfit says what keeps r from working with cat, or "" when nothing
// does.
func (r *rule) misfit(cat *upstream.Catalog, source string) string {
	if r.Procedure == invoke.ProcedureList || r.Procedure == invoke.ProcedureDescribe {
		return fmt.Sprintf("%s is a built-in procedure of the bridge, not a method of the upstream: a feed needs a server-streaming method; methods with streams: %s",
			r.Procedure, streamingMethods(cat))
	}
	md, ok := cat.Lookup(r.Procedure)
	if !ok {
		return fmt.Sprintf("no method %s in the upstream's schema (source %s): check the name (a method's full name pkg.Service.Method, its gRPC path /pkg.Service/Method, or a URI from its bridge.v1.procedure option); methods with streams: %s",
			r.Procedure, source, streamingMethods(cat))
	}
	if !md.Kind.ServerStreams() {
		return fmt.Sprintf("method %s does not stream its responses (it is %s): a feed needs a server-streaming method; methods with streams: %s",
			md.FullName, md.Kind, streamingMethods(cat))
	}
	if !r.pattern {
		return ""
	}
	in := md.Desc.Input()
	fields := in.Fields()
	// As the request's JSON is read: by JSON name, then by proto name.
	fd := fields.ByJSONName(r.field)
	if fd == nil {
		fd = fields.ByTextName(r.field)
	}
	if fd == nil {
		return fmt.Sprintf("placeholder {%s} is not a field of %s's request %s (fields: %s)",
			r.field, md.FullName, in.FullName(), fieldNames(fields))
	}
	if what := stringless(fd); what != "" {
		return fmt.Sprintf("placeholder {%s} names field %s of %s's request %s, %s: the topic's text is given to it as a JSON string, which only a string, number, enum or bytes field takes",
			r.field, fd.Name(), md.FullName, in.FullName(), what)
	}
	return ""
}

// stringless describes fd if no JSON string can be its value, and returns
// "" if one can.
func stringless(fd protoreflect.FieldDescriptor) string {
	switch {
	case fd.IsMap():
		return "a map"
	case fd.IsList():
		return "a repeated field"
	case fd.Kind() == protoreflect.BoolKind:
		return "a bool"
	case fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind:
		if stringJSON[fd.Message().FullName()] {
			return ""
		}
		return "a message " + string(fd.Message().FullName())
	}
	return ""
}

// stringJSON holds the messages whose JSON form may be a string.
var stringJSON = map[protoreflect.FullName]bool{
	"google.protobuf.Timestamp":   true,
	"google.protobuf.Duration":    true,
	"google.protobuf.FieldMask":   true,
	"google.protobuf.Value":       true,
	"google.protobuf.StringValue": true,
	"google.protobuf.BytesValue":  true,
	"google.protobuf.Int32Value":  true,
	"google.protobuf.Int64Value":  true,
	"google.protobuf.UInt32Value": true,
	"google.protobuf.UInt64Value": true,
	"google.protobuf.FloatValue":  true,
	"google.protobuf.DoubleValue": true,
}

// streamingMethods lists the full names of cat's methods that stream their
// responses, at most listedMax of them.
func streamingMethods(cat *upstream.Catalog) string {
	var names []string
	for _, md := range cat.Methods() {
		if md.Kind.ServerStreams() {
			names = append(names, md.FullName)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return listed(names)
}

func fieldNames(fields protoreflect.FieldDescriptors) string {
	if fields.Len() == 0 {
		return "none"
	}
	names := make([]string, fields.Len())
	for i := range fields.Len() {
		names[i] = string(fields.Get(i).Name())
	}
	return listed(names)
}

// listed joins names with commas, cut after listedMax.
func listed(names []string) string {
	if len(names) > listedMax {
		return strings.Join(names[:listedMax], ", ") + fmt.Sprintf(" and %d more", len(names)-listedMax)
	}
	return strings.Join(names, ", ")
}
