package transcode

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/anypb"
)

// codeTable is PROTOCOL.md §3, written out again so that the test does not
// trust the code it checks.
var codeTable = []struct {
	code codes.Code
	name string
	uri  string
}{
	{codes.Canceled, "CANCELLED", "wamp.error.canceled"},
	{codes.Unknown, "UNKNOWN", "grpc.error.unknown"},
	{codes.InvalidArgument, "INVALID_ARGUMENT", "wamp.error.invalid_argument"},
	{codes.DeadlineExceeded, "DEADLINE_EXCEEDED", "wamp.error.timeout"},
	{codes.NotFound, "NOT_FOUND", "grpc.error.not_found"},
	{codes.AlreadyExists, "ALREADY_EXISTS", "grpc.error.already_exists"},
	{codes.PermissionDenied, "PERMISSION_DENIED", "wamp.error.not_authorized"},
	{codes.ResourceExhausted, "RESOURCE_EXHAUSTED", "grpc.error.resource_exhausted"},
	{codes.FailedPrecondition, "FAILED_PRECONDITION", "grpc.error.failed_precondition"},
	{codes.Aborted, "ABORTED", "grpc.error.aborted"},
	{codes.OutOfRange, "OUT_OF_RANGE", "grpc.error.out_of_range"},
	{codes.Unimplemented, "UNIMPLEMENTED", "wamp.error.no_such_procedure"},
	{codes.Internal, "INTERNAL", "grpc.error.internal"},
	{codes.Unavailable, "UNAVAILABLE", "wamp.error.unavailable"},
	{codes.DataLoss, "DATA_LOSS", "grpc.error.data_loss"},
	{codes.Unauthenticated, "UNAUTHENTICATED", "grpc.error.unauthenticated"},
}

func TestErrorURI(t *testing.T) {
	t.Parallel()
	seen := make(map[string]codes.Code)
	for _, row := range codeTable {
		if got := ErrorURI(row.code); got != row.uri {
			t.Errorf("ErrorURI(%v) = %q, want %q", row.code, got, row.uri)
		}
		if other, dup := seen[row.uri]; dup {
			t.Errorf("ErrorURI(%v) = ErrorURI(%v) = %q", row.code, other, row.uri)
		}
		seen[row.uri] = row.code
	}
	for _, c := range []codes.Code{codes.OK, 17, 99, 1 << 31} {
		if got := ErrorURI(c); got != "grpc.error.unknown" {
			t.Errorf("ErrorURI(%d) = %q, want grpc.error.unknown", c, got)
		}
	}
}

// wantDetails is the errorDetails object as encoding/json decodes it.
func wantDetails(code codes.Code, name, msg string, details ...any) map[string]any {
	if details == nil {
		details = []any{}
	}
	return map[string]any{"code": float64(code), "status": name, "message": msg, "details": details}
}

func decodeDetails(t *testing.T, f *Failure) map[string]any {
	t.Helper()
	var got map[string]any
	if err := json.Unmarshal(f.Details, &got); err != nil {
		t.Fatalf("Details %s: %v", f.Details, err)
	}
	return got
}

func TestFailureEveryCode(t *testing.T) {
	t.Parallel()
	c := New(nil, DefaultOptions())
	if f := c.Failure(status.Error(codes.OK, "fine")); f != nil {
		t.Fatalf("Failure(OK) = %+v, want nil", f)
	}
	if f := c.Failure(nil); f != nil {
		t.Fatalf("Failure(nil) = %+v, want nil", f)
	}
	for _, row := range codeTable {
		f := c.Failure(status.Error(row.code, "msg"))
		if f == nil || f.Code != row.code || f.URI != row.uri || f.Message != "msg" {
			t.Fatalf("Failure(%v) = %+v, want code %v, URI %q, message %q", row.code, f, row.code, row.uri, "msg")
		}
		// Key order is part of the contract.
		prefix := fmt.Sprintf(`{"code":%d,"status":%q,"message":"msg","details":[]}`, row.code, row.name)
		if string(f.Details) != prefix {
			t.Fatalf("Failure(%v).Details = %s, want %s", row.code, f.Details, prefix)
		}
	}
	// Codes that are no gRPC code are UNKNOWN.
	f := c.Failure(status.Error(42, "odd"))
	if f.Code != codes.Unknown || f.URI != "grpc.error.unknown" || string(f.Details) != `{"code":2,"status":"UNKNOWN","message":"odd","details":[]}` {
		t.Fatalf("Failure(code 42) = %+v %s", f, f.Details)
	}
}

func TestFailure(t *testing.T) {
	t.Parallel()
	errorInfo := &errdetails.ErrorInfo{Reason: "QUOTA", Domain: "example.com", Metadata: map[string]string{"k": "v"}}
	withDetails := func(code codes.Code, msg string, details ...*anypb.Any) error {
		return status.FromProto(&spb.Status{Code: int32(code), Message: msg, Details: details}).Err()
	}
	for _, tc := range []struct {
		name        string
		err         error
		wantCode    codes.Code
		wantMessage string
		wantDetails map[string]any
	}{
		{
			name:        "error info detail",
			err:         withDetails(codes.ResourceExhausted, "slow down", mustAny(errorInfo)),
			wantCode:    codes.ResourceExhausted,
			wantMessage: "slow down",
			wantDetails: wantDetails(codes.ResourceExhausted, "RESOURCE_EXHAUSTED", "slow down", map[string]any{
				"@type":    "type.googleapis.com/google.rpc.ErrorInfo",
				"reason":   "QUOTA",
				"domain":   "example.com",
				"metadata": map[string]any{"k": "v"},
			}),
		},
		{
			name:        "unknown detail beside a known one",
			err:         withDetails(codes.FailedPrecondition, "no", mustAny(&errdetails.RetryInfo{}), unknownAny),
			wantCode:    codes.FailedPrecondition,
			wantMessage: "no",
			wantDetails: wantDetails(codes.FailedPrecondition, "FAILED_PRECONDITION", "no",
				map[string]any{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": nil},
				map[string]any{"@type": "type.example.com/x.v1.Unknown", "value": "CAE="}),
		},
		{
			name:        "undecodable detail shows raw",
			err:         withDetails(codes.Internal, "bad", &anypb.Any{TypeUrl: "type.googleapis.com/google.rpc.ErrorInfo", Value: []byte{0xff}}),
			wantCode:    codes.Internal,
			wantMessage: "bad",
			wantDetails: wantDetails(codes.Internal, "INTERNAL", "bad",
				map[string]any{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "value": "/w=="}),
		},
		{
			name:        "detail of an upstream type",
			err:         withDetails(codes.Aborted, "a", mustAnyDynamic(legacy(7, "n"))),
			wantCode:    codes.Aborted,
			wantMessage: "a",
			wantDetails: wantDetails(codes.Aborted, "ABORTED", "a",
				map[string]any{"@type": "type.googleapis.com/tc.test.Legacy", "id": float64(7), "name": nil, "[tc.test.note]": "n"}),
		},
		{
			name:        "canceled",
			err:         context.Canceled,
			wantCode:    codes.Canceled,
			wantMessage: "context canceled",
			wantDetails: wantDetails(codes.Canceled, "CANCELLED", "context canceled"),
		},
		{
			name:        "wrapped deadline",
			err:         fmt.Errorf("upstream call: %w", context.DeadlineExceeded),
			wantCode:    codes.DeadlineExceeded,
			wantMessage: "upstream call: context deadline exceeded",
			wantDetails: wantDetails(codes.DeadlineExceeded, "DEADLINE_EXCEEDED", "upstream call: context deadline exceeded"),
		},
		{
			name:        "wrapped status",
			err:         fmt.Errorf("resolve: %w", status.Error(codes.NotFound, "gone")),
			wantCode:    codes.NotFound,
			wantMessage: "resolve: rpc error: code = NotFound desc = gone",
			wantDetails: wantDetails(codes.NotFound, "NOT_FOUND", "resolve: rpc error: code = NotFound desc = gone"),
		},
		{
			name:        "not a status",
			err:         errors.New("secret: dial tcp 10.0.0.1:443: connection refused"),
			wantCode:    codes.Internal,
			wantMessage: "internal error",
			wantDetails: wantDetails(codes.Internal, "INTERNAL", "internal error"),
		},
		{
			name:        "message escaping",
			err:         status.Error(codes.InvalidArgument, "quote \" backslash \\ newline \n tab \t nul \x00 bad \xff sep \u2028 <&>"),
			wantCode:    codes.InvalidArgument,
			wantMessage: "quote \" backslash \\ newline \n tab \t nul \x00 bad \xff sep \u2028 <&>",
			wantDetails: wantDetails(codes.InvalidArgument, "INVALID_ARGUMENT", "quote \" backslash \\ newline \n tab \t nul \x00 bad \ufffd sep \u2028 <&>"),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := New(testTypes, DefaultOptions()).Failure(tc.err)
			if f == nil {
				t.Fatal("Failure = nil")
			}
			if f.Code != tc.wantCode || f.URI != ErrorURI(tc.wantCode) || f.Message != tc.wantMessage {
				t.Fatalf("Failure = {%v %q %q}, want {%v %q %q}", f.Code, f.URI, f.Message, tc.wantCode, ErrorURI(tc.wantCode), tc.wantMessage)
			}
			if got := decodeDetails(t, f); !reflect.DeepEqual(got, tc.wantDetails) {
				t.Fatalf("Details = %s\nwant %v", f.Details, tc.wantDetails)
			}
		})
	}
}
