"""loadlens: an observability-integrated load runner around Locust."""

__version__ = "0.1.0"
