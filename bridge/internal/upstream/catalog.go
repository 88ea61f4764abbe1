package upstream

import (
	"cmp"
	"fmt"
	"slices"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"

	bridgev1 "github.com/wampbridge/grpcwamp/gen/bridge/v1"
)

// Kind is how a method streams: the four shapes of a gRPC method.
type Kind int

// The kinds of gRPC methods.
const (
	Unary        Kind = iota // one request, one response
	ServerStream             // one request, a stream of responses
	ClientStream             // a stream of requests, one response
	BidiStream               // streams both ways
)

// String returns the kind in words, e.g. "server streaming".
func (k Kind) String() string {
	switch k {
	case Unary:
		return "unary"
	case ServerStream:
		return "server streaming"
	case ClientStream:
		return "client streaming"
	case BidiStream:
		return "bidi streaming"
	default:
		return fmt.Sprintf("Kind(%d)", int(k))
	}
}

// ServerStreams reports whether methods of this kind may send any number of
// responses (server streaming and bidi), rather than exactly one.
func (k Kind) ServerStreams() bool { return k == ServerStream || k == BidiStream }

func kindOf(md protoreflect.MethodDescriptor) Kind {
	switch {
	case md.IsStreamingClient() && md.IsStreamingServer():
		return BidiStream
	case md.IsStreamingServer():
		return ServerStream
	case md.IsStreamingClient():
		return ClientStream
	default:
		return Unary
	}
}

// Method is one gRPC method of the upstream and every procedure name it
// answers to. It is immutable.
type Method struct {
	Desc     protoreflect.MethodDescriptor
	FullName string // protobuf full name, "pkg.Service.Method"
	Path     string // gRPC path, "/pkg.Service/Method"
	Kind     Kind
	// URIs holds every procedure name the method answers to, in this order
	// and without repeats: FullName, Path, the method's bridge.v1.procedure
	// option (as is) and the service's bridge.v1.prefix option followed by
	// the method's short name.
	URIs []string
}

func newMethod(md protoreflect.MethodDescriptor) *Method {
	sd := md.Parent().(protoreflect.ServiceDescriptor)
	m := &Method{
		Desc:     md,
		FullName: string(md.FullName()),
		Path:     "/" + string(sd.FullName()) + "/" + string(md.Name()),
		Kind:     kindOf(md),
	}
	uris := []string{m.FullName, m.Path}
	if p := stringOption(md.Options(), bridgev1.E_Procedure); p != "" {
		uris = append(uris, p)
	}
	if p := stringOption(sd.Options(), bridgev1.E_Prefix); p != "" {
		uris = append(uris, p+string(md.Name()))
	}
	for _, u := range uris {
		if !slices.Contains(m.URIs, u) {
			m.URIs = append(m.URIs, u)
		}
	}
	return m
}

// Catalog is the set of methods the bridge can call and the types they
// use. It is immutable and safe for concurrent use; a schema reload builds
// a new Catalog rather than changing one.
type Catalog struct {
	types   *dynamicpb.Types
	methods []*Method          // sorted by FullName
	byURI   map[string]*Method // every URI of every method
	// unexposing lists the expose patterns of [Catalog.Apply] that
	// matched no method.
	unexposing []string
}

// NewCatalog returns the catalog of the methods of services. files holds
// the services' files and their dependencies; it backs [Catalog.Types] and
// must not change afterwards (nil means no types). A service listed twice
// counts once. NewCatalog fails when two methods claim one procedure URI,
// naming the URI and both methods.
func NewCatalog(files *protoregistry.Files, services []protoreflect.ServiceDescriptor) (*Catalog, error) {
	if files == nil {
		files = new(protoregistry.Files)
	}
	c := &Catalog{
		types: dynamicpb.NewTypes(files),
		byURI: make(map[string]*Method),
	}
	// dynamicpb.Types indexes extensions on first use; do it now, while the
	// catalog has one owner.
	_, _ = c.types.FindExtensionByNumber("", 0)

	seen := make(map[protoreflect.FullName]bool, len(services))
	for _, sd := range services {
		if seen[sd.FullName()] {
			continue
		}
		seen[sd.FullName()] = true
		mds := sd.Methods()
		for i := range mds.Len() {
			c.methods = append(c.methods, newMethod(mds.Get(i)))
		}
	}
	slices.SortFunc(c.methods, func(a, b *Method) int { return cmp.Compare(a.FullName, b.FullName) })
	for _, m := range c.methods {
		for _, u := range m.URIs {
			if other, ok := c.byURI[u]; ok {
				return nil, fmt.Errorf("%w: procedure URI %q is claimed by both %s and %s: change the bridge.v1.procedure or bridge.v1.prefix option of one of them",
					ErrConflict, u, other.FullName, m.FullName)
			}
			c.byURI[u] = m
		}
	}
	return c, nil
}

// Lookup returns the method answering to procedure, which must be exact (CURIEs
// already expanded).
func (c *Catalog) Lookup(procedure string) (*Method, bool) {
	m, ok := c.byURI[procedure]
	return m, ok
}

// Methods returns every method, sorted by full name. The slice is the
// caller's; the methods are shared and must not be changed.
func (c *Catalog) Methods() []*Method { return slices.Clone(c.methods) }

// Types resolves the messages and extensions of the loaded files, for
// building requests and rendering responses and Any values. Types the files
// lack (such as error details linked into the binary) are the caller's to
// find elsewhere, e.g. in protoregistry.GlobalTypes.
func (c *Catalog) Types() *dynamicpb.Types { return c.types }

// bridgeTypes resolves the bridge.v1 options, to read them from options
// messages that hold them as unknown fields.
var bridgeTypes = func() *protoregistry.Types {
	t := new(protoregistry.Types)
	for _, xt := range []protoreflect.ExtensionType{bridgev1.E_Procedure, bridgev1.E_Prefix} {
		if err := t.RegisterExtension(xt); err != nil {
			panic(err) // two extensions of distinct messages: cannot conflict
		}
	}
	return t
}()

// stringOption returns the string extension xt of an options message, or
// "". Descriptors built from bytes parsed without the extension known carry
// it as unknown fields; those are parsed again with the bridge.v1 types.
func stringOption(opts proto.Message, xt protoreflect.ExtensionType) string {
	if opts == nil || !opts.ProtoReflect().IsValid() {
		return ""
	}
	if s, ok := extensionString(opts, xt); ok {
		return s
	}
	if len(opts.ProtoReflect().GetUnknown()) == 0 {
		return ""
	}
	b, err := proto.MarshalOptions{AllowPartial: true}.Marshal(opts)
	if err != nil {
		return ""
	}
	fresh := opts.ProtoReflect().New().Interface()
	if err := (proto.UnmarshalOptions{AllowPartial: true, Resolver: bridgeTypes}).Unmarshal(b, fresh); err != nil {
		return ""
	}
	s, _ := extensionString(fresh, xt)
	return s
}

func extensionString(m proto.Message, xt protoreflect.ExtensionType) (string, bool) {
	if m.ProtoReflect().Descriptor().FullName() != xt.TypeDescriptor().ContainingMessage().FullName() ||
		!proto.HasExtension(m, xt) {
		return "", false
	}
	s, ok := proto.GetExtension(m, xt).(string)
	return s, ok
}
