package bridge_test

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/wampbridge/grpcwamp/bridge"
	"github.com/wampbridge/grpcwamp/bridge/internal/bridgetest"
)

func TestNamingAlias(t *testing.T) {
	t.Parallel()
	forEachDiscovery(t, func(t *testing.T, d bridgetest.Discovery) {
		e := start(t, d, bridge.WithAliases(map[string]string{
			"app.echo":  echoProc,
			"app.echo2": "/bridgetest.v1.TestService/Echo",
		}))
		c := e.connect(t, "")
		for _, p := range []string{"app.echo", "app.echo2", echoProc} {
			c.Send(t, `[2,"c","`+p+`",{"text":"hi"}]`)
			c.ExpectFrame(t, echoResult(t, "c", `{"text":"hi"}`, ""))
		}
	})
}

func TestNamingExpose(t *testing.T) {
	t.Parallel()
	forEachDiscovery(t, func(t *testing.T, d bridgetest.Discovery) {
		e := start(t, d, bridge.WithExpose("*.Echo"), bridge.WithAliases(map[string]string{"app.echo": echoProc}))
		c := e.connect(t, "")
		c.Send(t, `[2,"c","app.echo",{"text":"hi"}]`)
		c.ExpectFrame(t, echoResult(t, "c", `{"text":"hi"}`, ""))
		for _, p := range []string{failProc, "test.Fail", streamProc} {
			c.Send(t, `[2,"c","`+p+`",{}]`)
			c.ExpectCallError(t, "c", 12)
		}
	})
}

// TestNamingConflict: an alias claiming another method's URI is refused,
// naming the URI and both claimants.
func TestNamingConflict(t *testing.T) {
	t.Parallel()
	forEachDiscovery(t, func(t *testing.T, d bridgetest.Discovery) {
		opt := bridge.WithAliases(map[string]string{"test.Fail": echoProc})
		var err error
		switch d {
		case bridgetest.DescriptorSet:
			addr, _ := bridgetest.StartUpstream(t, bridgetest.UpstreamOptions{Reflection: bridgetest.ReflectionNone})
			cc, cerr := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
			if cerr != nil {
				t.Fatal(cerr)
			}
			defer cc.Close()
			h, herr := bridge.NewHandler(cc, bridge.WithDescriptorSetFile(bridgetest.WriteDescriptorSet(t)), opt)
			if herr == nil {
				_ = h.Shutdown(t.Context())
				t.Fatal("NewHandler: no error")
			}
			err = herr
		default:
			addr, _ := bridgetest.StartUpstream(t, bridgetest.UpstreamOptions{Reflection: bridgetest.ReflectionBoth})
			b := bridgetest.StartBridgeUnready(t, addr, d, opt)
			ctx, cancel := context.WithTimeout(t.Context(), bridgetest.Timeout)
			defer cancel()
			select {
			case err = <-b.Handler.Err():
			case <-ctx.Done():
				t.Fatal("no fatal error from Handler.Err")
			}
		}
		for _, want := range []string{`"test.Fail"`, "alias test.Fail=" + echoProc, failProc} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q lacks %q", err, want)
			}
		}
	})
}
