#pragma once
// The plan that renders every shipped template (`template` steps with fixed values), shared by the
// golden-file tests (templates_e2e_test.cpp) and the server-side dry-run on the real test cluster
// (templates_cluster_test.cpp).
#include <string>
#include <vector>

namespace slipway::test {

// One plan renders every template: values as a real deploy would give them (REFERENCE-DEPLOYS §1/§2),
// chosen so that every optional branch of every template is taken somewhere.
inline constexpr const char* kRenderPlan = R"(apiVersion: slipway/v1
kind: Plan
metadata: {name: render-templates}
vars:
  namespace: shop
  image_registry: registry.example.com/shop
  image_tag: "1.4.2"
  public_host: shop.example.com
  tls_secret: shop-tls
steps:
  - id: namespace
    uses: template
    with: {src: templates/namespace/namespace.yaml, dest: out/namespace.yaml,
           values: {istio_injection: enabled, environment: production}}
  - id: namespace-linkerd
    uses: template
    with: {src: templates/namespace/namespace.yaml, dest: out/namespace-linkerd.yaml,
           values: {namespace: pipeline, linkerd_inject: enabled}}
  - id: destination-rules
    uses: template
    with:
      src: templates/istio/destination-rules.yaml
      dest: out/destination-rules.yaml
      values:
        services:
          - {name: auth, load_balancer: LEAST_CONN, consecutive_errors: 5, interval: 30s, base_ejection_time: 30s}
          - {name: game, load_balancer: ROUND_ROBIN, locality: true, consecutive_errors: 3, interval: 10s, base_ejection_time: 10s}
          - {name: ai, load_balancer: LEAST_CONN, consecutive_errors: 2, interval: 60s, base_ejection_time: 60s}
          - {name: social}
  - id: virtual-services
    uses: template
    with:
      src: templates/istio/virtual-service-canary.yaml
      dest: out/virtual-services.yaml
      values:
        services:
          - {name: auth, path_prefix: /auth}
          - {name: game, path_prefix: /game, canary_tag: 1.5.0-rc.1}
          - {name: chat, canary_tag: 2.0.0, stable_weight: 75, canary_weight: 25}
          - {name: ai, retry_attempts: 3, per_try_timeout: 30s, retry_on: "5xx,reset", timeout: 90s}
  - id: gateway
    uses: template
    with: {src: templates/istio/gateway.yaml, dest: out/gateway.yaml}
  - id: telemetry
    uses: template
    with: {src: templates/istio/telemetry.yaml, dest: out/telemetry.yaml, values: {tracing_sampling: 10.0}}
  - id: http-routes
    uses: template
    with:
      src: templates/linkerd/http-routes.yaml
      dest: out/http-routes.yaml
      values:
        services:
          - name: ingest
            routes:
              - {id: post-events, method: POST, path_prefix: /api/events}
              - {id: get-event, method: GET, path_prefix: /api/events/, retryable: true}
          - name: query
            port: 8080
            routes:
              - {id: query, path_prefix: /api/query, retryable: true, timeout: 30s, retry_limit: 3, retry_timeout: 5s}
  - id: service-profiles
    uses: template
    with:
      src: templates/linkerd/service-profiles.yaml
      dest: out/service-profiles.yaml
      values:
        services:
          - name: ingest
            routes:
              - {name: POST /api/events, method: POST, path_regex: /api/events}
              - {name: "GET /api/events/:id", path_regex: '/api/events/[^/]+', retryable: true}
          - {name: query, health_path: /healthz, routes: [{name: GET /api/query, path_regex: /api/query, timeout: 10s}]}
  - id: deployment
    uses: template
    with:
      src: templates/app/deployment.yaml
      dest: out/deployment.yaml
      values:
        otel_endpoint: http://otel-collector.observability:4318
        services:
          - {name: auth, cpu_request: 500m, memory_limit: 1Gi}
          - {name: game, canary_tag: 1.5.0-rc.1, port: 9090}
  - id: service
    uses: template
    with:
      src: templates/app/service.yaml
      dest: out/service.yaml
      values:
        services: [{name: auth}, {name: game, target_port: 9090, failure_accrual: 5}]
  - id: hpa
    uses: template
    with:
      src: templates/app/hpa.yaml
      dest: out/hpa.yaml
      values:
        services: [{name: auth, min_replicas: 3, max_replicas: 10}, {name: game}]
  - id: pdb
    uses: template
    with:
      src: templates/app/pdb.yaml
      dest: out/pdb.yaml
      values:
        services: [{name: auth, min_available: 2}, {name: game}, {name: ai, min_available: "50%"}]
  - id: prometheus-values
    uses: template
    with: {src: templates/observability/prometheus-values.yaml, dest: out/prometheus-values.yaml,
           values: {linkerd: true, retention: 30d, storage_class: gp3, grafana_admin_secret: grafana-admin,
                    jaeger_query_url: "http://jaeger-query.observability:16686"}}
  - id: prometheus-values-standalone-grafana
    uses: template
    with: {src: templates/observability/prometheus-values.yaml, dest: out/prometheus-values-standalone-grafana.yaml,
           values: {standalone_grafana: true}}
  - id: grafana-values
    uses: template
    with: {src: templates/observability/grafana-values.yaml, dest: out/grafana-values.yaml,
           values: {prometheus_url: "http://kube-prometheus-stack-prometheus.monitoring:9090",
                    jaeger_query_url: "http://jaeger-query.observability:16686"}}
  - id: otel-collector-values
    uses: template
    with: {src: templates/observability/otel-collector-values.yaml, dest: out/otel-collector-values.yaml,
           values: {jaeger_otlp_endpoint: "jaeger-collector.observability:4317"}}
  - id: jaeger-values
    uses: template
    with: {src: templates/observability/jaeger-values.yaml, dest: out/jaeger-values.yaml,
           values: {elasticsearch_host: elasticsearch-master.observability}}
  - id: slo-rules
    uses: template
    with:
      src: templates/observability/slo-rules.yaml
      dest: out/slo-rules.yaml
      values:
        sli_requests: 'istio_requests_total{reporter="destination",destination_service_namespace="shop"}'
        sli_errors: 'istio_requests_total{reporter="destination",destination_service_namespace="shop",response_code=~"5.."}'
        sli_latency_buckets: 'istio_request_duration_milliseconds_bucket{reporter="destination",destination_service_namespace="shop"}'
        sli_service_label: destination_service_name
        services:
          - {name: auth, availability: 99.9, latency_p95_ms: 200, error_rate: 0.1}
          - {name: game, availability: 99.5, latency_p95_ms: 500, error_rate: 0.5}
          - {name: ai, availability: 99.0, latency_p95_ms: 2000, error_rate: 1.0}
  - id: dashboard-application
    uses: template
    with: {src: templates/observability/dashboard-application.yaml, dest: out/dashboard-application.yaml}
  - id: dashboard-slo
    uses: template
    with: {src: templates/observability/dashboard-slo.yaml, dest: out/dashboard-slo.yaml}
  - id: dashboard-infrastructure
    uses: template
    with: {src: templates/observability/dashboard-infrastructure.yaml, dest: out/dashboard-infrastructure.yaml,
           values: {monitoring_namespace: observability}}
)";

// Rendered Kubernetes manifests (the rest are Helm values files).
inline const std::vector<std::string> kManifests = {
    "namespace",         "namespace-linkerd", "destination-rules", "virtual-services", "gateway",
    "service-profiles",  "deployment",        "service",           "hpa",              "pdb",
    "slo-rules",         "dashboard-application", "dashboard-slo", "dashboard-infrastructure", "telemetry",
    "http-routes"};
inline const std::vector<std::string> kValuesFiles = {"prometheus-values", "prometheus-values-standalone-grafana",
                                               "grafana-values", "otel-collector-values", "jaeger-values"};

}  // namespace slipway::test
