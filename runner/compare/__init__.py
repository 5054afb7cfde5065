"""Baselines: compare two runs (``loadlens compare``), judge a run against a baseline
(``--baseline``), share baselines through S3, and list a scenario's history (``loadlens history``)."""
