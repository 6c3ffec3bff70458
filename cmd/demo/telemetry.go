package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/otelchisess"
	"go.opentelemetry.io/otel/exporters/stdout/stdoutmetric"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// otelExporters lists the -otel values, in the order the help shows them.
var otelExporters = []string{"stdout"}

// metricsEvery is how often -otel stdout writes the metrics.
const metricsEvery = 30 * time.Second

// newTelemetry returns the OpenTelemetry Observer of -otel: with "stdout",
// every span of the sessions' loads, commits and backend calls is written
// to w as JSON when it ends, and the metrics every metricsEvery and at
// shutdown. shutdown flushes and stops both.
func newTelemetry(exporter string, w io.Writer) (obs chisess.Observer, shutdown func(context.Context) error, err error) {
	if exporter != "stdout" {
		return nil, nil, fmt.Errorf("-otel %q: the demo exports to stdout only", exporter)
	}
	spans, err := stdouttrace.New(stdouttrace.WithWriter(w))
	if err != nil {
		return nil, nil, err
	}
	metrics, err := stdoutmetric.New(stdoutmetric.WithWriter(w))
	if err != nil {
		return nil, nil, err
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewPeriodicReader(metrics, sdkmetric.WithInterval(metricsEvery))))
	shutdown = func(ctx context.Context) error {
		return errors.Join(tp.Shutdown(ctx), mp.Shutdown(ctx))
	}
	return otelchisess.NewObserver(otelchisess.WithTracerProvider(tp), otelchisess.WithMeterProvider(mp)), shutdown, nil
}
