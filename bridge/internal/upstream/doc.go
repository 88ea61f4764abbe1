// Package upstream knows the gRPC server behind the bridge: which methods
// it has, by which procedure names WAMP clients reach them, how to call
// them without generated code, and whether the server is ready. It deals in
// protobuf messages and gRPC statuses only; JSON is the business of the
// packages above it.
//
// # Sources
//
// A [Source] loads the schema as a [Catalog]. [NewReflectionSource] asks
// the server itself with gRPC server reflection (v1, falling back to
// v1alpha), fetching the file of every listed service and the files it
// imports, on one stream that is closed before Load returns.
// [NewFileSource] reads a binary FileDescriptorSet, as `buf build -o
// x.binpb` or `protoc --include_imports -o x.pb` write it; an import
// missing from the set is taken from the files linked into the binary (the
// well-known types, google.rpc, the bridge options) when they have it, and
// is an error naming the import otherwise. Both leave out the server's
// plumbing: grpc.reflection.v1.ServerReflection,
// grpc.reflection.v1alpha.ServerReflection and grpc.health.v1.Health.
//
// # Procedure names
//
// A method answers to its protobuf full name "pkg.Service.Method", to its
// gRPC path "/pkg.Service/Method", to the URI of its bridge.v1.procedure
// option, used as is (e.g. "GetProgressiveTime"), and to its service's
// bridge.v1.prefix option followed by its short name (prefix "test." gives
// "test.Echo"). See [Method.URIs]. Two methods claiming one name make
// [NewCatalog] fail, naming both. Options that arrived as unknown fields,
// because the bytes were parsed without the bridge.v1 extensions known, are
// read all the same.
//
// # Calls
//
// [Call] drives every kind of method the same way: one request, then the
// request side closed, then responses until the final status. Client and
// bidi streams therefore see exactly one request. Failures are gRPC status
// errors; calls never wait for a connection, so an unreachable server
// fails them at once with UNAVAILABLE.
//
// # Readiness
//
// [Upstream.Run] loads the schema, retrying with exponential backoff
// (100 ms doubling to 5 s, with jitter) and logging each distinct failure
// once, and follows the channel's connectivity, asking an idle channel to
// connect again so that readiness follows the server rather than the last
// call. The upstream is ready when the schema is loaded, the channel has
// been READY at least once and it is neither in TRANSIENT_FAILURE nor shut
// down; [Upstream.NotReadyReason] says why not in one sentence.
//
// # Reloads
//
// After the first load, Run loads the schema again every
// [Upstream.SetRefreshInterval] period (a descriptor set file only when its
// size or modification time changed) and at once on [Upstream.Refresh],
// whose triggers coalesce. The new catalog replaces the old one, in an
// atomic pointer, only when its fingerprint differs: SHA-256 over the
// methods' full names, kinds and URIs and over the deterministic encoding
// of the FileDescriptorProtos of their files and imports, sorted by path.
// Calls that hold a Method of the old catalog are not disturbed; a failed
// reload keeps the old catalog. [Upstream.SetOnChange] hears of each swap
// with the methods added and removed, and [Upstream.SetOnLoad] of each
// catalog installed, the first one included.
package upstream
