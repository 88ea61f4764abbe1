package transcode

import (
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	// Linked for its registrations: the standard error details of
	// google.rpc.Status (ErrorInfo, BadRequest, ...) always resolve, whatever
	// the upstream's descriptors hold.
	_ "google.golang.org/genproto/googleapis/rpc/errdetails"
)

// Options say how messages look as JSON. The zero value is the plain
// protobuf JSON mapping; [DefaultOptions] is what the bridge uses.
type Options struct {
	// UseProtoNames renders field names as in the .proto file (snake_case)
	// instead of lowerCamelCase JSON names. Requests accept both always.
	UseProtoNames bool
	// EmitUnpopulated renders fields that are not set, with their default
	// value, so that every client sees every field.
	EmitUnpopulated bool
	// UseEnumNumbers renders enum values as numbers instead of names.
	UseEnumNumbers bool
	// DiscardUnknown ignores request fields the request type does not have
	// instead of refusing the call.
	DiscardUnknown bool
}

// DefaultOptions returns the bridge's default: every field emitted,
// lowerCamelCase names, enum names, unknown request fields refused.
func DefaultOptions() Options {
	return Options{EmitUnpopulated: true}
}

// Resolver finds message and extension types by name, URL and number, as
// protojson needs for google.protobuf.Any and extensions.
// *protoregistry.Types and *dynamicpb.Types implement it.
type Resolver interface {
	protoregistry.MessageTypeResolver
	protoregistry.ExtensionTypeResolver
}

// Codec turns JSON arguments into requests, responses into JSON and errors
// into [Failure]s for one set of types. It is immutable and safe for
// concurrent use.
type Codec struct {
	opts      Options
	resolver  Resolver
	marshal   protojson.MarshalOptions
	unmarshal protojson.UnmarshalOptions
	// wire caches the plans of AppendWire, req those of AppendRequestWire.
	wire *wireCache
	req  *reqCache
}

// New returns a Codec resolving types with r first and
// protoregistry.GlobalTypes second (a nil r means GlobalTypes alone).
// The standard google.rpc error details are always in GlobalTypes.
func New(r Resolver, o Options) *Codec {
	var res Resolver = protoregistry.GlobalTypes
	if r != nil && r != Resolver(protoregistry.GlobalTypes) {
		res = chainResolver{first: r}
	}
	return &Codec{
		opts:     o,
		resolver: res,
		wire:     new(wireCache),
		req:      &reqCache{max: maxRequestPlans},
		marshal: protojson.MarshalOptions{
			UseProtoNames:   o.UseProtoNames,
			EmitUnpopulated: o.EmitUnpopulated,
			UseEnumNumbers:  o.UseEnumNumbers,
			Resolver:        res,
		},
		unmarshal: protojson.UnmarshalOptions{
			// Each field is decoded into a message of its own (see doc.go),
			// so required fields are checked once, on the whole request.
			AllowPartial:   true,
			DiscardUnknown: o.DiscardUnknown,
			Resolver:       res,
		},
	}
}

// chainResolver asks first, then protoregistry.GlobalTypes. Whatever first
// fails with, the answer is GlobalTypes' (protojson compares the error of
// FindExtensionByName with protoregistry.NotFound, so it must be that value,
// unwrapped).
type chainResolver struct {
	first Resolver
}

func (c chainResolver) FindMessageByName(name protoreflect.FullName) (protoreflect.MessageType, error) {
	if mt, err := c.first.FindMessageByName(name); err == nil {
		return mt, nil
	}
	return protoregistry.GlobalTypes.FindMessageByName(name)
}

func (c chainResolver) FindMessageByURL(url string) (protoreflect.MessageType, error) {
	if mt, err := c.first.FindMessageByURL(url); err == nil {
		return mt, nil
	}
	return protoregistry.GlobalTypes.FindMessageByURL(url)
}

func (c chainResolver) FindExtensionByName(name protoreflect.FullName) (protoreflect.ExtensionType, error) {
	if xt, err := c.first.FindExtensionByName(name); err == nil {
		return xt, nil
	}
	return protoregistry.GlobalTypes.FindExtensionByName(name)
}

func (c chainResolver) FindExtensionByNumber(message protoreflect.FullName, field protoreflect.FieldNumber) (protoreflect.ExtensionType, error) {
	if xt, err := c.first.FindExtensionByNumber(message, field); err == nil {
		return xt, nil
	}
	return protoregistry.GlobalTypes.FindExtensionByNumber(message, field)
}
