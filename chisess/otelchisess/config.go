package otelchisess

import (
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// An Option configures an [Observer].
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	tracerProvider trace.TracerProvider
	meterProvider  metric.MeterProvider
	attrs          []attribute.KeyValue
	backendName    string
	backendCalls   bool
}

func newConfig(opts []Option) config {
	c := config{backendCalls: true}
	for _, o := range opts {
		o.apply(&c)
	}
	if c.tracerProvider == nil {
		c.tracerProvider = otel.GetTracerProvider()
	}
	if c.meterProvider == nil {
		c.meterProvider = otel.GetMeterProvider()
	}
	return c
}

// WithTracerProvider sets the TracerProvider the spans are made with.
// Default: the global one, otel.GetTracerProvider().
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(c *config) { c.tracerProvider = tp })
}

// WithMeterProvider sets the MeterProvider the metrics are made with.
// Default: the global one, otel.GetMeterProvider().
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) { c.meterProvider = mp })
}

// WithAttributes adds attributes to every span and measurement, such as
// one that tells two managers of an application apart. Keep them few and
// of low cardinality: never a user or session ID.
func WithAttributes(attrs ...attribute.KeyValue) Option {
	return optionFunc(func(c *config) { c.attrs = append(c.attrs, attrs...) })
}

// WithBackendName sets the value of the chisess.backend attribute.
// Default: "cookie" for the sealed cookie, "memory", "redis",
// "postgresql" and "bolt" for the backends chisess ships, and the name of
// the package that defines any other backend's type.
func WithBackendName(name string) Option {
	return optionFunc(func(c *config) { c.backendName = name })
}

// WithoutBackendSpans leaves out the child spans of backend calls: a load or
// commit is one span, and the calls are still measured in
// chisess.backend.operation.duration. Use it when a trace holds too many
// spans, or when the backend's driver traces its calls already (go-redis's
// redisotel, pgx's otelpgx).
func WithoutBackendSpans() Option {
	return optionFunc(func(c *config) { c.backendCalls = false })
}
