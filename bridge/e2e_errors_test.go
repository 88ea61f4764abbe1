package bridge_test

// §3 errors: upstream statuses, unknown procedures, bad arguments, refused
// calls.

import (
	"fmt"
	"strings"
	"testing"

	"github.com/wampbridge/grpcwamp/bridge"
	"github.com/wampbridge/grpcwamp/bridge/internal/bridgetest"
)

// TestE2EFail: §3. An upstream status becomes [4, id, errorURI, message,
// {code, status, message, details}] with the URI of the table, the details
// in the protobuf JSON mapping with "@type", and a detail of a type the
// bridge cannot resolve still rendered with its "@type".
func TestE2EFail(t *testing.T) {
	t.Parallel()
	type failCase struct {
		name  string
		args  string
		frame string // with callId "c"
	}
	var cases []failCase
	for code := 1; code <= 16; code++ {
		msg := fmt.Sprintf("boom %d: %s", code, strings.ToLower(bridgetest.StatusNames[code]))
		cases = append(cases, failCase{
			name:  bridgetest.StatusNames[code],
			args:  fmt.Sprintf(`{"code":%d,"message":%q}`, code, msg),
			frame: callError("c", code, msg, bridgetest.ErrorInfoJSON),
		})
	}
	cases = append(cases,
		failCase{"unknown detail type", `{"code":5,"message":"gone","unknownDetail":true}`,
			callError("c", 5, "gone", bridgetest.ErrorInfoJSON, bridgetest.UnknownDetailJSON)},
		failCase{"positional", `7,"no",true`,
			callError("c", 7, "no", bridgetest.ErrorInfoJSON, bridgetest.UnknownDetailJSON)},
		failCase{"empty message", `{"code":2}`, callError("c", 2, "", bridgetest.ErrorInfoJSON)},
		failCase{"unicode message", `{"code":3,"message":"ça « coince » 🚫"}`,
			callError("c", 3, "ça « coince » 🚫", bridgetest.ErrorInfoJSON)},
	)
	forEachDiscovery(t, func(t *testing.T, d bridgetest.Discovery) {
		e := start(t, d)
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				c := e.connect(t, "")
				c.Send(t, fmt.Sprintf(`[2,"c",%q,%s]`, failProc, tc.args))
				c.ExpectFrame(t, tc.frame)
				c.Sync(t)
			})
		}
	})
}

// TestE2EUnknownProcedure: §3. An unknown procedure gets UNIMPLEMENTED
// (wamp.error.no_such_procedure) naming the procedure.
func TestE2EUnknownProcedure(t *testing.T) {
	t.Parallel()
	procs := []string{
		"bridgetest.v1.TestService.Nope",
		"/bridgetest.v1.TestService/Nope",
		"test.Nope",
		"Echo",                           // a bare method name is not a name of the method
		"bridgetest.v1.TestService",      // a service is not a procedure
		"bridgetest.v1.testservice.echo", // names are case-sensitive
		"bridgetest.v1.TestService/Echo",
		"http://example.com/test#nope",
		"nowhere.v1.Service.Method",
		"t:Echo", // an undeclared CURIE is not expanded
		"grpc.reflection.v1.ServerReflection.ServerReflectionInfo",
	}
	forEachDiscovery(t, func(t *testing.T, d bridgetest.Discovery) {
		e := start(t, d)
		for _, proc := range procs {
			t.Run(proc, func(t *testing.T) {
				t.Parallel()
				c := e.connect(t, "")
				c.Send(t, fmt.Sprintf(`[2,"c",%q,{}]`, proc))
				ce := c.ExpectCallError(t, "c", 12)
				if !strings.Contains(ce.Desc, proc) {
					t.Errorf("errorDesc %q does not name the procedure %q", ce.Desc, proc)
				}
				// It says where the right names are.
				if !strings.Contains(ce.Desc, "wamp.reflection.procedure.list") {
					t.Errorf("errorDesc %q does not point to wamp.reflection.procedure.list", ce.Desc)
				}
				// A name like prefix:rest may be a CURIE whose PREFIX is
				// missing; a URI with :// is not.
				curie := strings.Contains(proc, ":") && !strings.Contains(proc, "://")
				if got := strings.Contains(ce.Desc, "declare its prefix"); got != curie {
					t.Errorf("errorDesc %q: mentions PREFIX = %v, want %v", ce.Desc, got, curie)
				}
				c.Sync(t)
			})
		}
		t.Run("long name", func(t *testing.T) {
			// The client's name is quoted, twice, at most 200 bytes of it:
			// a 4000-byte name does not come back three times over.
			t.Parallel()
			c := e.connect(t, "")
			proc := "x:" + strings.Repeat("a", 3998)
			c.Send(t, fmt.Sprintf(`[2,"c",%q,{}]`, proc))
			ce := c.ExpectCallError(t, "c", 12)
			if len(ce.Desc) > 1024 || !strings.Contains(ce.Desc, proc[:190]) {
				t.Errorf("errorDesc of %d bytes for a name of %d, want at most 1 KiB quoting its start: %.300q", len(ce.Desc), len(proc), ce.Desc)
			}
			c.Sync(t)
		})
	})
}

// TestE2EBadArguments: §3. Arguments that do not fit the request get
// INVALID_ARGUMENT with a message naming the field and the problem: the
// bad value, or the counts of arguments and fields.
func TestE2EBadArguments(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, proc, args string
		field            string   // the errorDesc names this field (too many arguments: the fields)
		problem          []string // and says what is wrong with these
	}{
		{"unknown field", echoProc, `{"nope":1}`, "nope", []string{"unknown field"}},
		{"wrong type", echoProc, `{"number":"abc"}`, "number", []string{`invalid value "abc"`}},
		{"wrong type proto name", echoProc, `{"any_kind":5}`, "any_kind", []string{"invalid value 5"}},
		{"bad duration", echoProc, `{"wait":"5"}`, "wait", []string{`want a string of seconds such as "1.5s"`}},
		{"bad timestamp", echoProc, `{"at":"yesterday"}`, "at", []string{`want an RFC 3339 string such as "2024-05-01T12:00:00Z"`}},
		{"out of range", echoProc, `{"number":4294967296}`, "number", []string{"invalid value 4294967296; want an integer from -2147483648 to 2147483647"}},
		{"fraction for an integer", echoProc, `{"number":1.5}`, "number", []string{"invalid value 1.5"}},
		{"unknown enum name", echoProc, `{"color":"COLOR_BLUE"}`, "color", []string{`invalid value "COLOR_BLUE"; want one of COLOR_UNSPECIFIED, COLOR_RED, COLOR_GREEN, or the value's number`}},
		{"bad duration", echoProc, `{"wait":"forever"}`, "wait", []string{`value "forever"`}},
		{"nested wrong type", echoProc, `{"inner":{"values":["x"]}}`, "values", []string{`invalid value "x"`}},
		{"positional wrong type", echoProc, `"hi","abc"`, "number", []string{`invalid value "abc"`}},
		{"positional object for a string", echoProc, `{"text":"a"},"b"`, "text", []string{`invalid value {"text":"a"}`}},
		{"positional wrong type in list", sumProc, `["x"]`, "numbers", []string{`invalid value "x"`}},
		{"too many positional", failProc, `1,"m",false,"extra"`, "code, message, unknownDetail",
			[]string{"at most 3 positional", "got 4"}},
		{"too many positional for one field", sumProc, `[1],[2]`, "numbers", []string{"at most 1 positional", "got 2"}},
		{"stream count wrong type", streamProc, `{"count":"many"}`, "count", []string{`invalid value "many"`}},
	}
	forEachDiscovery(t, func(t *testing.T, d bridgetest.Discovery) {
		e := start(t, d)
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				c := e.connect(t, "")
				c.Send(t, fmt.Sprintf(`[2,"c",%q,%s]`, tc.proc, tc.args))
				ce := c.ExpectCallError(t, "c", 3)
				if !strings.Contains(ce.Desc, tc.field) {
					t.Errorf("errorDesc %q does not name the field %q", ce.Desc, tc.field)
				}
				for _, p := range tc.problem {
					if !strings.Contains(ce.Desc, p) {
						t.Errorf("errorDesc %q does not name the problem: want %q in it", ce.Desc, p)
					}
				}
				c.Sync(t)
			})
		}
	})
}

// TestE2EMalformedCall: a CALL frame of the wrong shape whose callId can be
// read gets CALLERROR INVALID_ARGUMENT for that callId (session package
// contract); the session goes on.
func TestE2EMalformedCall(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, frame string }{
		{"procURI a number", `[2,"c",42]`},
		// The empty string is a callId like any other.
		{"empty callId, procURI a number", `[2,"",42]`},
		{"procURI missing", `[2,"c"]`},
		{"procURI null", `[2,"c",null,1]`},
		{"more than 1024 arguments", fmt.Sprintf(`[2,"c",%q`, echoProc) + strings.Repeat(`,"x"`, 1025) + `]`},
		{"nested deeper than 128", fmt.Sprintf(`[2,"c",%q,{"extra":`, echoProc) +
			strings.Repeat(`{"a":`, 127) + "1" + strings.Repeat("}", 127) + "}]"},
	}
	forEachDiscovery(t, func(t *testing.T, d bridgetest.Discovery) {
		e := start(t, d)
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				c := e.connect(t, "")
				c.Send(t, tc.frame)
				id := "c"
				if strings.Contains(tc.name, "empty callId") {
					id = ""
				}
				ce := c.ExpectCallError(t, id, 3)
				if strings.Contains(tc.name, "arguments") && !strings.Contains(ce.Desc, "1025 arguments: the limit is 1024") {
					t.Errorf("errorDesc %q does not name the count and the limit", ce.Desc)
				}
				if strings.Contains(tc.name, "nested") && !strings.Contains(ce.Desc, "nested deeper than 128") {
					t.Errorf("errorDesc %q does not name the limit", ce.Desc)
				}
				c.Sync(t)
			})
		}
	})
}

// TestE2EDuplicateCallID: §3 and §2. A CALL whose callId is in flight in
// the same session is refused with INVALID_ARGUMENT, and since no frame
// may follow the end of a call, the call in flight ends with that refusal:
// it is cancelled upstream, and the one CALLERROR is the last frame for
// the callId. Another session may use the same callId; once a call has
// ended its callId may be used again.
func TestE2EDuplicateCallID(t *testing.T) {
	t.Parallel()
	forEachDiscovery(t, func(t *testing.T, d bridgetest.Discovery) {
		e := start(t, d)
		for _, tc := range []struct {
			name, second string
		}{
			{"in flight", fmt.Sprintf(`[2,"dup",%q,"second"]`, echoProc)},
			// A malformed CALL with that callId is a CALL reusing it too.
			{"malformed reuse", `[2,"dup",42]`},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				tag := t.Name()
				c := e.connect(t, "?stream=progress")
				c.Send(t, fmt.Sprintf(`[2,"dup",%q,{"count":1,"block":true,"tag":%q}]`, streamProc, tag))
				c.ExpectFrame(t, fmt.Sprintf(`[1000,"dup",{"index":1,"tag":%q}]`, tag))
				if err := e.svc.WaitBlocked(t.Context(), tag); err != nil {
					t.Fatal(err)
				}
				c.Send(t, tc.second)
				ce := c.ExpectCallError(t, "dup", 3)
				if want := `call id "dup" was reused by another CALL while in flight in this session: both calls are ended; use a new call id for each call`; ce.Desc != want {
					t.Errorf("errorDesc %q, want %q", ce.Desc, want)
				}
				// The call in flight was cancelled upstream, and no frame
				// of it follows the CALLERROR: the next frame is Sync's.
				if err := e.svc.WaitCanceled(t.Context(), tag); err != nil {
					t.Fatalf("the call in flight was not cancelled upstream: %v", err)
				}
				c.Sync(t)

				// Another session is not concerned by this session's callIds.
				other := e.connect(t, "")
				other.Send(t, fmt.Sprintf(`[2,"dup",%q,"other"]`, echoProc))
				other.ExpectFrame(t, echoResult(t, "dup", `{"text":"other"}`, ""))

				// The callId is free again.
				c.Send(t, fmt.Sprintf(`[2,"dup",%q,"again"]`, echoProc))
				c.ExpectFrame(t, echoResult(t, "dup", `{"text":"again"}`, ""))
			})
		}
		t.Run("reuse after the end", func(t *testing.T) {
			t.Parallel()
			c := e.connect(t, "")
			for i := range 3 {
				text := fmt.Sprint(i)
				c.Send(t, fmt.Sprintf(`[2,"same",%q,%q]`, echoProc, text))
				c.ExpectFrame(t, echoResult(t, "same", fmt.Sprintf(`{"text":%q}`, text), ""))
			}
		})
	})
}

// TestE2ETooManyCallsInFlight: §3. Calls beyond the in-flight limit are
// refused with RESOURCE_EXHAUSTED; the running ones go on, and once one
// ends a new call is accepted.
func TestE2ETooManyCallsInFlight(t *testing.T) {
	t.Parallel()
	forEachDiscovery(t, func(t *testing.T, d bridgetest.Discovery) {
		e := start(t, d, bridge.WithMaxCallsInFlight(2))
		c := e.connect(t, "?stream=collect")
		tags := []string{t.Name() + "/a", t.Name() + "/b"}
		for i, tag := range tags {
			c.Send(t, fmt.Sprintf(`[2,"b%d",%q,{"block":true,"tag":%q}]`, i, streamProc, tag))
		}
		for _, tag := range tags {
			if err := e.svc.WaitBlocked(t.Context(), tag); err != nil {
				t.Fatal(err)
			}
		}
		c.Send(t, fmt.Sprintf(`[2,"third",%q,"x"]`, echoProc))
		ce := c.ExpectCallError(t, "third", 8)
		if !strings.Contains(ce.Desc, "2") {
			t.Errorf("errorDesc %q does not name the limit of 2", ce.Desc)
		}
		e.svc.Release(tags[0])
		c.ExpectFrame(t, `[3,"b0",[]]`)
		c.Send(t, fmt.Sprintf(`[2,"fourth",%q,"x"]`, echoProc))
		c.ExpectFrame(t, echoResult(t, "fourth", `{"text":"x"}`, ""))
		e.svc.Release(tags[1])
		c.ExpectFrame(t, `[3,"b1",[]]`)
		c.Sync(t)
	})
}
