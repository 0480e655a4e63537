"""Exporters for retry metrics and events: Prometheus (``prometheus``) and OpenTelemetry
(``otel``). Each imports its library lazily; zenoo_retry itself depends on neither."""
