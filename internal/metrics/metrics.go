// Package metrics defines the proxy's Prometheus metrics. They are served
// on their own listener (METRICS_ADDR) so that they are not exposed where
// the API is.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/authz"
)

const namespace = "prefect_auth_proxy"

// CacheCounters are the key cache counters since start.
type CacheCounters struct {
	Hits, NegativeHits, Misses, Lookups, StoreErrors uint64
}

// CacheStats returns the current key cache counters.
type CacheStats func() CacheCounters

// Metrics holds the proxy's collectors on their own registry.
type Metrics struct {
	registry   *prometheus.Registry
	decisions  *prometheus.CounterVec
	operations *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	upstream   *prometheus.CounterVec
}

// New registers the proxy's metrics, the Go runtime and process collectors,
// and the key cache counters read from stats.
func New(stats CacheStats) *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "requests_total",
			Help:      "Requests by decision (allowed or blocked) and reason code.",
		}, []string{"decision", "reason"}),
		operations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "graphql_operations_total",
			Help:      "GraphQL operations (batch elements count one each) by operation type, decision and reason code.",
		}, []string{"operation_type", "decision", "reason"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace,
			Name:      "request_duration_seconds",
			Help:      "Time from receiving a request to the end of its answer, in seconds, by decision.",
			Buckets:   prometheus.ExponentialBuckets(0.0005, 4, 10),
		}, []string{"decision"}),
		upstream: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "upstream_errors_total",
			Help:      "Requests that failed to reach the upstream, by answered status (502 or 504).",
		}, []string{"status"}),
	}

	m.registry.MustRegister(m.decisions, m.operations, m.duration, m.upstream,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.registerCache(stats)
	return m
}

func (m *Metrics) registerCache(stats CacheStats) {
	if stats == nil {
		return
	}
	counter := func(name, help string, pick func(CacheCounters) uint64) prometheus.CounterFunc {
		options := prometheus.CounterOpts{Namespace: namespace, Subsystem: "key_cache", Name: name, Help: help}
		return prometheus.NewCounterFunc(options, func() float64 { return float64(pick(stats())) })
	}
	m.registry.MustRegister(
		counter("hits_total", "Requests answered from a cached key.",
			func(c CacheCounters) uint64 { return c.Hits }),
		counter("negative_hits_total", "Requests answered from a cached unknown key.",
			func(c CacheCounters) uint64 { return c.NegativeHits }),
		counter("misses_total", "Requests that found no fresh cache entry.",
			func(c CacheCounters) uint64 { return c.Misses }),
		counter("store_lookups_total", "Key store queries; concurrent misses of one key share one query.",
			func(c CacheCounters) uint64 { return c.Lookups }),
		counter("store_errors_total", "Key store queries that failed.",
			func(c CacheCounters) uint64 { return c.StoreErrors }),
	)
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// Registry returns the registry, for tests.
func (m *Metrics) Registry() *prometheus.Registry {
	return m.registry
}

// ObserveRequest counts one request's decision and its duration.
func (m *Metrics) ObserveRequest(decision authz.Decision, elapsed time.Duration) {
	word := decisionWord(decision)
	m.decisions.WithLabelValues(word, string(decision.Reason)).Inc()
	m.duration.WithLabelValues(word).Observe(elapsed.Seconds())
}

// ObserveOperation counts one GraphQL operation's decision.
func (m *Metrics) ObserveOperation(operationType string, decision authz.Decision) {
	m.operations.WithLabelValues(operationType, decisionWord(decision), string(decision.Reason)).Inc()
}

// ObserveUpstreamError counts a request that failed to reach the upstream.
func (m *Metrics) ObserveUpstreamError(status int) {
	label := "502"
	if status == http.StatusGatewayTimeout {
		label = "504"
	}
	m.upstream.WithLabelValues(label).Inc()
}

func decisionWord(decision authz.Decision) string {
	if decision.Allow {
		return "allowed"
	}
	return "blocked"
}
