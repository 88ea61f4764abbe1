package wampv1_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wampbridge/grpcwamp/bridge/wampv1"
)

var update = flag.Bool("update", false, "rewrite the .golden files beside the frames in testdata/decode")

// goldenFrames returns the input frames of testdata/decode.
func goldenFrames(tb testing.TB) []string {
	tb.Helper()
	inputs, err := filepath.Glob(filepath.Join("testdata", "decode", "*.json"))
	if err != nil || len(inputs) == 0 {
		tb.Fatalf("no frames in testdata/decode (%v)", err)
	}
	return inputs
}

// renderDecode is what a .golden file holds for a frame: the decoded
// message and its encoding, or the error.
func renderDecode(data []byte) string {
	m, err := wampv1.Decode(data)
	if err != nil {
		return describeError(err)
	}
	return describe(m) + "encoded: " + string(wampv1.Encode(m)) + "\n"
}

// TestGolden decodes each testdata/decode/NAME.json and compares the result
// with NAME.golden; go test -run TestGolden -update rewrites the .golden
// files.
func TestGolden(t *testing.T) {
	t.Parallel()
	inputs := goldenFrames(t)
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".json")
		golden := strings.TrimSuffix(in, ".json") + ".golden"
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			got := renderDecode(data)
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run TestGolden -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("%s decodes differently from %s (go test -run TestGolden -update refreshes it):\n--- got\n%s--- want\n%s",
					in, golden, got, want)
			}
		})
	}

	goldens, err := filepath.Glob(filepath.Join("testdata", "decode", "*.golden"))
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range goldens {
		if _, err := os.Stat(strings.TrimSuffix(g, ".golden") + ".json"); err != nil {
			t.Errorf("%s has no input frame beside it", g)
		}
	}
}
