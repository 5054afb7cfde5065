"""Server-metric sources: CloudWatch, Prometheus and the local process, behind one protocol.

``base`` holds the protocol (``MetricSource``) and its data (``SourceResult``, ``Missing``). The
AWS modules (``aws``, ``cloudwatch``, ``discovery``, ``preflight``) import botocore: import them
only when CloudWatch is configured. Nothing is imported here, so importing the package is free.
"""
