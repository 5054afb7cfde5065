"""Live exporters: Prometheus /metrics, Pushgateway, OTLP, and Grafana annotations."""
