package bridge

// RoundRobinServiceConfig is a gRPC service config choosing grpc-go's
// round_robin load balancer. Given to grpc.NewClient with
// grpc.WithDefaultServiceConfig, it makes a client connection keep a
// subchannel to every address its resolver returns (every A/AAAA record of
// a dns:///name:port target, for instance) and spread calls over the ready
// ones in turn, instead of the default pick_first, which sends everything
// to one address. A service config the upstream's DNS TXT record publishes
// takes precedence over this default. cmd/bridge dials every upstream with
// it.
const RoundRobinServiceConfig = `{"loadBalancingConfig":[{"round_robin":{}}]}`
