package main

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/wampbridge/grpcwamp/bridge"
)

// The flag.Value types of serve. Each one checks its value in Set, so that a
// bad value is refused the same way whichever source (flag, environment,
// file) gives it, and prints in String what Set accepts back, so that
// -print-config round-trips. String works on the zero value too: the flag
// package calls it on one to tell whether a default is worth printing.

// listFlag is a repeatable setting. add checks and applies one value.
type listFlag struct {
	vals  []string
	set   bool
	dflt  []string // what -print-config shows while the setting is unset
	add   func(string) error
	clear func() // applies an empty list (a file's `key: []`); nil: nothing to do
}

func (l *listFlag) String() string {
	if l == nil {
		return ""
	}
	return strings.Join(l.vals, ",")
}

func (l *listFlag) Set(v string) error {
	if err := l.add(v); err != nil {
		return err
	}
	l.set = true
	if v != "" {
		l.vals = append(l.vals, v)
	}
	return nil
}

// setEmpty applies an empty list.
func (l *listFlag) setEmpty() {
	l.set = true
	if l.clear != nil {
		l.clear()
	}
}

// effective returns the values in effect.
func (l *listFlag) effective() []string {
	if !l.set {
		return l.dflt
	}
	return l.vals
}

// intFlag is an integer of at least min.
type intFlag struct {
	p    *int
	min  int
	hint string // what min means, e.g. "0 means unlimited"
}

func (f intFlag) String() string {
	if f.p == nil {
		return "0"
	}
	return strconv.Itoa(*f.p)
}

func (f intFlag) Set(s string) error {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, strconv.IntSize)
	if errors.Is(err, strconv.ErrRange) {
		return fmt.Errorf("%s is out of range", strings.TrimSpace(s))
	}
	if err != nil {
		return fmt.Errorf("want an integer of at least %d", f.min)
	}
	if int(n) < f.min {
		return f.tooSmall(strconv.FormatInt(n, 10))
	}
	*f.p = int(n)
	return nil
}

// cappedIntFlag is an intFlag with a largest value too, where a larger one
// would exhaust the process: why says what it costs.
type cappedIntFlag struct {
	intFlag
	max int
	why string
}

func (f cappedIntFlag) Set(s string) error {
	var n int
	if err := (intFlag{&n, f.min, f.hint}).Set(s); err != nil {
		return err
	}
	if n > f.max {
		return fmt.Errorf("%d is more than %d: %s", n, f.max, f.why)
	}
	*f.p = n
	return nil
}

func (f intFlag) tooSmall(v string) error {
	if f.hint != "" {
		return fmt.Errorf("%s is less than %d; %s", v, f.min, f.hint)
	}
	return fmt.Errorf("%s is less than %d", v, f.min)
}

// sizeFlag is a size in bytes of at least min: an integer, or one with the
// suffix KiB, MiB or GiB (case-insensitive).
type sizeFlag struct {
	p    *int64
	min  int64
	hint string
}

func (f sizeFlag) String() string {
	if f.p == nil {
		return "0"
	}
	return formatSize(*f.p)
}

func (f sizeFlag) Set(s string) error {
	n, err := parseSize(s)
	if err != nil {
		return err
	}
	if n < f.min {
		if f.hint != "" {
			return fmt.Errorf("%s is less than %d bytes; %s", s, f.min, f.hint)
		}
		return fmt.Errorf("%s is less than %d bytes", s, f.min)
	}
	*f.p = n
	return nil
}

// windowFlag is -upstream-window: 0, or a size from 64 KiB (gRPC ignores
// smaller windows) to 512 MiB (the connection's window, 4 times it, must
// fit in HTTP/2's 31 bits).
type windowFlag struct{ p *int64 }

func (f windowFlag) String() string { return sizeFlag{p: f.p}.String() }

func (f windowFlag) Set(s string) error {
	n, err := parseSize(s)
	switch {
	case err != nil:
		return err
	case n != 0 && n < 64<<10:
		return fmt.Errorf("%s is less than 64KiB, the smallest window gRPC takes; 0 for gRPC's own windows", s)
	case n > 512<<20:
		return fmt.Errorf("%s is more than 512MiB: the connection's window, 4 times it, would not fit in HTTP/2's 2GiB", s)
	}
	*f.p = n
	return nil
}

var sizeUnits = []struct {
	suffix string
	factor int64
}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}}

// parseSize parses a byte count: "65536", "64KiB", "16MiB", "1GiB". The
// suffixes are binary and case-insensitive; no others are accepted, so
// that "16MB" cannot mean two different things.
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	factor := int64(1)
	for _, u := range sizeUnits {
		if len(t) > len(u.suffix) && strings.EqualFold(t[len(t)-len(u.suffix):], u.suffix) {
			t, factor = strings.TrimSpace(t[:len(t)-len(u.suffix)]), u.factor
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("want a size in bytes: an integer such as 65536, or one with KiB, MiB or GiB such as 64KiB")
	}
	if n > math.MaxInt64/factor {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return n * factor, nil
}

// formatSize formats n as parseSize reads it, with the largest suffix that
// divides it.
func formatSize(n int64) string {
	for _, u := range sizeUnits {
		if n > 0 && n%u.factor == 0 {
			return strconv.FormatInt(n/u.factor, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

// durationFlag is a duration of at least min.
type durationFlag struct {
	p    *time.Duration
	min  time.Duration
	hint string
}

func (f durationFlag) String() string {
	if f.p == nil {
		return "0s"
	}
	return f.p.String()
}

func (f durationFlag) Set(s string) error {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return errors.New("want a duration such as 500ms, 10s or 5m")
	}
	if d < f.min {
		if f.hint != "" {
			return fmt.Errorf("%v is less than %v; %s", d, f.min, f.hint)
		}
		return fmt.Errorf("%v is less than %v", d, f.min)
	}
	*f.p = d
	return nil
}

// choiceFlag is one of a few words.
type choiceFlag struct {
	p       *string
	choices []string
}

func (f choiceFlag) String() string {
	if f.p == nil {
		return ""
	}
	return *f.p
}

func (f choiceFlag) Set(s string) error {
	for _, c := range f.choices {
		if strings.EqualFold(s, c) {
			*f.p = c
			return nil
		}
	}
	return fmt.Errorf("want %s", strings.Join(f.choices, " or "))
}

// streamFlag is the -stream mode.
type streamFlag struct{ p *bridge.StreamMode }

func (f streamFlag) String() string {
	if f.p == nil {
		return ""
	}
	return f.p.String()
}

func (f streamFlag) Set(s string) error {
	m, err := bridge.ParseStreamMode(s)
	if err != nil {
		// Its error lists the modes; the package's prefix says nothing
		// on a command line.
		return errors.New(strings.TrimPrefix(err.Error(), "bridge: "))
	}
	*f.p = m
	return nil
}

// stringFlag is a string that check accepts.
type stringFlag struct {
	p     *string
	check func(string) error
}

func (f stringFlag) String() string {
	if f.p == nil {
		return ""
	}
	return *f.p
}

func (f stringFlag) Set(s string) error {
	if err := f.check(s); err != nil {
		return err
	}
	*f.p = s
	return nil
}

// ratioFlag is a fraction from 0 to 1.
type ratioFlag struct{ p *float64 }

func (f ratioFlag) String() string {
	if f.p == nil {
		return "0"
	}
	return strconv.FormatFloat(*f.p, 'g', -1, 64)
}

func (f ratioFlag) Set(s string) error {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(v) || v < 0 || v > 1 {
		return errors.New("want a fraction from 0 to 1, such as 0.1")
	}
	*f.p = v
	return nil
}

// levelFlag is -log-level: a slog level by name, in lower case as the
// README writes it.
type levelFlag struct{ p *slog.Level }

func (f levelFlag) String() string {
	if f.p == nil {
		return "" // the zero flag: -h then shows the default
	}
	return strings.ToLower(f.p.String())
}

func (f levelFlag) Set(s string) error {
	var name string
	if (choiceFlag{&name, []string{"debug", "info", "warn", "error"}}).Set(strings.TrimSpace(s)) != nil {
		return fmt.Errorf("%q: want debug, info, warn or error", s)
	}
	return f.p.UnmarshalText([]byte(name))
}
