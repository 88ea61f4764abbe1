package transcode

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

// checkDecimal fails t when appendDecimal handles v and writes anything but
// strconv's shortest 'f' form, and returns whether it handled v.
func checkDecimal(t *testing.T, v float64) bool {
	t.Helper()
	got, ok := appendDecimal(nil, v)
	if !ok {
		return false
	}
	if want := strconv.FormatFloat(v, 'f', -1, 64); string(got) != want {
		t.Fatalf("appendDecimal(%v (bits %#x)) = %s, want %s", v, math.Float64bits(v), got, want)
	}
	return true
}

// TestAppendDecimal compares appendDecimal with strconv on the decimals of
// up to four places m/10^j for m from 1 to 99 999, their neighbours,
// decimals near the limits of its range and random doubles, and checks
// that it handles what it is for.
func TestAppendDecimal(t *testing.T) {
	declined := 0
	for m := int64(1); m < 100_000; m++ {
		for _, scale := range []float64{1, 1e1, 1e2, 1e3, 1e4} {
			v := float64(m) / scale
			if !checkDecimal(t, v) || !checkDecimal(t, -v) {
				declined++
			}
			checkDecimal(t, math.Nextafter(v, 0))
			checkDecimal(t, math.Nextafter(v, math.Inf(1)))
		}
	}
	if declined > 0 {
		t.Errorf("appendDecimal declined %d of the decimals of up to four places in (0, 100 000), want none", declined)
	}
	for _, v := range []float64{
		0.1, 0.2, 0.1 + 0.2, 0.3, 1.0 / 3, 112.5625, 100.0625, 1e-4, 1.5e-4, 9.9999e-5, 0.0001,
		decimalLimit - 1, decimalLimit - 0.0001, decimalLimit - 0.5, decimalLimit, decimalLimit + 1,
		math.Nextafter(decimalLimit, 0), 123456789.1234, 987654321.0001, 4503599627370496,
		math.SmallestNonzeroFloat64, math.MaxFloat64, 0, math.Copysign(0, -1),
	} {
		checkDecimal(t, v)
		checkDecimal(t, -v)
	}
	for _, v := range []float64{0.5, 112.5625, 0.1, 19.99, 1234.5678, 1e6} {
		if !checkDecimal(t, v) {
			t.Errorf("appendDecimal(%v) declined, want it handled", v)
		}
	}
	for _, v := range []float64{0, math.Copysign(0, -1), 1e-5, 1.0 / 3, decimalLimit, 1e21, math.NaN(), math.Inf(1)} {
		if _, ok := appendDecimal(nil, v); ok {
			t.Errorf("appendDecimal(%v) handled it, want it left to strconv", v)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 100_000 {
		checkDecimal(t, math.Float64frombits(r.Uint64()))
		m := r.Int64N(decimalLimit * 10_000)
		checkDecimal(t, float64(m)/math.Pow10(r.IntN(decimalPlaces+1)))
	}
}

// FuzzAppendFloat compares appendDecimal with strconv on any double.
func FuzzAppendFloat(f *testing.F) {
	for _, v := range []float64{0.1, 112.5625, -3.25, decimalLimit - 0.0001, 1.0 / 3} {
		f.Add(math.Float64bits(v))
	}
	f.Fuzz(func(t *testing.T, bits uint64) {
		checkDecimal(t, math.Float64frombits(bits))
		// Doubles near a decimal of up to four places, which random bits
		// seldom are.
		v := math.Round(math.Float64frombits(bits)*1e4) / 1e4
		checkDecimal(t, v)
		checkDecimal(t, math.Nextafter(v, 0))
	})
}

// BenchmarkAppendFloat formats the benchmark payload's kind of price, and
// a double no short decimal stands for, which appendDecimal declines.
func BenchmarkAppendFloat(b *testing.B) {
	for _, bc := range []struct {
		name string
		v    float64
	}{{"Price", 112.4375}, {"Third", 1.0 / 3}} {
		b.Run(bc.name, func(b *testing.B) {
			var buf []byte
			for b.Loop() {
				buf = appendFloat(buf[:0], bc.v, 64)
			}
		})
	}
}
