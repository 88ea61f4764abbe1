package wampv1_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/wampbridge/grpcwamp/bridge/wampv1"
)

var rawMessageType = reflect.TypeFor[json.RawMessage]()

// describe renders a message one field per line, keeping raw JSON exactly
// as it is held and telling nil apart from empty, for golden files and
// failure messages.
func describe(m wampv1.Message) string {
	if m == nil {
		return "<nil message>\n"
	}
	v := reflect.ValueOf(m)
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return fmt.Sprintf("%T(nil)\n", m)
		}
		v = v.Elem()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n", m.Type())
	for i := range v.NumField() {
		fmt.Fprintf(&b, "%s: %s\n", v.Type().Field(i).Name, describeValue(v.Field(i)))
	}
	return b.String()
}

func describeValue(v reflect.Value) string {
	if v.Type() == rawMessageType {
		if v.IsNil() {
			return "nil"
		}
		return string(v.Bytes())
	}
	switch v.Kind() {
	case reflect.String:
		return strconv.Quote(v.String())
	case reflect.Int:
		return strconv.FormatInt(v.Int(), 10)
	case reflect.Bool:
		return strconv.FormatBool(v.Bool())
	case reflect.Pointer:
		if v.IsNil() {
			return "nil"
		}
		return "&" + describeValue(v.Elem())
	case reflect.Slice:
		if v.IsNil() {
			return "nil"
		}
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = describeValue(v.Index(i))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return fmt.Sprintf("%v", v.Interface())
}

// describeError renders a Decode error with the sentinel it matches and the
// fields of its typed form.
func describeError(err error) string {
	var b strings.Builder
	fmt.Fprintf(&b, "error: %s\n", err)
	for _, s := range []struct {
		name string
		err  error
	}{{"ErrNotArray", wampv1.ErrNotArray}, {"ErrUnknownType", wampv1.ErrUnknownType}, {"ErrMalformed", wampv1.ErrMalformed}} {
		if errors.Is(err, s.err) {
			fmt.Fprintf(&b, "is: %s\n", s.name)
		}
	}
	var fe *wampv1.FrameError
	if errors.As(err, &fe) {
		fmt.Fprintf(&b, "FrameError: Type=%s CallID=%q Field=%q Reason=%q\n", fe.Type, fe.CallID, fe.Field, fe.Reason)
	}
	var ue *wampv1.UnknownTypeError
	if errors.As(err, &ue) {
		fmt.Fprintf(&b, "UnknownTypeError: Type=%d\n", ue.Type)
	}
	return b.String()
}

// jsonEqual compares two JSON texts as values.
func jsonEqual(a, b []byte) (bool, error) {
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		return false, fmt.Errorf("%q: %w", a, err)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		return false, fmt.Errorf("%q: %w", b, err)
	}
	return reflect.DeepEqual(va, vb), nil
}

func ptr[T any](v T) *T { return &v }

func raws(ss ...string) []json.RawMessage {
	out := make([]json.RawMessage, len(ss))
	for i, s := range ss {
		out[i] = json.RawMessage(s)
	}
	return out
}
