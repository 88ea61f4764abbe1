package main

import (
	"context"
	"fmt"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"google.golang.org/grpc"
)

// traceServiceName is the service.name of the bridge's spans unless
// $OTEL_SERVICE_NAME says otherwise.
const traceServiceName = "grpcwamp-bridge"

// newTracing returns the dial option that traces every upstream call with
// OpenTelemetry: the gRPC client stats handler of otelgrpc makes a client
// span per call and propagates its context upstream in the W3C
// traceparent (and baggage) metadata. Spans go in batches to the OTLP/gRPC
// collector at endpoint, a URL: http://host:4317 for plaintext,
// https://host:4317 for TLS. The exporter also honours the standard
// OTEL_EXPORTER_OTLP_* variables (headers, certificates, compression);
// ratio is the fraction of traces sampled, a parent's decision winning.
// shutdown flushes the spans still buffered. The flags check endpoint and
// ratio.
func newTracing(ctx context.Context, endpoint string, ratio float64) (opt grpc.DialOption, shutdown func(context.Context) error, err error) {
	exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpointURL(endpoint))
	if err != nil {
		return nil, nil, fmt.Errorf("flag -trace-endpoint: %w", err)
	}
	res, err := resource.New(ctx,
		resource.WithTelemetrySDK(),
		resource.WithAttributes(semconv.ServiceName(traceServiceName)),
		resource.WithFromEnv(), // then $OTEL_SERVICE_NAME and $OTEL_RESOURCE_ATTRIBUTES win
	)
	if err != nil {
		return nil, nil, fmt.Errorf("tracing resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))),
	)
	prop := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	h := otelgrpc.NewClientHandler(otelgrpc.WithTracerProvider(tp), otelgrpc.WithPropagators(prop))
	return grpc.WithStatsHandler(h), tp.Shutdown, nil
}
