// Package bridgetest is the test support of the bridge's end-to-end tests:
// an implementation of bridgetest.v1.TestService that reports what happened
// to its calls, an upstream gRPC server to run it on, a FileDescriptorSet of
// the test protos, a bridge in an httptest server, and a WebSocket client
// that speaks raw WAMP v1 frames.
//
// Every helper takes a testing.TB, fails the test instead of returning an
// error, and cleans up after itself with t.Cleanup. Nothing here sleeps to
// synchronise: tests wait for frames, or for the events [Service] reports
// (a stream blocked, a stream's context cancelled).
//
// The package is imported only from tests.
package bridgetest
