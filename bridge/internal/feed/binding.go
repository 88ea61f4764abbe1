package feed

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync/atomic"

	"golang.org/x/time/rate"
)

// ErrInvalidBinding is wrapped by every error about a malformed binding,
// from [ParseBinding] and [New].
var ErrInvalidBinding = errors.New("feed: invalid binding")

// bindingForm is the flag form shown in errors about it.
const bindingForm = `want "TOPIC PROCEDURE [JSON]", e.g. "ticker.{symbol} demo.v1.Ticker.Watch {\"depth\":1}"`

// Binding feeds a topic from a gRPC server-streaming method.
//
// Topic is either exact ("clock.ticks") or a pattern with exactly one
// placeholder "{field}" ("ticker.{symbol}") matching any non-empty text in
// its place. For a pattern, the matched text becomes the string value of the
// top-level request field named by the placeholder, merged into Request
// (overriding a value Request gives that field): "ticker.AAPL" and
// "ticker.MSFT" share the binding but each gets its own stream.
type Binding struct {
	Topic     string
	Procedure string
	// Request is the JSON request, passed as the call's single argument;
	// empty means a call without arguments (an empty request). For a
	// pattern topic it must be a JSON object or empty.
	Request json.RawMessage
}

// ParseBinding parses the flag form `TOPIC PROCEDURE [JSON]`: the topic and
// the procedure end at the first and second run of spaces (or tabs), and the
// rest, if any, is the request, which must be valid JSON.
func ParseBinding(s string) (Binding, error) {
	rest := strings.TrimSpace(s)
	topic, rest := cutField(rest)
	procedure, rest := cutField(rest)
	var b Binding
	switch {
	case topic == "":
		return b, fmt.Errorf("%w %q: missing topic; %s", ErrInvalidBinding, s, bindingForm)
	case procedure == "":
		return b, fmt.Errorf("%w %q: missing procedure after topic %q; %s", ErrInvalidBinding, s, topic, bindingForm)
	}
	b = Binding{Topic: topic, Procedure: procedure}
	if rest != "" {
		if !json.Valid([]byte(rest)) {
			return Binding{}, fmt.Errorf("%w %q: request %q is not valid JSON; %s", ErrInvalidBinding, s, rest, bindingForm)
		}
		b.Request = json.RawMessage(rest)
	}
	if _, err := compile(b); err != nil {
		return Binding{}, err
	}
	return b, nil
}

// cutField returns s up to its first space or tab, and the rest after the
// run of blanks that follows.
func cutField(s string) (field, rest string) {
	i := strings.IndexAny(s, " \t")
	if i < 0 {
		return s, ""
	}
	return s[:i], strings.TrimLeft(s[i:], " \t")
}

// rule is a validated binding: an exact topic, or a pattern split around its
// placeholder.
type rule struct {
	Binding
	// restarts lets the lines of its streams' restarts through: the first
	// restartsLogged, then one every restartsInterval (see Manager.feed).
	restarts       rate.Sometimes
	logged         atomic.Int64
	pattern        bool
	prefix, suffix string // the pattern's text before and after the placeholder
	field          string // the placeholder's field name
	// fields is Request decoded, for a pattern.
	fields map[string]json.RawMessage
	// unfit: the binding did not fit the schema last checked. Only
	// Manager.CheckSchema, whose calls do not overlap, uses it.
	unfit bool
}

// compile validates b and splits a pattern topic.
func compile(b Binding) (*rule, error) {
	errorf := func(format string, a ...any) error {
		return fmt.Errorf("%w: topic %q: %s", ErrInvalidBinding, b.Topic, fmt.Sprintf(format, a...))
	}
	if b.Topic == "" {
		return nil, fmt.Errorf("%w: empty topic (procedure %q)", ErrInvalidBinding, b.Procedure)
	}
	if b.Procedure == "" {
		return nil, errorf("empty procedure")
	}
	req := bytes.TrimSpace(b.Request)
	if len(req) > 0 && !json.Valid(req) {
		return nil, errorf("request %q is not valid JSON", b.Request)
	}
	r := &rule{Binding: b, restarts: rate.Sometimes{First: restartsLogged, Interval: restartsInterval}}
	r.Request = req
	opens, closes := strings.Count(b.Topic, "{"), strings.Count(b.Topic, "}")
	switch {
	case opens == 0 && closes == 0:
		return r, nil
	case opens > 1 || closes > 1:
		return nil, errorf("more than one placeholder: a pattern has exactly one {field}")
	case opens != closes:
		return nil, errorf("unbalanced brace: a placeholder is written {field}")
	}
	i, j := strings.Index(b.Topic, "{"), strings.Index(b.Topic, "}")
	if j < i {
		return nil, errorf("unbalanced brace: a placeholder is written {field}")
	}
	r.pattern = true
	r.prefix, r.field, r.suffix = b.Topic[:i], b.Topic[i+1:j], b.Topic[j+1:]
	if r.field == "" {
		return nil, errorf("empty placeholder {}: name the request field, e.g. {symbol}")
	}
	r.fields = map[string]json.RawMessage{}
	if len(req) > 0 {
		if req[0] != '{' {
			return nil, errorf("request %s is not a JSON object: the placeholder {%s} sets a field of it", req, r.field)
		}
		if err := json.Unmarshal(req, &r.fields); err != nil {
			return nil, errorf("request %s: %v", req, err)
		}
	}
	return r, nil
}

// match returns the text the pattern's placeholder matches in topic.
func (r *rule) match(topic string) (string, bool) {
	if len(topic) <= len(r.prefix)+len(r.suffix) ||
		!strings.HasPrefix(topic, r.prefix) || !strings.HasSuffix(topic, r.suffix) {
		return "", false
	}
	return topic[len(r.prefix) : len(topic)-len(r.suffix)], true
}

// args returns the call's arguments for the concrete topic.
func (r *rule) args(topic string) ([]json.RawMessage, error) {
	if !r.pattern {
		if len(r.Request) == 0 {
			return nil, nil
		}
		return []json.RawMessage{r.Request}, nil
	}
	value, _ := r.match(topic)
	fields := make(map[string]json.RawMessage, len(r.fields)+1)
	maps.Copy(fields, r.fields)
	v, err := json.Marshal(value)
	if err != nil {
		return nil, fmt.Errorf("feed: topic %q: field %q: %w", topic, r.field, err)
	}
	fields[r.field] = v
	req, err := json.Marshal(fields)
	if err != nil {
		return nil, fmt.Errorf("feed: topic %q: request: %w", topic, err)
	}
	return []json.RawMessage{req}, nil
}
