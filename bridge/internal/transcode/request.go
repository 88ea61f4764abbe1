package transcode

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// maxObjectDepth bounds how deep Request follows nested JSON objects itself
// (for error paths such as "inner.values"); deeper values go to protojson
// whole, which has its own recursion limit. Each level scans its part of the
// argument once more, so the bound is also one on the work per byte.
const maxObjectDepth = 8

// maxListedFields bounds the field names an "unknown field" error lists.
const maxListedFields = 20

// Request builds the request of procedure, of type md, from the CALL's
// arguments (PROTOCOL.md §3):
//
//   - no argument, or one null: an empty request;
//   - exactly one JSON object: the whole request in the protobuf JSON
//     mapping, JSON and proto field names both accepted;
//   - anything else: positional, the i-th argument sets the i-th field of md
//     in declaration order; a null argument leaves its field unset.
//
// A request type with a JSON form of its own (google.protobuf.Timestamp,
// Struct, the wrappers, ...) takes one argument, of any JSON kind, as the
// whole request in that form, and no more.
//
// The error is a gRPC status error with code INVALID_ARGUMENT whose message
// names the procedure, the argument, the field with its type and the
// problem, e.g.
//
//	procedure "demo.v1.ClockService.GetProgressiveTime": argument 1 (field "count", int32): invalid value "abc"
func (c *Codec) Request(procedure string, md protoreflect.MessageDescriptor, args []json.RawMessage) (*dynamicpb.Message, error) {
	msg := dynamicpb.NewMessage(md)
	d := requestDecoder{c: c, procedure: procedure}
	var err error
	switch {
	case len(args) == 0:
		return msg, nil
	case len(args) == 1 && isNull(trimSpace(args[0])):
		return msg, nil
	case hasJSONForm(md.FullName()):
		// Its fields have no JSON of their own to be given positionally.
		if len(args) > 1 {
			return nil, d.errorf("takes one argument (a %s in its JSON form), got %d", md.FullName(), len(args))
		}
		d.pos = 1
		if err := c.unmarshal.Unmarshal(args[0], msg); err != nil {
			return nil, d.errorf("%s", cleanError(err, nil))
		}
	case len(args) == 1 && startsObject(trimSpace(args[0])):
		// protojson accepts exactly the objects the walk accepts, as the
		// same message (FuzzRequest checks it), at a fraction of the cost:
		// the walk only explains a refusal better, so it runs only then.
		if c.unmarshal.Unmarshal(args[0], msg) == nil {
			break
		}
		msg = dynamicpb.NewMessage(md)
		if i := invalidUTF8(args[0]); i >= 0 {
			// The walk reads keys and skipped values with encoding/json,
			// which lets invalid UTF-8 through; protojson refuses it.
			err = d.errorf("invalid JSON object: invalid UTF-8 at byte %d", i)
			break
		}
		err = d.object(msg, trimSpace(args[0]), "", 0)
	default:
		err = d.positional(msg, args)
	}
	if err != nil {
		return nil, err
	}
	if err := proto.CheckInitialized(msg); err != nil {
		d.pos = 0
		return nil, d.errorf("%s", cleanError(err, nil))
	}
	return msg, nil
}

// requestDecoder holds the state of one Request call.
type requestDecoder struct {
	c         *Codec
	procedure string
	pos       int    // 1-based positional argument being decoded; 0 in object form
	buf       []byte // scratch for the one-field objects given to protojson
}

// maxDetail bounds the part of an error message that describes the client's
// arguments, and maxPath the field path it names: both quote the client's
// keys and values, and a client must not make the bridge send back (twice,
// in errorDesc and errorDetails) or log megabytes of its own input.
const (
	maxDetail = 1024
	maxPath   = 256
)

// clip cuts s to at most n bytes, on a character boundary, saying how much
// it left out.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	kept := strings.ToValidUTF8(s[:n], "")
	return kept + fmt.Sprintf("... (%d bytes more)", len(s)-len(kept))
}

// errorf returns the INVALID_ARGUMENT status of a problem that concerns no
// one field (or names it in the text).
func (d *requestDecoder) errorf(format string, a ...any) error {
	msg := clip(fmt.Sprintf(format, a...), maxDetail)
	if d.pos > 0 {
		return status.Errorf(codes.InvalidArgument, "procedure %q: argument %d: %s", d.procedure, d.pos, msg)
	}
	return status.Errorf(codes.InvalidArgument, "procedure %q: %s", d.procedure, msg)
}

// fieldErrorf returns the INVALID_ARGUMENT status of a problem with the value
// of field fd, reached by path (dot-separated keys as the caller wrote them).
func (d *requestDecoder) fieldErrorf(path string, fd protoreflect.FieldDescriptor, format string, a ...any) error {
	msg := clip(fmt.Sprintf(format, a...), maxDetail)
	path = clip(path, maxPath)
	if d.pos > 0 {
		return status.Errorf(codes.InvalidArgument, "procedure %q: argument %d (field %q, %s): %s",
			d.procedure, d.pos, path, typeName(fd), msg)
	}
	return status.Errorf(codes.InvalidArgument, "procedure %q: field %q (%s): %s",
		d.procedure, path, typeName(fd), msg)
}

// positional sets the i-th field of m from args[i].
func (d *requestDecoder) positional(m protoreflect.Message, args []json.RawMessage) error {
	fields := m.Descriptor().Fields()
	if len(args) > fields.Len() {
		if fields.Len() == 0 {
			return d.errorf("takes no arguments (%s has no fields), got %d", m.Descriptor().FullName(), len(args))
		}
		noun := "arguments"
		if fields.Len() == 1 {
			noun = "argument"
		}
		return d.errorf("takes at most %d positional %s (%s), got %d",
			fields.Len(), noun, d.c.fieldNames(m.Descriptor()), len(args))
	}
	var oneofs oneofSet
	for i, raw := range args {
		d.pos = i + 1
		raw = trimSpace(raw)
		if !json.Valid(raw) {
			return d.errorf("invalid JSON value")
		}
		if i := invalidUTF8(raw); i >= 0 {
			return d.errorf("invalid UTF-8 at byte %d", i)
		}
		if isNull(raw) {
			continue
		}
		fd := fields.Get(i)
		name := d.c.displayName(fd)
		if err := oneofs.claim(fd, name); err != nil {
			return d.errorf("%s", err)
		}
		if err := d.field(m, fd, raw, name, 0); err != nil {
			if raw[0] == '{' && fd.Message() == nil && !fd.IsMap() {
				// Most likely the request as an object, with more
				// arguments after it: only one object alone is that.
				return status.Errorf(codes.InvalidArgument,
					"%s; an object is the whole request only as the one argument, and positional arguments set the fields in order: %s",
					status.Convert(err).Message(), d.c.fieldNames(m.Descriptor()))
			}
			return err
		}
	}
	return nil
}

// object sets the fields of m from the JSON object raw, which is valid JSON
// when depth > 0. path is the key path of m ("" for the request).
func (d *requestDecoder) object(m protoreflect.Message, raw []byte, path string, depth int) error {
	md := m.Descriptor()
	syntaxError := func(err error) error {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		if path == "" {
			return d.errorf("invalid JSON object: %v", err)
		}
		return d.errorf("field %q: invalid JSON object: %v", path, err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil { // the '{', which the caller checked
		return syntaxError(err)
	}
	var seen []seenField
	var oneofs oneofSet
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return syntaxError(err)
		}
		key, _ := tok.(string) // dec.Token returns only strings for keys
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			return syntaxError(err)
		}
		keyPath := key
		if path != "" {
			keyPath = path + "." + key
		}
		fd, err := d.lookup(md, key)
		if err != nil {
			return d.errorf("field %q: %v", keyPath, err)
		}
		if fd == nil {
			if d.c.opts.DiscardUnknown {
				continue
			}
			return d.errorf("unknown field %q in %s (fields: %s)", keyPath, md.FullName(), d.c.fieldNames(md))
		}
		for _, s := range seen {
			if s.num != fd.Number() {
				continue
			}
			prefix := path
			if prefix != "" {
				prefix += "."
			}
			if s.key != key {
				return d.errorf("duplicate field %q (also given as %q)", keyPath, prefix+s.key)
			}
			return d.errorf("duplicate field %q", keyPath)
		}
		seen = append(seen, seenField{num: fd.Number(), key: key})
		// As protojson: null means "not set", except where null is a value.
		if isNull(val) && !isValueMessage(fd) && !isNullValueEnum(fd) {
			continue
		}
		if err := oneofs.claim(fd, keyPath); err != nil {
			return d.errorf("%s", err)
		}
		if err := d.field(m, fd, val, keyPath, depth); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // the '}'
		return syntaxError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return syntaxError(errors.New("unexpected data after the object"))
	}
	return nil
}

// lookup finds the field key names in md as protojson does: JSON name,
// then proto name; "[full.name]" is an extension. It returns nil for an
// unknown field.
func (d *requestDecoder) lookup(md protoreflect.MessageDescriptor, key string) (protoreflect.FieldDescriptor, error) {
	if len(key) > 2 && key[0] == '[' && key[len(key)-1] == ']' {
		xt, err := d.c.resolver.FindExtensionByName(protoreflect.FullName(key[1 : len(key)-1]))
		if err != nil {
			return nil, nil
		}
		xd := xt.TypeDescriptor()
		if xd.ContainingMessage().FullName() != md.FullName() || !md.ExtensionRanges().Has(xd.Number()) {
			return nil, fmt.Errorf("%s does not extend %s", xd.FullName(), md.FullName())
		}
		return xd, nil
	}
	fields := md.Fields()
	if fd := fields.ByJSONName(key); fd != nil {
		return fd, nil
	}
	return fields.ByTextName(key), nil
}

// field sets fd of m from raw, a valid JSON value that is not a skipped null.
// A message value is followed key by key (so that errors name the nested
// field); everything else goes to protojson as the one-field object
// {"<name>": raw}, decoded into a fresh message whose field then moves to m.
func (d *requestDecoder) field(m protoreflect.Message, fd protoreflect.FieldDescriptor, raw []byte, path string, depth int) error {
	switch {
	case fd.IsMap():
		if raw[0] != '{' {
			return d.fieldErrorf(path, fd, "want a JSON object, got %s", excerpt(raw))
		}
	case fd.IsList():
		if raw[0] != '[' {
			return d.fieldErrorf(path, fd, "want a JSON array, got %s", excerpt(raw))
		}
	case fd.Message() != nil && !hasJSONForm(fd.Message().FullName()):
		if raw[0] != '{' {
			return d.fieldErrorf(path, fd, "want a JSON object, got %s", excerpt(raw))
		}
		if depth < maxObjectDepth {
			return d.object(m.Mutable(fd).Message(), raw, path, depth+1)
		}
	case fd.Message() == nil && (raw[0] == '{' || raw[0] == '['):
		// protojson would quote only the opening bracket.
		return d.fieldErrorf(path, fd, "invalid value %s%s", excerpt(raw), wantHint(fd))
	}

	buf := append(d.buf[:0], '{')
	if fd.IsExtension() {
		buf = appendJSONString(buf, "["+string(fd.FullName())+"]")
	} else {
		buf = appendJSONString(buf, fd.JSONName())
	}
	buf = append(buf, ':')
	buf = append(buf, raw...)
	buf = append(buf, '}')
	d.buf = buf

	tmp := m.New()
	if err := d.c.unmarshal.Unmarshal(buf, tmp.Interface()); err != nil {
		msg := cleanError(err, fd)
		if strings.HasPrefix(msg, "invalid ") && strings.Contains(msg, "value ") && !strings.Contains(msg, " key: ") {
			// "invalid value X", or protojson's "invalid
			// google.protobuf.Duration value X"; not a map's "invalid
			// value for int32 key: X", which the value's form would not fit.
			// Room for the hint within the part of the message quoting
			// the client's value (maxDetail).
			msg = clip(msg, maxDetail-maxWant) + wantHint(fd)
		}
		return d.fieldErrorf(path, fd, "%s", msg)
	}
	var moved error
	tmp.Range(func(f protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if f.Number() != fd.Number() {
			// Only raw that is not one JSON value could smuggle in another
			// key; the callers pass valid values, so this is a safeguard.
			moved = d.fieldErrorf(path, fd, "invalid JSON value")
			return false
		}
		m.Set(f, v)
		return true
	})
	return moved
}

type seenField struct {
	num protoreflect.FieldNumber
	key string
}

// oneofSet records which oneofs have a member set, to refuse a second one
// (protojson would, but it sees one field at a time here).
type oneofSet []struct {
	index int
	key   string
}

func (s *oneofSet) claim(fd protoreflect.FieldDescriptor, key string) error {
	od := fd.ContainingOneof()
	if od == nil || od.IsSynthetic() {
		return nil
	}
	for _, o := range *s {
		if o.index == od.Index() {
			return fmt.Errorf("fields %q and %q are both set, but they belong to one oneof %q", o.key, key, od.Name())
		}
	}
	*s = append(*s, struct {
		index int
		key   string
	}{od.Index(), key})
	return nil
}

// displayName is the name a client sees for fd in responses.
func (c *Codec) displayName(fd protoreflect.FieldDescriptor) string {
	if c.opts.UseProtoNames {
		return fd.TextName()
	}
	return fd.JSONName()
}

// fieldNames lists md's fields for error messages: "count, interval".
func (c *Codec) fieldNames(md protoreflect.MessageDescriptor) string {
	fields := md.Fields()
	var b strings.Builder
	for i := range min(fields.Len(), maxListedFields) {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c.displayName(fields.Get(i)))
	}
	if fields.Len() > maxListedFields {
		fmt.Fprintf(&b, ", and %d more", fields.Len()-maxListedFields)
	}
	return b.String()
}

// typeName is fd's type as errors show it: "int32", "repeated string",
// "map<string, int32>", "google.protobuf.Duration", "bridgetest.v1.Color".
func typeName(fd protoreflect.FieldDescriptor) string {
	switch {
	case fd.IsMap():
		return "map<" + typeName(fd.MapKey()) + ", " + typeName(fd.MapValue()) + ">"
	case fd.IsList():
		return "repeated " + elemTypeName(fd)
	}
	return elemTypeName(fd)
}

func elemTypeName(fd protoreflect.FieldDescriptor) string {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return string(fd.Message().FullName())
	case protoreflect.EnumKind:
		return string(fd.Enum().FullName())
	}
	return fd.Kind().String()
}

// positionHead matches the position protojson puts in front of its
// messages; positions in the one-field objects Request builds mean nothing
// to the caller.
var positionHead = regexp.MustCompile(`^(syntax error )?\(line \d+:\d+\): `)

// maxWant bounds what wantHint adds to an error.
const maxWant = 300

// maxListedEnums bounds the enum value names wantHint lists.
const maxListedEnums = 10

// wantHint says what a value of fd (an element or map value of its own for
// a repeated field or a map) looks like in JSON, as "; want ...", for an
// error about an invalid value; "" for a message, whose fields the error
// names instead, for a string (the type the error names says it all), and
// for types with no one form.
func wantHint(fd protoreflect.FieldDescriptor) string {
	if fd.IsMap() {
		fd = fd.MapValue()
	}
	var want string
	switch fd.Kind() {
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		want = "an integer from -2147483648 to 2147483647"
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		want = "an integer from 0 to 4294967295"
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		want = "a 64-bit integer, as a number or a string"
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		want = "an unsigned 64-bit integer, as a number or a string"
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		want = `a number, "NaN", "Infinity" or "-Infinity"`
	case protoreflect.BoolKind:
		want = "true or false"
	case protoreflect.BytesKind:
		want = "a base64 string"
	case protoreflect.EnumKind:
		values := fd.Enum().Values()
		var b strings.Builder
		b.WriteString("one of ")
		for i := range min(values.Len(), maxListedEnums) {
			b.WriteString(string(values.Get(i).Name()))
			b.WriteString(", ")
		}
		if values.Len() > maxListedEnums {
			fmt.Fprintf(&b, "%d more, ", values.Len()-maxListedEnums)
		}
		b.WriteString("or the value's number")
		want = b.String()
	case protoreflect.MessageKind:
		switch fd.Message().FullName() {
		case "google.protobuf.Timestamp":
			want = `an RFC 3339 string such as "2024-05-01T12:00:00Z"`
		case "google.protobuf.Duration":
			want = `a string of seconds such as "1.5s"`
		case "google.protobuf.FieldMask":
			want = `a string of comma-separated paths such as "name,address.city"`
		default:
			return ""
		}
	default:
		return ""
	}
	return clip("; want "+want, maxWant)
}

// cleanError turns a protojson (or proto) error into the problem part of a
// Request error: no "proto: " prefix, no position, and for a field of fd's
// own, already named by the caller, "invalid value X" rather than protojson's
// "invalid value for int32 field count: X".
func cleanError(err error, fd protoreflect.FieldDescriptor) string {
	s := err.Error()
	// protojson randomly writes the prefix with a no-break space.
	for _, p := range []string{"proto: ", "proto:\u00a0"} {
		s = strings.TrimPrefix(s, p)
	}
	s = positionHead.ReplaceAllStringFunc(s, func(h string) string {
		if strings.HasPrefix(h, "syntax error") {
			return "syntax error: "
		}
		return ""
	})
	if fd == nil {
		return s
	}
	own := fd
	if fd.IsMap() {
		own = fd.MapValue()
	}
	if own.Message() == nil {
		prefix := "invalid value for " + own.Kind().String() + " field " + own.JSONName() + ": "
		if rest, ok := strings.CutPrefix(s, prefix); ok {
			return "invalid value " + rest
		}
	}
	return s
}

// hasJSONForm reports whether messages of type name have a JSON form of
// their own in the protobuf JSON mapping rather than an object of fields.
func hasJSONForm(name protoreflect.FullName) bool {
	if name.Parent() != "google.protobuf" {
		return false
	}
	switch name.Name() {
	case "Any", "Timestamp", "Duration", "FieldMask", "Struct", "Value", "ListValue",
		"BoolValue", "Int32Value", "Int64Value", "UInt32Value", "UInt64Value",
		"FloatValue", "DoubleValue", "StringValue", "BytesValue":
		return true
	}
	return false
}

func isValueMessage(fd protoreflect.FieldDescriptor) bool {
	md := fd.Message()
	return md != nil && md.FullName() == "google.protobuf.Value"
}

func isNullValueEnum(fd protoreflect.FieldDescriptor) bool {
	ed := fd.Enum()
	return ed != nil && ed.FullName() == "google.protobuf.NullValue"
}

func trimSpace(b []byte) []byte {
	return bytes.Trim(b, " \t\r\n")
}

func isNull(b []byte) bool { return string(b) == "null" }

func startsObject(b []byte) bool { return len(b) > 0 && b[0] == '{' }

// excerpt quotes the start of a JSON value for an error message.
func excerpt(raw []byte) string {
	const limit = 40
	if len(raw) <= limit {
		return string(raw)
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(raw[cut]) {
		cut--
	}
	return string(raw[:cut]) + "…"
}

// invalidUTF8 returns the offset of the first byte of b that does not
// belong to valid UTF-8, or -1 when b is valid UTF-8.
func invalidUTF8(b []byte) int {
	if utf8.Valid(b) {
		return -1
	}
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return -1
}
