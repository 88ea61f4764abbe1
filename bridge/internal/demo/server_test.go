package demo

import (
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/reflection/grpc_reflection_v1"

	demov1 "github.com/wampbridge/grpcwamp/gen/demo/v1"
)

func TestStart(t *testing.T) {
	t.Parallel()
	addr, stop, err := Start(t.Context())
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer stop()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("NewClient(%q): %v", addr, err)
	}
	defer cc.Close()

	resp, err := demov1.NewClockServiceClient(cc).GetTime(t.Context(), &demov1.GetTimeRequest{})
	if err != nil {
		t.Fatalf("GetTime: %v", err)
	}
	if !timeRE.MatchString(resp.GetTime()) {
		t.Errorf("GetTime = %q, want yyyymmdd hh:nn:ss", resp.GetTime())
	}

	// Reflection lists the clock, as the bridge's default descriptor source
	// needs.
	rc, err := grpc_reflection_v1.NewServerReflectionClient(cc).ServerReflectionInfo(t.Context())
	if err != nil {
		t.Fatalf("ServerReflectionInfo: %v", err)
	}
	if err := rc.Send(&grpc_reflection_v1.ServerReflectionRequest{
		MessageRequest: &grpc_reflection_v1.ServerReflectionRequest_ListServices{},
	}); err != nil {
		t.Fatalf("send ListServices: %v", err)
	}
	reply, err := rc.Recv()
	if err != nil {
		t.Fatalf("recv ListServices: %v", err)
	}
	if err := rc.CloseSend(); err != nil {
		t.Fatalf("CloseSend: %v", err)
	}
	var found bool
	for _, s := range reply.GetListServicesResponse().GetService() {
		found = found || s.GetName() == "demo.v1.ClockService"
	}
	if !found {
		t.Errorf("reflection lists %v, want demo.v1.ClockService among them", reply.GetListServicesResponse().GetService())
	}

	stop()
	stop() // a second stop is harmless
}
