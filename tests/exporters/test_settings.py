"""Exporter settings: validation, OTLP target resolution (flags over OTEL_*), building the set."""

from __future__ import annotations

import pytest

from exporters.build import build_exporters
from exporters.otlp import OtlpExporter, resolve_target
from exporters.prometheus import PrometheusExporter
from exporters.pushgateway import PushgatewayExporter, group_url
from exporters.settings import OtlpSettings, PrometheusSettings, PushgatewaySettings
from runner.errors import ExporterError


class TestValidation:
    @pytest.mark.parametrize(
        ("build", "message"),
        [
            (lambda: PrometheusSettings(port=70000), "not a port number"),
            (lambda: PrometheusSettings(port=9646, linger_s=-1), "linger must be >= 0"),
            (lambda: PrometheusSettings(port=9646, max_names=0), "max_names"),
            (lambda: PushgatewaySettings(url="localhost:9091"), "not an http(s) URL"),
            (lambda: PushgatewaySettings(url="http://gw:9091", interval_s=0), "interval must be > 0"),
            (lambda: PushgatewaySettings(url="http://gw:99999"), "out of range"),
            (lambda: OtlpSettings(endpoint="ftp://collector"), "not an http(s) URL"),
            (lambda: OtlpSettings(protocol="http/json"), "use one of http/protobuf, grpc"),
            (lambda: OtlpSettings(interval_s=-5), "interval must be > 0"),
        ],
    )
    def test_bad_settings_are_one_line_exporter_errors(self, build, message) -> None:  # type: ignore[no-untyped-def]
        """Each bad value fails with an ExporterError naming the problem."""
        with pytest.raises(ExporterError, match=message.replace("(", r"\(").replace(")", r"\)")):
            build()

    def test_defaults_match_the_documented_ones(self) -> None:
        """Bind 127.0.0.1, linger 15 s, caps 200/20, pushgateway 10 s as job loadlens, OTLP every 5 s."""
        p = PrometheusSettings(port=9646)
        assert (p.bind, p.linger_s, p.max_names, p.max_statuses) == ("127.0.0.1", 15.0, 200, 20)
        g = PushgatewaySettings(url="http://gw:9091")
        assert (g.interval_s, g.job, g.delete_on_finish, g.effective_timeout_s) == (
            10.0,
            "loadlens",
            False,
            10.0,
        )
        o = OtlpSettings()
        assert (o.endpoint, o.protocol, o.interval_s, dict(o.headers)) == (None, None, 5.0, {})


class TestOtlpTarget:
    @pytest.mark.parametrize(
        ("settings", "environ", "protocol", "endpoint"),
        [
            (OtlpSettings(), {}, "http/protobuf", "http://localhost:4318/v1/metrics"),
            (OtlpSettings(), {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, "grpc", "http://localhost:4317"),
            (
                OtlpSettings(),
                {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://col:4318/"},
                "http/protobuf",
                "http://col:4318/v1/metrics",
            ),
            (
                OtlpSettings(),
                {
                    "OTEL_EXPORTER_OTLP_ENDPOINT": "http://col:4318",
                    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://m:1/x",
                },
                "http/protobuf",
                "http://m:1/x",
            ),
            (
                OtlpSettings(endpoint="http://flag:4318"),
                {"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://m:1/x"},
                "http/protobuf",
                "http://flag:4318/v1/metrics",
            ),
            (
                OtlpSettings(endpoint="http://flag:4318/v1/metrics"),
                {},
                "http/protobuf",
                "http://flag:4318/v1/metrics",
            ),
            (
                OtlpSettings(protocol="http/protobuf"),
                {"OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": "grpc"},
                "http/protobuf",
                "http://localhost:4318/v1/metrics",
            ),
            (
                OtlpSettings(),
                {
                    "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
                    "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": "grpc",
                },
                "grpc",
                "http://localhost:4317",
            ),
            (OtlpSettings(protocol="grpc", endpoint="http://col:4317"), {}, "grpc", "http://col:4317"),
        ],
    )
    def test_endpoint_and_protocol_resolve_like_the_sdk_with_flags_first(
        self, settings: OtlpSettings, environ: dict[str, str], protocol: str, endpoint: str
    ) -> None:
        """Flag, then the signal variable, then the generic one (+ /v1/metrics on HTTP), then the default."""
        target = resolve_target(settings, environ)
        assert (target.protocol, target.endpoint) == (protocol, endpoint)

    def test_headers_merge_with_the_flags_winning(self) -> None:
        """OTEL_EXPORTER_OTLP_HEADERS are parsed and loadlens's headers override them, keys lower-cased."""
        environ = {"OTEL_EXPORTER_OTLP_HEADERS": "api-key=env%20key,X-Team=perf"}
        target = resolve_target(OtlpSettings(headers={"API-Key": "flag"}), environ)
        assert dict(target.headers) == {"api-key": "flag", "x-team": "perf"}
        signal = {**environ, "OTEL_EXPORTER_OTLP_METRICS_HEADERS": "only=metrics"}
        assert dict(resolve_target(OtlpSettings(), signal).headers) == {"only": "metrics"}

    def test_timeout_comes_from_flag_then_variable_then_interval(self) -> None:
        """The export timeout never exceeds the interval unless asked, so exports do not pile up."""
        assert resolve_target(OtlpSettings(interval_s=2.0), {}).timeout_s == 2.0
        assert resolve_target(OtlpSettings(), {}).timeout_s == 5.0
        assert resolve_target(OtlpSettings(), {"OTEL_EXPORTER_OTLP_TIMEOUT": "7"}).timeout_s == 7.0
        assert (
            resolve_target(OtlpSettings(timeout_s=1.5), {"OTEL_EXPORTER_OTLP_TIMEOUT": "7"}).timeout_s == 1.5
        )
        with pytest.raises(ExporterError, match="not a number"):
            resolve_target(OtlpSettings(), {"OTEL_EXPORTER_OTLP_TIMEOUT": "soon"})

    def test_unsupported_protocol_from_the_environment_is_an_error(self) -> None:
        """OTEL_EXPORTER_OTLP_PROTOCOL=http/json (no SDK exporter for it) fails at build time."""
        with pytest.raises(ExporterError, match="'http/json' is not supported"):
            build_exporters(otlp=OtlpSettings(), environ={"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"})


class TestBuild:
    def test_builds_what_is_asked_in_a_fixed_order(self) -> None:
        """Prometheus, Pushgateway, OTLP: each exporter when its settings are given, none otherwise."""
        assert build_exporters() == []
        built = build_exporters(
            prometheus=PrometheusSettings(port=0),
            pushgateway=PushgatewaySettings(url="http://127.0.0.1:9"),
            otlp=OtlpSettings(),
            environ={},
        )
        assert [type(e) for e in built] == [PrometheusExporter, PushgatewayExporter, OtlpExporter]
        assert [e.name for e in built] == ["prometheus", "pushgateway", "otlp"]

    def test_workers_export_nothing(self) -> None:
        """In a distributed run only the master (the merged view) exports."""
        assert (
            build_exporters(prometheus=PrometheusSettings(port=0), otlp=OtlpSettings(), role="worker") == []
        )

    def test_group_url_is_job_and_run_id(self) -> None:
        """The Pushgateway group is /metrics/job/<job>/run_id/<run_id>; a "/" in a value uses base64."""
        assert group_url("http://gw:9091/", job="loadlens", run_id="load_2026") == (
            "http://gw:9091/metrics/job/loadlens/run_id/load_2026"
        )
        assert (
            group_url("http://gw:9091", job="ci", run_id="a/b")
            == "http://gw:9091/metrics/job/ci/run_id@base64/YS9i"
        )
