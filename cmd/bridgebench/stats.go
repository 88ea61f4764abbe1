package main

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// median returns the median of xs: the middle value, or the mean of the
// two middle values for an even count; NaN for none. xs is not modified.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	mid := len(s) / 2
	if len(s)%2 == 1 {
		return s[mid]
	}
	return (s[mid-1] + s[mid]) / 2
}

// percentile returns the p-th percentile (0 < p <= 100) of sorted by the
// nearest-rank method: the smallest value with at least p% of the values
// at or below it. It returns 0 for none.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// ratio returns bridge/direct, NaN when direct is not positive.
func ratio(bridge, direct float64) float64 {
	if direct <= 0 {
		return math.NaN()
	}
	return bridge / direct
}

// hopRatio returns the direct gRPC round trip plus what a relay process
// adds to a TCP round trip (relay - echo), over the direct gRPC round
// trip. NaN when direct is not positive.
func hopRatio(direct, echo, relay time.Duration) float64 {
	return ratio(float64(direct+relay-echo), float64(direct))
}

// formatRatio formats a ratio as "0.81x"; "n/a" for NaN or infinity.
func formatRatio(r float64) string {
	if math.IsNaN(r) || math.IsInf(r, 0) {
		return "n/a"
	}
	return strconv.FormatFloat(r, 'f', 2, 64) + "x"
}

// A target is a bound on the ratio bridge/direct of one figure.
type target struct {
	bound   float64
	atLeast bool // true: ratio >= bound; false: ratio <= bound
}

// String returns the target as the table shows it: ">= 0.75x".
func (t target) String() string {
	op := "<="
	if t.atLeast {
		op = ">="
	}
	return op + " " + formatRatio(t.bound)
}

// verdict returns "met" or "MISSED" for ratio r; "n/a" when r is NaN.
func (t target) verdict(r float64) string {
	switch {
	case math.IsNaN(r):
		return "n/a"
	case t.atLeast && r >= t.bound, !t.atLeast && r <= t.bound:
		return "met"
	default:
		return "MISSED"
	}
}

// formatCount formats a rate or count with thin groups of three digits:
// 352100.4 -> "352 100".
func formatCount(x float64) string {
	if math.IsNaN(x) {
		return "n/a"
	}
	s := strconv.FormatInt(int64(math.Round(x)), 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// formatMicros formats a duration in microseconds with one decimal:
// "131.2 µs".
func formatMicros(d time.Duration) string {
	return fmt.Sprintf("%.1f µs", float64(d)/float64(time.Microsecond))
}

// formatKiB formats bytes as KiB with one decimal: "9.3 KiB".
func formatKiB(b float64) string {
	if math.IsNaN(b) {
		return "n/a"
	}
	return fmt.Sprintf("%.1f KiB", b/1024)
}
