package otelchisess_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/otelchisess"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprometheus "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// The metrics on a Prometheus /metrics endpoint, through the OpenTelemetry
// Prometheus exporter. Here a visit creates a session, and a scrape shows
// it; in an application, the exporter would register with
// prometheus.DefaultRegisterer and promhttp.Handler() serve /metrics.
func Example_prometheus() {
	registry := prometheus.NewRegistry()
	exporter, err := otelprometheus.New(otelprometheus.WithRegisterer(registry), otelprometheus.WithoutScopeInfo())
	if err != nil {
		panic(err)
	}
	sessions, err := chisess.New(chisess.Config{
		Backend:  backend.NewMemory(),
		Observer: otelchisess.NewObserver(otelchisess.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter)))),
	})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		s := chisess.From(r.Context())
		if err := s.Load(r.Context()); err != nil {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		s.Set("visited", true)
	})
	h := chisess.Load(sessions)(mux)

	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	scrape := httptest.NewRecorder()
	h.ServeHTTP(scrape, httptest.NewRequest("GET", "/metrics", nil))
	for line := range strings.Lines(scrape.Body.String()) {
		if strings.HasPrefix(line, "chisess_session_created") || strings.HasPrefix(line, "chisess_session_commits") {
			fmt.Print(line)
		}
	}
	// Output:
	// chisess_session_commits_total{chisess_backend="memory",chisess_outcome="created"} 1
	// chisess_session_created_total{chisess_backend="memory"} 1
}
