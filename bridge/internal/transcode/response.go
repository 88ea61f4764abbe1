package transcode

import (
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// AppendResponse appends m in the protobuf JSON mapping, as the Codec's
// Options say, to dst and returns the extended slice. The bytes are
// protojson's, unchanged.
//
// A google.protobuf.Any anywhere in m whose type URL resolves nowhere does
// not fail the call: it renders as
//
//	{"@type": "<type URL>", "value": "<base64 of the packed bytes>"}
//
// (see "Any of an unknown type" in the package documentation). Any other
// protojson error is returned as is; dst is then returned unextended.
func (c *Codec) AppendResponse(dst []byte, m proto.Message) ([]byte, error) {
	b, err := c.marshal.MarshalAppend(dst, m)
	if err == nil {
		return b, nil
	}
	return c.appendWithRawAnys(dst, m, err)
}

// appendWithRawAnys is AppendResponse's slow path, taken only when protojson
// failed with cause: it rewrites every unresolvable Any of a clone of m into
// the value of an [unresolvedAnyType] and marshals the clone again with a
// resolver that answers those type URLs with that type. If m has no
// unresolvable Any, cause was something else and is returned.
func (c *Codec) appendWithRawAnys(dst []byte, m proto.Message, cause error) ([]byte, error) {
	clone := proto.Clone(m)
	w := anyRewriter{resolver: c.resolver}
	w.message(clone.ProtoReflect())
	if len(w.unresolved) == 0 {
		return dst, cause
	}
	o := c.marshal
	o.Resolver = unresolvedResolver{Resolver: c.resolver, urls: w.unresolved}
	b, err := o.MarshalAppend(dst, clone)
	if err != nil {
		return dst, err
	}
	return b, nil
}

// unresolvedAnyType is the stand-in type of every Any whose type URL
// resolves nowhere: one bytes field "value" holding the packed bytes as they
// arrived. protojson writes an Any's "@type" from its type_url, not from the
// resolved type's name, so one stand-in serves every URL, and no descriptor
// is ever built from a name an upstream chose. The field is proto2 optional
// so that it is emitted even when empty, whatever EmitUnpopulated says.
var unresolvedAnyType = func() protoreflect.MessageType {
	file, err := protodesc.NewFile(&descriptorpb.FileDescriptorProto{
		Name:    proto.String("grpcwamp/transcode/unresolved_any.proto"),
		Package: proto.String("grpcwamp.transcode"),
		Syntax:  proto.String("proto2"),
		MessageType: []*descriptorpb.DescriptorProto{{
			Name: proto.String("UnresolvedAny"),
			Field: []*descriptorpb.FieldDescriptorProto{{
				Name:     proto.String("value"),
				JsonName: proto.String("value"),
				Number:   proto.Int32(1),
				Label:    descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(),
				Type:     descriptorpb.FieldDescriptorProto_TYPE_BYTES.Enum(),
			}},
		}},
	}, new(protoregistry.Files))
	if err != nil {
		panic("transcode: building the unresolved Any type: " + err.Error())
	}
	return dynamicpb.NewMessageType(file.Messages().Get(0))
}()

// unresolvedResolver answers the type URLs an anyRewriter rewrote with
// unresolvedAnyType and everything else as Resolver does.
type unresolvedResolver struct {
	Resolver
	urls map[string]struct{}
}

func (r unresolvedResolver) FindMessageByURL(url string) (protoreflect.MessageType, error) {
	if _, ok := r.urls[url]; ok {
		return unresolvedAnyType, nil
	}
	return r.Resolver.FindMessageByURL(url)
}

// anyRewriter walks a message and rewrites, in place, the value of every Any
// whose type URL the resolver cannot resolve into the wire form of an
// unresolvedAnyType holding the original value, recording the URL. Anys
// packed inside resolvable Anys are rewritten too (the outer value is
// re-marshalled).
type anyRewriter struct {
	resolver   Resolver
	unresolved map[string]struct{}
}

// message rewrites m and reports whether it changed anything.
func (w *anyRewriter) message(m protoreflect.Message) bool {
	if m.Descriptor().FullName() == "google.protobuf.Any" {
		return w.any(m)
	}
	// Collect first: Range must not run while fields are being changed.
	var fds []protoreflect.FieldDescriptor
	m.Range(func(fd protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
		if fd.Message() != nil && (!fd.IsMap() || fd.MapValue().Message() != nil) {
			fds = append(fds, fd)
		}
		return true
	})
	changed := false
	for _, fd := range fds {
		switch v := m.Mutable(fd); {
		case fd.IsMap():
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
				changed = w.message(mv.Message()) || changed
				return true
			})
		case fd.IsList():
			l := v.List()
			for i := range l.Len() {
				changed = w.message(l.Get(i).Message()) || changed
			}
		default:
			changed = w.message(v.Message()) || changed
		}
	}
	return changed
}

func (w *anyRewriter) any(m protoreflect.Message) bool {
	fields := m.Descriptor().Fields()
	urlField, valueField := fields.ByNumber(1), fields.ByNumber(2)
	if urlField == nil || valueField == nil || !m.Has(urlField) {
		return false // protojson renders or refuses it without a type
	}
	url := m.Get(urlField).String()
	value := m.Get(valueField).Bytes()
	mt, err := w.resolver.FindMessageByURL(url)
	if err != nil {
		b := protowire.AppendTag(make([]byte, 0, len(value)+8), 1, protowire.BytesType)
		b = protowire.AppendBytes(b, value)
		m.Set(valueField, protoreflect.ValueOfBytes(b))
		if w.unresolved == nil {
			w.unresolved = make(map[string]struct{})
		}
		w.unresolved[url] = struct{}{}
		return true
	}
	inner := mt.New()
	err = proto.UnmarshalOptions{AllowPartial: true, Resolver: w.resolver}.Unmarshal(value, inner.Interface())
	if err != nil || !w.message(inner) {
		return false // a bad value is protojson's to report
	}
	b, err := proto.MarshalOptions{AllowPartial: true, Deterministic: true}.Marshal(inner.Interface())
	if err != nil {
		return false
	}
	m.Set(valueField, protoreflect.ValueOfBytes(b))
	return true
}
