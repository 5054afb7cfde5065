"""The Grafana dashboards beside this file, generated from Python (dev-time only: see generate.py)."""
