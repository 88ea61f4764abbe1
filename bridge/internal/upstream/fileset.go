package upstream

import (
	"context"
	"fmt"
	"os"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// includeImportsHint tells the user how to build a complete descriptor set.
const includeImportsHint = "build the set with its imports (protoc --include_imports -o x.pb, or buf build -o x.binpb without --exclude-imports)"

type fileSource struct {
	path string
}

// NewFileSource returns a Source reading a binary FileDescriptorSet from
// path, as `buf build -o x.binpb` or `protoc --include_imports -o x.pb`
// write it. Every service the set's files declare is exposed. The file is
// read again on every Load.
func NewFileSource(path string) Source { return &fileSource{path: path} }

func (s *fileSource) String() string { return "descriptor set " + s.path }

// Load reads and links the set. An import missing from the set is taken
// from the files linked into this binary (the well-known types such as
// google/protobuf/timestamp.proto, google/rpc/status.proto, the bridge
// options) when it is there; otherwise Load fails naming it.
func (s *fileSource) Load(context.Context) (*Catalog, error) {
	data, err := os.ReadFile(s.path)
	if err != nil {
		return nil, fmt.Errorf("descriptor set: %w", err)
	}
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("descriptor set %s: not a binary FileDescriptorSet: %w: write one with buf build -o x.binpb or protoc --include_imports -o x.pb", s.path, err)
	}
	files, err := linkSet(set.GetFile())
	if err != nil {
		return nil, fmt.Errorf("descriptor set %s: %w", s.path, err)
	}
	var services []protoreflect.ServiceDescriptor
	for _, fdp := range set.GetFile() {
		fd, err := files.FindFileByPath(fdp.GetName())
		if err != nil {
			return nil, fmt.Errorf("descriptor set %s: file %q: %w", s.path, fdp.GetName(), err)
		}
		sds := fd.Services()
		for i := range sds.Len() {
			if sd := sds.Get(i); !skipped[sd.FullName()] {
				services = append(services, sd)
			}
		}
	}
	if len(services) == 0 {
		return nil, fmt.Errorf("descriptor set %s declares no services besides reflection and health: build it from the .proto files that declare the services (buf build -o FILE)", s.path)
	}
	c, err := NewCatalog(files, services)
	if err != nil {
		return nil, fmt.Errorf("descriptor set %s: %w", s.path, err)
	}
	return c, nil
}

// linkSet builds the files of a set, each after its imports.
func linkSet(fdps []*descriptorpb.FileDescriptorProto) (*protoregistry.Files, error) {
	byPath := make(map[string]*descriptorpb.FileDescriptorProto, len(fdps))
	for _, fdp := range fdps {
		if _, dup := byPath[fdp.GetName()]; dup {
			return nil, fmt.Errorf("file %q appears twice", fdp.GetName())
		}
		byPath[fdp.GetName()] = fdp
	}
	l := &linker{files: new(protoregistry.Files), set: byPath, linking: make(map[string]bool)}
	for _, fdp := range fdps {
		if err := l.link(fdp.GetName(), ""); err != nil {
			return nil, err
		}
	}
	return l.files, nil
}

type linker struct {
	files   *protoregistry.Files
	set     map[string]*descriptorpb.FileDescriptorProto
	linking map[string]bool // files whose imports are being linked, to refuse cycles
}

// link registers the file at path, imported by importer ("" for a file of
// the set itself).
func (l *linker) link(path, importer string) error {
	if _, err := l.files.FindFileByPath(path); err == nil {
		return nil
	}
	fdp, ok := l.set[path]
	if !ok {
		fd, err := protoregistry.GlobalFiles.FindFileByPath(path)
		if err != nil {
			return fmt.Errorf("file %q imports %q, which the set does not contain: %s", importer, path, includeImportsHint)
		}
		return registerFile(l.files, fd)
	}
	if l.linking[path] {
		return fmt.Errorf("file %q: import cycle through %q", importer, path)
	}
	l.linking[path] = true
	for _, dep := range fdp.GetDependency() {
		if err := l.link(dep, path); err != nil {
			return err
		}
	}
	fd, err := protodesc.NewFile(fdp, l.files)
	if err != nil {
		return fmt.Errorf("file %q: %w", path, err)
	}
	if err := l.files.RegisterFile(fd); err != nil {
		return fmt.Errorf("file %q: %w", path, err)
	}
	return nil
}
