package transcode

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// FuzzWireJSON is a differential test of AppendWire against the slow path
// (proto.Unmarshal into a dynamic message, then protojson through
// AppendResponse). From the input it builds a schema (a proto2 or proto3
// file with enums and up to four messages whose fields are of every kind:
// scalars, enums, nested and recursive messages, well-known types,
// repeated, maps of every key kind, oneofs, proto3 optional, proto2
// defaults, extension ranges), then a message of the first type, populated
// from the input and marshalled, then possibly damaged (bytes appended,
// flipped, cut, a field repeated). For every combination of the output
// options, whenever AppendWire answers, its bytes must be the slow path's;
// when it gives up, dst must come back unextended.
func FuzzWireJSON(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13"))
	f.Add([]byte("proto3 with maps and oneofs \x00\xff\x80\x7f\x10\x20\x30\x40\x50\x60\x70\x80\x90\xa0\xb0\xc0"))
	for i := range 16 {
		b := make([]byte, 96)
		for j := range b {
			b[j] = byte(i*37 + j*j*13 + j)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fz := &fuzzInput{b: data}
		fdp := fz.file()
		files, types, err := buildFiles(fdp)
		if err != nil {
			return // a schema protodesc refuses: nothing to compare
		}
		md := files[0].Messages().Get(0)
		m := dynamicpb.NewMessage(md)
		fz.populate(m, 0)
		b, err := proto.MarshalOptions{AllowPartial: true, Deterministic: fz.bool()}.Marshal(m)
		if err != nil {
			b = nil
		}
		b = fz.damage(b)
		for _, o := range allOptions {
			checkWire(t, New(types, o), md, b)
		}
	})
}

// fuzzInput hands out the fuzz input as choices; once it runs out, every
// choice is 0.
type fuzzInput struct {
	b []byte
	n int // messages declared
}

func (z *fuzzInput) byte() byte {
	if len(z.b) == 0 {
		return 0
	}
	c := z.b[0]
	z.b = z.b[1:]
	return c
}

func (z *fuzzInput) intn(n int) int { return int(z.byte()) % n }
func (z *fuzzInput) bool() bool     { return z.byte()&1 == 1 }

func (z *fuzzInput) u64() uint64 {
	var v uint64
	for range 8 {
		v = v<<8 | uint64(z.byte())
	}
	return v
}

// file builds the schema: package fz, messages M0..Mn, enums E0, E1.
func (z *fuzzInput) file() *descriptorpb.FileDescriptorProto {
	proto3 := z.bool()
	syntax := "proto2"
	if proto3 {
		syntax = "proto3"
	}
	fd := &descriptorpb.FileDescriptorProto{
		Name:       proto.String("fz/fz.proto"),
		Package:    proto.String("fz"),
		Syntax:     proto.String(syntax),
		Dependency: wktDeps,
	}
	// Enums: the first value is 0 in E0 (usable in maps and proto3); E1 in
	// proto2 may start elsewhere.
	zeroFirst := []bool{true, proto3}
	for i := range 2 {
		e := &descriptorpb.EnumDescriptorProto{Name: proto.String(fmt.Sprintf("E%d", i))}
		n := 1 + z.intn(4)
		num := int32(0)
		if !zeroFirst[i] {
			num = int32(int8(z.byte()))
		}
		alias := false
		for j := range n {
			if j > 0 {
				if z.intn(4) == 0 {
					alias = true // the same number again
				} else {
					num += 1 + int32(z.intn(3))
				}
			}
			e.Value = append(e.Value, &descriptorpb.EnumValueDescriptorProto{
				Name:   proto.String(fmt.Sprintf("E%d_V%d", i, j)),
				Number: proto.Int32(num),
			})
		}
		if alias {
			e.Options = &descriptorpb.EnumOptions{AllowAlias: proto.Bool(true)}
		}
		fd.EnumType = append(fd.EnumType, e)
	}
	z.n = 1 + z.intn(4)
	for i := range z.n {
		fd.MessageType = append(fd.MessageType, z.message(i, proto3))
	}
	return fd
}

func (z *fuzzInput) message(i int, proto3 bool) *descriptorpb.DescriptorProto {
	name := fmt.Sprintf("M%d", i)
	full := ".fz." + name
	msg := &descriptorpb.DescriptorProto{Name: proto.String(name)}
	num := int32(0)
	var synthetic []*fdp // proto3 optional fields, whose oneofs come last
	oneofOpen := -1      // index of the real oneof being filled, or -1
	nf := 1 + z.intn(10)
	for j := range nf {
		num += 1 + int32(z.intn(4))
		if z.intn(16) == 0 {
			num += 1000 + int32(z.intn(200))
		}
		if num >= 19000 && num <= 19999 {
			num = 20000
		}
		fname := fmt.Sprintf("f%d_%c", j, 'a'+rune(z.intn(26)))
		var f *fdp
		switch k := z.intn(10); {
		case k < 5:
			f = newField(fname, num, scalarTypes[z.intn(len(scalarTypes))], "")
		case k < 6:
			f = newField(fname, num, tEnum, fmt.Sprintf(".fz.E%d", z.intn(2)))
		case k < 7:
			f = newField(fname, num, tMessage, fmt.Sprintf(".fz.M%d", z.intn(z.n)))
		case k < 8:
			f = newField(fname, num, tMessage, wktNames[z.intn(len(wktNames))][0])
		default:
			key := newField("", 0, keyTypes[z.intn(len(keyTypes))], "")
			var val *fdp
			switch z.intn(4) {
			case 0:
				val = newField("", 0, tEnum, ".fz.E0")
			case 1:
				val = newField("", 0, tMessage, fmt.Sprintf(".fz.M%d", z.intn(z.n)))
			case 2:
				val = newField("", 0, tMessage, wktNames[z.intn(len(wktNames))][0])
			default:
				val = newField("", 0, scalarTypes[z.intn(len(scalarTypes))], "")
			}
			addMap(msg, full, fname, num, key, val)
			oneofOpen = -1
			continue
		}
		if z.intn(8) == 0 {
			f.JsonName = proto.String(fmt.Sprintf("J%d\"é\\", j))
		}
		switch c := z.intn(8); {
		case c < 2:
			repeated(f)
			oneofOpen = -1
			if !proto3 && f.GetType() != tString && f.GetType() != tBytes && f.GetType() != tMessage && z.bool() {
				f.Options = &descriptorpb.FieldOptions{Packed: proto.Bool(true)}
			}
		case c < 4:
			// A member of a real oneof: open one or continue the last.
			if oneofOpen < 0 || z.bool() {
				oneofOpen = len(msg.OneofDecl)
				msg.OneofDecl = append(msg.OneofDecl, &descriptorpb.OneofDescriptorProto{Name: proto.String(fmt.Sprintf("o%d", oneofOpen))})
			}
			f.OneofIndex = proto.Int32(int32(oneofOpen))
		case c < 5 && proto3:
			f.Proto3Optional = proto.Bool(true)
			synthetic = append(synthetic, f)
			oneofOpen = -1
		case c < 5 && !proto3 && z.intn(4) == 0:
			f.Label = descriptorpb.FieldDescriptorProto_LABEL_REQUIRED.Enum()
			oneofOpen = -1
		case c < 6 && !proto3:
			oneofOpen = -1
			switch f.GetType() {
			case tInt32, tSint64, tUint32, tFixed64:
				f.DefaultValue = proto.String(fmt.Sprint(z.intn(100)))
			case tString:
				f.DefaultValue = proto.String("d\"\x01é")
			case tBytes:
				f.DefaultValue = proto.String("\\001x")
			case tDouble, tFloat:
				f.DefaultValue = proto.String([]string{"inf", "-inf", "nan", "1e-7", "-0"}[z.intn(5)])
			case tBool:
				f.DefaultValue = proto.String("true")
			}
		default:
			oneofOpen = -1
		}
		msg.Field = append(msg.Field, f)
	}
	for _, f := range synthetic {
		f.OneofIndex = proto.Int32(int32(len(msg.OneofDecl)))
		msg.OneofDecl = append(msg.OneofDecl, &descriptorpb.OneofDescriptorProto{Name: proto.String("_" + f.GetName())})
	}
	if !proto3 && z.intn(4) == 0 {
		start := num + 1 + int32(z.intn(3))
		msg.ExtensionRange = []*descriptorpb.DescriptorProto_ExtensionRange{{Start: proto.Int32(start), End: proto.Int32(start + 10)}}
	}
	return msg
}

// populate sets fields of m from the input.
func (z *fuzzInput) populate(m protoreflect.Message, depth int) {
	fds := m.Descriptor().Fields()
	for i := range fds.Len() {
		fd := fds.Get(i)
		if len(z.b) == 0 || z.intn(3) == 0 {
			continue
		}
		switch {
		case fd.IsMap():
			mp := m.Mutable(fd).Map()
			for range z.intn(4) {
				k := z.value(fd.MapKey(), depth)
				v := z.valueFor(mp.NewValue, fd.MapValue(), depth)
				mp.Set(k.MapKey(), v)
			}
		case fd.IsList():
			l := m.Mutable(fd).List()
			for range z.intn(4) {
				l.Append(z.valueFor(l.NewElement, fd, depth))
			}
		case fd.Message() != nil:
			if depth < 4 {
				z.populate(m.Mutable(fd).Message(), depth+1)
			}
		default:
			m.Set(fd, z.value(fd, depth))
		}
	}
}

func (z *fuzzInput) valueFor(newValue func() protoreflect.Value, fd protoreflect.FieldDescriptor, depth int) protoreflect.Value {
	if fd.Message() == nil {
		return z.value(fd, depth)
	}
	v := newValue()
	if depth < 4 {
		z.populate(v.Message(), depth+1)
	}
	return v
}

// Special values, chosen often: they are where formats differ.
var (
	fuzzFloats = []float64{0, math.Copysign(0, -1), 1, -1.5, 1e21, 1e20, 1e-6, 1e-7, 5e-324, math.MaxFloat64,
		math.MaxFloat32, math.SmallestNonzeroFloat32, math.NaN(), math.Inf(1), math.Inf(-1), 0.1, 123456789.125}
	fuzzInts = []uint64{0, 1, math.MaxUint64, 1 << 63, 1<<63 - 1, math.MaxUint32, 1 << 31, 1<<31 - 1,
		-minTimestampSeconds, -minTimestampSeconds + 1, maxTimestampSeconds, maxTimestampSeconds + 1, maxDurationSeconds, maxNanos, 1e9}
	// The negated ones (see value) give the lower limits.
	fuzzStrings = []string{"", "a", "a_b", "a_b.c_d", "aB", "_a", "a__b", "1a", "é", "\x00\"\\\n", "\u2028", "😀", "a.b"}
)

func (z *fuzzInput) value(fd protoreflect.FieldDescriptor, depth int) protoreflect.Value {
	special := z.intn(4) != 0
	ui := z.u64()
	if special {
		ui = fuzzInts[int(ui%uint64(len(fuzzInts)))]
		if z.bool() {
			ui = -ui
		}
	}
	fl := math.Float64frombits(z.u64())
	if special {
		fl = fuzzFloats[z.intn(len(fuzzFloats))]
	}
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(ui&1 == 1)
	case protoreflect.EnumKind:
		vals := fd.Enum().Values()
		if z.intn(4) == 0 {
			return protoreflect.ValueOfEnum(protoreflect.EnumNumber(int32(ui)))
		}
		return protoreflect.ValueOfEnum(vals.Get(z.intn(vals.Len())).Number())
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32(int32(ui))
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(uint32(ui))
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64(int64(ui))
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64(ui)
	case protoreflect.FloatKind:
		return protoreflect.ValueOfFloat32(float32(fl))
	case protoreflect.DoubleKind:
		return protoreflect.ValueOfFloat64(fl)
	case protoreflect.StringKind:
		s := fuzzStrings[z.intn(len(fuzzStrings))]
		if !special {
			raw := make([]byte, z.intn(8))
			for i := range raw {
				raw[i] = z.byte()
			}
			s = strings.ToValidUTF8(string(raw), "\uFFFD")
		}
		if !utf8.ValidString(s) {
			s = ""
		}
		return protoreflect.ValueOfString(s)
	case protoreflect.BytesKind:
		raw := make([]byte, z.intn(6))
		for i := range raw {
			raw[i] = z.byte()
		}
		return protoreflect.ValueOfBytes(raw)
	}
	panic("value of kind " + fd.Kind().String())
}

// damage mutates the wire form: nothing, or append a random field or raw
// bytes, flip a byte, cut the end, or repeat the first field.
func (z *fuzzInput) damage(b []byte) []byte {
	switch z.intn(8) {
	case 0:
		num := protowire.Number(1 + z.intn(40))
		switch wt := protowire.Type(z.intn(6)); wt {
		case protowire.VarintType:
			b = protowire.AppendVarint(protowire.AppendTag(b, num, wt), z.u64())
		case protowire.Fixed32Type:
			b = protowire.AppendFixed32(protowire.AppendTag(b, num, wt), uint32(z.u64()))
		case protowire.Fixed64Type:
			b = protowire.AppendFixed64(protowire.AppendTag(b, num, wt), z.u64())
		case protowire.BytesType:
			raw := make([]byte, z.intn(8))
			for i := range raw {
				raw[i] = z.byte()
			}
			b = protowire.AppendBytes(protowire.AppendTag(b, num, wt), raw)
		default:
			b = protowire.AppendTag(b, num, wt)
		}
	case 1:
		for range z.intn(6) {
			b = append(b, z.byte())
		}
	case 2:
		if len(b) > 0 {
			i := z.intn(len(b))
			b[i] ^= 1 << z.intn(8)
		}
	case 3:
		if len(b) > 0 {
			b = b[:z.intn(len(b))]
		}
	case 4:
		if _, _, n := protowire.ConsumeField(b); n > 0 {
			b = append(b, b[:n]...)
		}
	}
	return b
}
