"""loadlens as a plugin for plain `locust`.

Either add one line to a locustfile::

    import runner.plugin  # noqa: F401  (loadlens: stats, exporters, verdict)

or load it beside the locustfile without touching it::

    locust -f locustfile.py,$(loadlens plugin-path) --headless ...

Then loadlens's options (--scenario, --loadlens-config, --out, ...) are Locust options too, and the
run ends with the same verdict, run directory and exit code as `loadlens run`. This module defines
no User and no LoadTestShape, so Locust finds nothing else in it.
"""

from runner.locust.bridge import install as _install

_install()
