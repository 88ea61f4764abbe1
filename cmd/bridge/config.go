package main

// The settings of serve come from four sources, in this order of
// precedence, per setting: the command line, the environment (BRIDGE_ and
// the flag name in upper case with _ for -), the YAML file of -config (or
// $BRIDGE_CONFIG; its keys are the flag names), and the defaults. A
// setting is taken whole from the highest source that gives it: a
// repeatable setting given on the command line replaces the list of the
// environment or the file, it does not add to it. Every source goes
// through the same flag.Value.Set, so a value is checked the same way
// wherever it comes from; an error names the source (file:line or the
// variable) and what is allowed.

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

const (
	// envPrefix starts the environment variable of every setting.
	envPrefix = "BRIDGE_"
	// configEnv is the variable of -config.
	configEnv = "BRIDGE_CONFIG"
	// redacted stands for a secret in the output of -print-config.
	redacted = "<redacted>"
)

// secretSettings are never printed or logged: -print-config shows
// redacted instead, and errors do not quote their values.
var secretSettings = map[string]bool{"bearer-token": true}

// notInFile are the flags that are no settings of the file: -config names
// the file, and -print-config is an action of the command line only.
var notInFile = map[string]bool{"config": true, "print-config": true}

// envSeparators are the separators of repeatable settings in the
// environment, when not a comma: feeds hold JSON, which holds commas.
var envSeparators = map[string]string{"feed": "\n"}

// envName returns the environment variable of the flag name, or "" when
// the flag has none.
func envName(name string) string {
	switch name {
	case "print-config":
		return ""
	case "bearer-token":
		return bearerTokensEnv // plural: it predates the others and holds a list
	}
	return envPrefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// kubernetesEnvRE matches the variables Kubernetes defines for a Service
// (service links): a Service named bridge or bridge-... gives
// BRIDGE_SERVICE_HOST, BRIDGE_PORT_8080_TCP_ADDR and so on. They are no
// settings, and must not stop the bridge.
var kubernetesEnvRE = regexp.MustCompile(`^BRIDGE_(?:[A-Z0-9_]+_)?(?:SERVICE_HOST|SERVICE_PORT(?:_[A-Z0-9_]+)?|PORT(?:_[0-9]+_(?:TCP|UDP|SCTP)(?:_(?:PROTO|PORT|ADDR))?)?)$`)

// source is where a setting's value comes from.
type source struct {
	kind  string // "default", "file", "env" or "flag"
	where string // file:line for "file", the variable for "env"
}

func (s source) String() string {
	if s.where == "" {
		return s.kind
	}
	return s.kind + " " + s.where
}

// setting is a setting's effective value, as -print-config prints it.
type setting struct {
	name   string
	values []string // one for a scalar setting; redacted for a secret
	list   bool
	str    bool // a string: quoted in YAML when it would read as another type
	from   source
}

// envValue is a setting's environment variable.
type envValue struct {
	name, value string
}

// loadServeConfig parses the settings of serve from args (the command
// line after "serve"), environ (os.Environ) and the -config file. It
// reports errors on stderr itself, each followed by a pointer to the usage
// (settingsHint), and the usage for -h, returning flag.ErrHelp.
// parseFlags parses args with fs. On -h it prints usage; on a mistake,
// which the flag package has printed, it adds the flag a misspelt one most
// likely meant and hint, which says where the flags are listed.
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer, usage func(*flag.FlagSet), hint string) error {
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		usage(fs)
	case err != nil:
		if name, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: -"); ok {
			var names []string
			fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
			if best := closest(strings.TrimPrefix(name, "-"), names); best != "" {
				fmt.Fprintf(stderr, "did you mean -%s?\n", best)
			}
		}
		fmt.Fprintln(stderr, hint)
	}
	return err
}

func loadServeConfig(args, environ []string, stderr io.Writer) (serveConfig, error) {
	// The command line alone, into a throwaway configuration: it reports
	// the flag errors and -h, and tells which settings the command line gives.
	probe := defaultServeConfig()
	pfs := newServeFlagSet(&probe, stderr)
	if err := parseFlags(pfs, args, stderr, serveUsage, settingsHint); err != nil {
		return probe, err
	}
	if pfs.NArg() > 0 {
		err := fmt.Errorf("unexpected argument %q: serve takes only flags (the upstream is -upstream HOST:PORT)", pfs.Arg(0))
		fmt.Fprintf(stderr, "%v\n%s\n", err, settingsHint)
		return probe, err
	}
	onCommandLine := make(map[string]bool)
	pfs.Visit(func(f *flag.Flag) { onCommandLine[f.Name] = true })

	cfg := defaultServeConfig()
	fs := newServeFlagSet(&cfg, io.Discard)
	fail := func(err error) (serveConfig, error) {
		fmt.Fprintf(stderr, "%v\n%s\n", err, settingsHint)
		return cfg, err
	}
	from := make(map[string]source)
	env, err := readEnv(fs, environ)
	if err != nil {
		return fail(err)
	}
	file := probe.configFile
	if ev, ok := env["config"]; ok && !onCommandLine["config"] {
		file = ev.value
	}
	if file != "" {
		overridden := func(name string) bool {
			_, inEnv := env[name]
			return onCommandLine[name] || inEnv
		}
		if err := applyFile(fs, file, overridden, from); err != nil {
			return fail(err)
		}
	}
	for _, name := range sortedKeys(env) {
		if onCommandLine[name] {
			continue
		}
		if err := applyEnv(fs, name, env[name]); err != nil {
			return fail(err)
		}
		from[name] = source{"env", env[name].name}
	}
	// The probe has parsed the command line already: this cannot fail.
	if err := fs.Parse(args); err != nil {
		return fail(err)
	}
	for name := range onCommandLine {
		from[name] = source{kind: "flag"}
	}
	if err := cfg.check(from); err != nil {
		return fail(err)
	}
	_, cfg.procsSet = from["procs"]
	cfg.settings = effectiveSettings(fs, from)
	if !cfg.procsSet {
		keptGOMAXPROCS(cfg.settings, environ)
	}
	return cfg, nil
}

// keptGOMAXPROCS shows in settings the -procs in force when the default
// leaves $GOMAXPROCS of environ to the runtime (see procsToSet): the
// variable's count, which -config then reads as -procs, or 0, the
// runtime's choice, for a variable the runtime ignores (not a number
// above 0). Printing the default 1 instead would make -print-config's
// file force one CPU where its run kept the variable's.
func keptGOMAXPROCS(settings []setting, environ []string) {
	v := ""
	for _, kv := range environ {
		if val, ok := strings.CutPrefix(kv, "GOMAXPROCS="); ok {
			v = val
			break // the first, as os.Getenv and the runtime take it
		}
	}
	if v == "" {
		return
	}
	procs, from := "0", source{"env", "GOMAXPROCS (not a number above 0: the Go runtime's choice; kept, as -procs is not set)"}
	// The runtime's reading (schedinit).
	if n, err := strconv.ParseInt(v, 10, 32); err == nil && n > 0 {
		procs, from = strconv.FormatInt(n, 10), source{"env", "GOMAXPROCS (kept, as -procs is not set)"}
		if n > maxProcs {
			// The file must load: -procs takes no more.
			procs, from = strconv.Itoa(maxProcs), source{"env", fmt.Sprintf("GOMAXPROCS=%d (kept, as -procs is not set; cut to -procs's maximum here)", n)}
		}
	}
	for i := range settings {
		if settings[i].name == "procs" {
			settings[i].values, settings[i].from = []string{procs}, from
		}
	}
}

// readEnv returns the settings' variables of environ by flag name, leaving
// out the empty ones (an empty variable counts as unset). A variable that
// starts with BRIDGE_ and names no setting is an error, unless it is one of
// Kubernetes' service links or the token of bridge call (BRIDGE_CALL_TOKEN),
// which a shell may hold for both commands.
func readEnv(fs *flag.FlagSet, environ []string) (map[string]envValue, error) {
	known := make(map[string]string)
	fs.VisitAll(func(f *flag.Flag) {
		if e := envName(f.Name); e != "" {
			known[e] = f.Name
		}
	})
	env := make(map[string]envValue)
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(k, envPrefix) {
			continue
		}
		name, ok := known[k]
		if !ok {
			if kubernetesEnvRE.MatchString(k) || k == callTokenEnv {
				continue
			}
			return nil, fmt.Errorf("environment variable %s: no setting has this name%s; a setting's variable is BRIDGE_ and its flag name in upper case with _ for - (BRIDGE_MAX_SESSIONS for -max-sessions)",
				k, suggest(k, slices.Collect(maps.Keys(known))))
		}
		if v == "" {
			continue
		}
		env[name] = envValue{k, v}
	}
	return env, nil
}

// applyEnv applies the variable of the setting name.
func applyEnv(fs *flag.FlagSet, name string, ev envValue) error {
	f := fs.Lookup(name)
	vals := []string{ev.value}
	if _, ok := f.Value.(*listFlag); ok {
		sep := envSeparators[name]
		if sep == "" {
			sep = ","
		}
		vals = nil
		for v := range strings.SplitSeq(ev.value, sep) {
			if v = strings.TrimSpace(v); v != "" {
				vals = append(vals, v)
			}
		}
	}
	for _, v := range vals {
		if err := fs.Set(name, v); err != nil {
			return fmt.Errorf("environment variable %s: invalid value %s for -%s: %w", ev.name, quoteValue(name, v), name, valueError(f, err))
		}
	}
	return nil
}

// applyFile applies the settings of the YAML file, except those that
// overridden says a higher source gives. Unknown keys, keys given twice,
// values of the wrong shape and bad values are errors naming file:line.
func applyFile(fs *flag.FlagSet, file string, overridden func(string) bool, from map[string]source) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("config file (-config or %s): %w", configEnv, err)
	}
	var doc, more yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config file %s: %w", file, err)
	}
	switch err := dec.Decode(&more); {
	case err == nil:
		return fmt.Errorf("%s:%d: a second YAML document; want one mapping of settings", file, more.Line)
	case !errors.Is(err, io.EOF):
		return fmt.Errorf("config file %s: %w", file, err)
	}
	if len(doc.Content) == 0 {
		return nil // empty, or only comments
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return fmt.Errorf("%s:%d: want a mapping of settings (name: value), got %s", file, root.Line, kindName(root))
	}
	var keys []string
	fs.VisitAll(func(f *flag.Flag) {
		if !notInFile[f.Name] {
			keys = append(keys, f.Name)
		}
	})
	seen := make(map[string]int)
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		at := fmt.Sprintf("%s:%d", file, k.Line)
		if k.Kind != yaml.ScalarNode {
			return fmt.Errorf("%s: want a setting name as the key, got %s", at, kindName(k))
		}
		name := k.Value
		f := fs.Lookup(name)
		switch {
		case notInFile[name]:
			return fmt.Errorf("%s: key %q is not a setting of the file: -%s is for the command line", at, name, name)
		case f == nil:
			return fmt.Errorf("%s: unknown key %q%s; the keys are the flag names that bridge -h lists, without the dash", at, name, suggest(name, keys))
		}
		if line, dup := seen[name]; dup {
			return fmt.Errorf("%s: key %q given twice (first at line %d)", at, name, line)
		}
		seen[name] = k.Line
		list, isList := f.Value.(*listFlag)
		items, err := nodeItems(v, isList)
		if err != nil {
			return fmt.Errorf("%s: %s: %w", at, name, err)
		}
		if overridden(name) {
			continue
		}
		if isList && len(items) == 0 {
			list.setEmpty()
		}
		for _, it := range items {
			if err := fs.Set(name, it.Value); err != nil {
				return fmt.Errorf("%s:%d: %s: invalid value %s: %w", file, it.Line, name, quoteValue(name, it.Value), valueError(f, err))
			}
		}
		from[name] = source{"file", at}
	}
	return nil
}

// nodeItems returns the scalar values of a setting's YAML value: one for
// a scalar setting; for a repeatable one, the items of a sequence or a
// scalar as a list of one. Null is the empty string, or the empty list.
func nodeItems(v *yaml.Node, list bool) ([]*yaml.Node, error) {
	if v.Kind == yaml.AliasNode && v.Alias != nil {
		v = v.Alias
	}
	switch {
	case v.Kind == yaml.ScalarNode && v.Tag == "!!null" && list:
		return nil, nil
	case v.Kind == yaml.ScalarNode:
		return []*yaml.Node{v}, nil
	case v.Kind == yaml.SequenceNode && list:
		for _, it := range v.Content {
			if it.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: want a list of single values, got %s in it", it.Line, kindName(it))
			}
		}
		return v.Content, nil
	case list:
		return nil, fmt.Errorf("want a value or a list of values, got %s", kindName(v))
	}
	return nil, fmt.Errorf("want a single value, got %s (only the repeatable settings take lists)", kindName(v))
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("the value %q", n.Value)
	case yaml.AliasNode:
		return "an alias"
	}
	return "a document"
}

// quoteValue quotes a value for an error message, unless it is a secret's,
// and with the secret of a URL redacted.
func quoteValue(name, v string) string {
	switch {
	case secretSettings[name]:
		return redacted
	case urlSettings[name]:
		return strconv.Quote(redactURL(v))
	}
	return strconv.Quote(v)
}

// valueError improves the flag package's errors, which do not say what is
// allowed.
func valueError(f *flag.Flag, err error) error {
	if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
		return errors.New("want true or false")
	}
	return err
}

// suggest returns ` (did you mean "x"?)` for the candidate closest to
// name, when one is close, else "".
func suggest(name string, candidates []string) string {
	best := closest(name, candidates)
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// closest returns the candidate within 2 edits of name (case aside) that is
// nearest to it, or "".
func closest(name string, candidates []string) string {
	best, bestD := "", 3 // farther than 2 edits is no typo
	for _, c := range candidates {
		if d := editDistance(strings.ToLower(name), strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// effectiveSettings returns every setting of the file with its value in
// effect and its source, secrets (and the secrets of URLs) redacted, in
// the order of bridge -h.
func effectiveSettings(fs *flag.FlagSet, from map[string]source) []setting {
	var out []setting
	fs.VisitAll(func(f *flag.Flag) {
		if notInFile[f.Name] {
			return
		}
		s := setting{name: f.Name, from: from[f.Name]}
		if s.from.kind == "" {
			s.from.kind = "default"
		}
		if l, ok := f.Value.(*listFlag); ok {
			s.list, s.str = true, true
			s.values = slices.Clone(l.effective())
		} else {
			s.values = []string{f.Value.String()}
			if g, ok := f.Value.(flag.Getter); ok {
				_, s.str = g.Get().(string)
			}
		}
		for i, v := range s.values {
			switch {
			case secretSettings[f.Name]:
				s.values[i] = redacted
			case urlSettings[f.Name]:
				s.values[i] = redactURL(v)
			}
		}
		out = append(out, s)
	})
	return out
}

// writeConfig writes settings as the YAML that -config reads, each with
// its source in a comment.
func writeConfig(w io.Writer, settings []setting) error {
	root := &yaml.Node{Kind: yaml.MappingNode}
	for _, s := range settings {
		k := &yaml.Node{Kind: yaml.ScalarNode, Value: s.name}
		comment := "# " + s.from.String()
		var v *yaml.Node
		if s.list {
			v = &yaml.Node{Kind: yaml.SequenceNode}
			for _, x := range s.values {
				v.Content = append(v.Content, yamlScalar(x, true))
			}
			if len(s.values) == 0 {
				v.Style = yaml.FlowStyle
				v.LineComment = comment
			} else {
				k.LineComment = comment
			}
		} else {
			v = yamlScalar(s.values[0], s.str)
			v.LineComment = comment
		}
		root.Content = append(root.Content, k, v)
	}
	doc := &yaml.Node{
		Kind:        yaml.DocumentNode,
		HeadComment: "# The effective configuration of bridge serve (bridge -print-config); bridge -config FILE reads it.\n# Each comment tells where the value comes from. Secrets show as " + redacted + ".",
		Content:     []*yaml.Node{root},
	}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return err
	}
	return enc.Close()
}

func yamlScalar(v string, str bool) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Value: v}
	if str {
		n.Tag = "!!str" // quoted when it would read as a number or a boolean
	}
	return n
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
