package wampv1

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Decode parses one frame. It accepts every frame type of the table in the
// package documentation, in both directions, and never panics, whatever
// data holds.
//
// The json.RawMessage fields of the result (Call.Args, results, events,
// error details) are sub-slices of data, capped so that appending to them
// cannot overwrite it: the caller must not modify data while the message is
// in use. Strings are copied.
//
// Errors match [ErrNotArray], [ErrUnknownType] (as [*UnknownTypeError]) or
// [ErrMalformed] (as [*FrameError]); see "Decoding" in the package
// documentation for which is which.
func Decode(data []byte) (Message, error) {
	var buf [8]span
	elems, sh, err := splitFrame(data, buf[:0])
	if err != nil {
		return nil, err
	}
	id, err := typeID(data, elems[0])
	if err != nil {
		return nil, err
	}
	f := frame{data: data, t: Type(id)}
	if sh.n > len(elems) && f.t.known() {
		return nil, f.tooLong(elems, sh.n)
	}
	if sh.depth > MaxNesting && f.t.fromClient() {
		return nil, f.tooDeep(elems)
	}
	switch f.t {
	case TypeWelcome:
		return f.welcome(elems)
	case TypePrefix:
		return f.prefix(elems)
	case TypeCall:
		return f.call(elems)
	case TypeCallResult:
		return f.callResult(elems)
	case TypeCallError:
		return f.callError(elems)
	case TypeSubscribe:
		return f.subscribe(elems)
	case TypeUnsubscribe:
		return f.unsubscribe(elems)
	case TypePublish:
		return f.publish(elems)
	case TypeEvent:
		return f.event(elems)
	case TypeCallProgressResult:
		return f.callProgressResult(elems)
	case TypeCallCancel:
		return f.callCancel(elems)
	}
	return nil, &UnknownTypeError{Type: id}
}

// typeID reads element 0, which must be an integer. One beyond the range
// of int is an unknown type, as any other integer without a frame type.
func typeID(data []byte, s span) (int, error) {
	text := data[s.start:s.end]
	if c := text[0]; c != '-' && !isDigit(c) {
		return 0, fmt.Errorf("%w: element 0 (type id): want an integer, got %s", ErrNotArray, kindName(c))
	}
	n, whole, fits := parseInteger(text)
	switch {
	case !whole:
		return 0, fmt.Errorf("%w: element 0 (type id): want an integer, got %s", ErrNotArray, clip(text))
	case !fits && text[0] == '-':
		return 0, &UnknownTypeError{Type: math.MinInt, text: clip(text)}
	case !fits:
		return 0, &UnknownTypeError{Type: math.MaxInt, text: clip(text)}
	}
	return n, nil
}

// parseInt reads a validated JSON number whose value is an integer that
// fits an int (see parseInteger).
func parseInt(text []byte) (int, bool) {
	n, whole, fits := parseInteger(text)
	return n, whole && fits
}

// parseInteger reads a validated JSON number and reports whether its value
// is an integer, whole, and whether that fits an int, fits, and if so
// returns it. JSON has a single number type, so 2, 2.0, 20e-1 and 0.2E1 are
// all the integer 2. The test is exact, on the decimal digits, not on a
// float64 approximation: 2.0000000000000000001 is not an integer, and
// 1e400 is one that does not fit.
func parseInteger(text []byte) (n int, whole, fits bool) {
	neg := text[0] == '-'
	if neg {
		text = text[1:]
	}
	// The digits of the integer and fraction parts, read as one sequence d,
	// and the exponent: the value is d * 10^scale.
	i := 0
	for i < len(text) && isDigit(text[i]) {
		i++
	}
	intPart, frac := text[:i], text[i:i]
	if i < len(text) && text[i] == '.' {
		j := i + 1
		for j < len(text) && isDigit(text[j]) {
			j++
		}
		frac, i = text[i+1:j], j
	}
	exp := 0
	if i < len(text) { // 'e' or 'E'
		i++
		expNeg := text[i] == '-'
		if text[i] == '+' || text[i] == '-' {
			i++
		}
		// Beyond this bound the exponent alone decides the outcome, as no
		// run of zeros in text can make up for it.
		limit := len(text) + 20
		for ; i < len(text); i++ {
			if exp <= limit {
				exp = exp*10 + int(text[i]-'0')
			}
		}
		if expNeg {
			exp = -exp
		}
	}
	digit := func(k int) byte {
		if k < len(intPart) {
			return intPart[k]
		}
		return frac[k-len(intPart)]
	}
	first, end, scale := 0, len(intPart)+len(frac), exp-len(frac)
	for end > first && digit(end-1) == '0' {
		end--
		scale++
	}
	for first < end && digit(first) == '0' {
		first++
	}
	if first == end {
		return 0, true, true // zero, whatever the exponent
	}
	if scale < 0 {
		return 0, false, false // a fraction is left
	}
	if end-first+scale > 19 {
		return 0, true, false // too many digits for an int
	}
	var u uint64 // at most 19 digits: no overflow
	for k := first; k < end; k++ {
		u = u*10 + uint64(digit(k)-'0')
	}
	for range scale {
		u *= 10
	}
	switch {
	case !neg && u <= math.MaxInt:
		return int(u), true, true
	case neg && u <= -math.MinInt:
		return -int(u), true, true
	}
	return 0, true, false
}

// clip shortens what an error message echoes of a client's frame.
func clip(b []byte) string {
	const limit = 32
	if len(b) > limit {
		return string(b[:limit]) + "..."
	}
	return string(b)
}

// frame is a validated array being decoded as a frame of a known type.
// Its element spans are passed to its methods as el instead of being a
// field: escape analysis does not tell fields apart, and data and callID
// end up in the result, which would move the caller's span buffer to the
// heap along with them.
type frame struct {
	data      []byte
	t         Type
	callID    string // for FrameError, once read
	hasCallID bool   // callID was read: element 1 is a string
}

// tooLong is the error of a frame of a known type with n elements, more
// than splitFrame keeps (elems): a CALL has too many arguments, and no
// other frame has that many elements.
func (f *frame) tooLong(elems []span, n int) error {
	if f.t != TypeCall {
		return f.fail("", fmt.Sprintf("%d elements, far too many", n))
	}
	if err := f.readCallID(elems); err != nil {
		return err
	}
	return f.fail("", fmt.Sprintf("%d arguments: the limit is %d; send the request as one JSON object", n-3, MaxArgs))
}

// tooDeep is the error of a frame a client sends whose arrays and objects
// nest deeper than MaxNesting: for a CALL, one that names the call.
func (f *frame) tooDeep(elems []span) error {
	if f.t == TypeCall {
		if err := f.readCallID(elems); err != nil {
			return err
		}
	}
	return f.fail("", fmt.Sprintf("arrays and objects nested deeper than %d", MaxNesting))
}

// fail returns a FrameError for field (empty: the frame as a whole).
func (f *frame) fail(field, reason string) *FrameError {
	return &FrameError{Type: f.t, CallID: f.callID, HasCallID: f.hasCallID, Field: field, Reason: reason}
}

// arity checks that the frame has lo..hi elements (type id included);
// fields names the elements after the type id, for "missing" errors.
func (f *frame) arity(el []span, lo, hi int, fields ...string) error {
	n := len(el)
	switch {
	case n < lo:
		return f.fail(fields[n-1], "missing")
	case n > hi && lo == hi:
		return f.fail("", fmt.Sprintf("want %d elements, got %d", hi, n))
	case n > hi && hi == lo+1:
		return f.fail("", fmt.Sprintf("want %d or %d elements, got %d", lo, hi, n))
	case n > hi:
		return f.fail("", fmt.Sprintf("want %d to %d elements, got %d", lo, hi, n))
	}
	return nil
}

// readCallID reads element 1, the callId of a CALL or CALL_CANCEL, before
// any other check, so that every later FrameError names the call. Its error,
// for a callId that is not a string, is for the caller to return after the
// arity check.
func (f *frame) readCallID(el []span) error {
	if len(el) < 2 {
		return nil
	}
	id, err := f.str(el, 1, "callId")
	f.callID, f.hasCallID = id, err == nil
	return err
}

// str reads element i, which must be a string.
func (f *frame) str(el []span, i int, field string) (string, error) {
	s := el[i]
	if c := f.data[s.start]; c != '"' {
		return "", f.fail(field, "want a string, got "+kindName(c))
	}
	return unquote(f.data, s), nil
}

// raw returns element i as it was sent.
func (f *frame) raw(el []span, i int) json.RawMessage {
	s := el[i]
	return f.data[s.start:s.end:s.end]
}

// MaxSessionIDs is the most session ids an exclude or eligible list of a
// PUBLISH may hold: a frame of short ids would otherwise decode to
// hundreds of thousands of strings.
const MaxSessionIDs = 10000

// strList reads element i, which must be an array of strings.
func (f *frame) strList(el []span, i int, field string) ([]string, error) {
	s := el[i]
	data := f.data[:s.end]
	if c := data[s.start]; c != '[' {
		return nil, f.fail(field, "want an array of session ids, got "+kindName(c))
	}
	list := []string{}
	j := skipSpace(data, s.start+1)
	if data[j] == ']' {
		return list, nil
	}
	for {
		if data[j] != '"' {
			return nil, f.fail(field+"["+strconv.Itoa(len(list))+"]", "want a string, got "+kindName(data[j]))
		}
		if len(list) == MaxSessionIDs {
			return nil, f.fail(field, fmt.Sprintf("more than %d session ids", MaxSessionIDs))
		}
		// The frame is valid JSON, so the string and what follows are too.
		end, escaped, _ := scanString(data, j)
		list = append(list, unquote(data, span{start: j, end: end, escaped: escaped}))
		j = skipSpace(data, end)
		if data[j] == ']' {
			return list, nil
		}
		j = skipSpace(data, j+1) // past ','
	}
}

func (f *frame) welcome(el []span) (Message, error) {
	if err := f.arity(el, 4, 4, "sessionId", "protocolVersion", "serverIdent"); err != nil {
		return nil, err
	}
	m := &Welcome{}
	var err error
	if m.SessionID, err = f.str(el, 1, "sessionId"); err != nil {
		return nil, err
	}
	v := el[2]
	if c := f.data[v.start]; c != '-' && !isDigit(c) {
		return nil, f.fail("protocolVersion", "want an integer, got "+kindName(c))
	}
	var ok bool
	if m.ProtocolVersion, ok = parseInt(f.data[v.start:v.end]); !ok {
		return nil, f.fail("protocolVersion", "want an integer, got "+clip(f.data[v.start:v.end]))
	}
	if m.ServerIdent, err = f.str(el, 3, "serverIdent"); err != nil {
		return nil, err
	}
	return m, nil
}

func (f *frame) prefix(el []span) (Message, error) {
	if err := f.arity(el, 3, 3, "prefix", "uri"); err != nil {
		return nil, err
	}
	m := &Prefix{}
	var err error
	if m.Prefix, err = f.str(el, 1, "prefix"); err != nil {
		return nil, err
	}
	if m.URI, err = f.str(el, 2, "uri"); err != nil {
		return nil, err
	}
	return m, nil
}

// call decodes a CALL: every element after procURI is an argument, so a
// CALL has no upper arity.
func (f *frame) call(el []span) (Message, error) {
	idErr := f.readCallID(el)
	if err := f.arity(el, 3, math.MaxInt, "callId", "procURI"); err != nil {
		return nil, err
	}
	if idErr != nil {
		return nil, idErr
	}
	m := &Call{CallID: f.callID}
	var err error
	if m.ProcURI, err = f.str(el, 2, "procURI"); err != nil {
		return nil, err
	}
	if n := len(el) - 3; n > 0 {
		m.Args = make([]json.RawMessage, n)
		for i := range m.Args {
			m.Args[i] = f.raw(el, 3+i)
		}
	}
	return m, nil
}

func (f *frame) callResult(el []span) (Message, error) {
	if err := f.arity(el, 3, 3, "callId", "result"); err != nil {
		return nil, err
	}
	id, err := f.str(el, 1, "callId")
	if err != nil {
		return nil, err
	}
	return &CallResult{CallID: id, Result: f.raw(el, 2)}, nil
}

func (f *frame) callProgressResult(el []span) (Message, error) {
	if err := f.arity(el, 3, 3, "callId", "result"); err != nil {
		return nil, err
	}
	id, err := f.str(el, 1, "callId")
	if err != nil {
		return nil, err
	}
	return &CallProgressResult{CallID: id, Result: f.raw(el, 2)}, nil
}

func (f *frame) callError(el []span) (Message, error) {
	if err := f.arity(el, 4, 5, "callId", "errorURI", "errorDesc", "errorDetails"); err != nil {
		return nil, err
	}
	m := &CallError{}
	var err error
	if m.CallID, err = f.str(el, 1, "callId"); err != nil {
		return nil, err
	}
	if m.ErrorURI, err = f.str(el, 2, "errorURI"); err != nil {
		return nil, err
	}
	if m.ErrorDesc, err = f.str(el, 3, "errorDesc"); err != nil {
		return nil, err
	}
	if len(el) == 5 {
		m.ErrorDetails = f.raw(el, 4)
	}
	return m, nil
}

func (f *frame) subscribe(el []span) (Message, error) {
	if err := f.arity(el, 2, 2, "topicURI"); err != nil {
		return nil, err
	}
	topic, err := f.str(el, 1, "topicURI")
	if err != nil {
		return nil, err
	}
	return &Subscribe{TopicURI: topic}, nil
}

func (f *frame) unsubscribe(el []span) (Message, error) {
	if err := f.arity(el, 2, 2, "topicURI"); err != nil {
		return nil, err
	}
	topic, err := f.str(el, 1, "topicURI")
	if err != nil {
		return nil, err
	}
	return &Unsubscribe{TopicURI: topic}, nil
}

func (f *frame) publish(el []span) (Message, error) {
	if err := f.arity(el, 3, 5, "topicURI", "event"); err != nil {
		return nil, err
	}
	m := &Publish{}
	var err error
	if m.TopicURI, err = f.str(el, 1, "topicURI"); err != nil {
		return nil, err
	}
	m.Event = f.raw(el, 2)
	switch len(el) {
	case 4:
		switch c := f.data[el[3].start]; c {
		case 't', 'f':
			excludeMe := c == 't'
			m.ExcludeMe = &excludeMe
		case '[':
			if m.Exclude, err = f.strList(el, 3, "exclude"); err != nil {
				return nil, err
			}
		default:
			return nil, f.fail("excludeMe", "want a boolean or an array of session ids (exclude), got "+kindName(c))
		}
	case 5:
		if m.Exclude, err = f.strList(el, 3, "exclude"); err != nil {
			return nil, err
		}
		if m.Eligible, err = f.strList(el, 4, "eligible"); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (f *frame) event(el []span) (Message, error) {
	if err := f.arity(el, 3, 3, "topicURI", "event"); err != nil {
		return nil, err
	}
	topic, err := f.str(el, 1, "topicURI")
	if err != nil {
		return nil, err
	}
	return &Event{TopicURI: topic, Event: f.raw(el, 2)}, nil
}

func (f *frame) callCancel(el []span) (Message, error) {
	idErr := f.readCallID(el)
	if err := f.arity(el, 2, 2, "callId"); err != nil {
		return nil, err
	}
	if idErr != nil {
		return nil, idErr
	}
	return &CallCancel{CallID: f.callID}, nil
}

// unquote returns the value of the validated JSON string at s. Like
// encoding/json, it turns a \u escape of an unpaired UTF-16 surrogate into
// U+FFFD.
func unquote(data []byte, s span) string {
	body := data[s.start+1 : s.end-1]
	if !s.escaped {
		return string(body)
	}
	out := make([]byte, 0, len(body))
	for i := 0; i < len(body); {
		c := body[i]
		if c != '\\' {
			out = append(out, c)
			i++
			continue
		}
		switch body[i+1] {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r := hex4(body[i+2:])
			i += 6
			if utf16.IsSurrogate(r) {
				if i+6 <= len(body) && body[i] == '\\' && body[i+1] == 'u' {
					if pair := utf16.DecodeRune(r, hex4(body[i+2:])); pair != unicode.ReplacementChar {
						r = pair
						i += 6
						out = utf8.AppendRune(out, r)
						continue
					}
				}
				r = unicode.ReplacementChar
			}
			out = utf8.AppendRune(out, r)
			continue
		default: // '"', '\\', '/'
			out = append(out, body[i+1])
		}
		i += 2
	}
	return string(out)
}

// hex4 reads the four validated hex digits at the start of b.
func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case c <= '9':
			c -= '0'
		case c >= 'a':
			c -= 'a' - 10
		default:
			c -= 'A' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}
