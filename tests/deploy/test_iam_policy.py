"""deploy/iam/loadlens-policy.json allows every AWS operation loadlens calls, and nothing else.

Two views of "what loadlens calls": a static scan of runner/ for AWS operation names (as client
method calls or as the string names ``AwsApi.call`` / ``AwsApi.pages`` take), and the operations
botocore actually sent during a full preflight, fetch and discovery run against a real moto server
(recorded with a ``before-call`` event hook)."""

from __future__ import annotations

import ast
import fnmatch
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore import xform_name

from runner.sources.alarms import AlarmsPlan, read_alarms
from runner.sources.aws import IAM_PREFIX, AwsApi
from runner.sources.cloudwatch import CloudWatchSource
from runner.sources.cloudwatch_catalog import CloudWatchTarget
from runner.sources.custom import ServerMetric
from runner.sources.discovery import discover
from runner.sources.logs import LogsPlan, log_group_exists, read_log_errors
from runner.sources.preflight import preflight
from tests.support.aws_stack import (
    aws_env,
    build_web_stack,
    create_rds_cluster,
    create_rds_instance,
    minutes,
    plain_session,
    put_series,
    reset,
)
from tests.support.procs import moto_server

ROOT = Path(__file__).resolve().parents[2]
POLICY = ROOT / "deploy" / "iam" / "loadlens-policy.json"


def client_methods() -> dict[str, dict[str, str]]:
    """For each AWS service loadlens uses: client method name -> API operation name."""
    session = botocore.session.get_session()
    return {
        service: {xform_name(op): op for op in session.get_service_model(service).operation_names}
        for service in IAM_PREFIX
    }


def static_actions() -> set[str]:
    """IAM actions for every AWS operation named anywhere in runner/ (method call or string literal)."""
    methods = client_methods()
    names: set[str] = set()
    for path in (ROOT / "runner").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                names.add(node.value)
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                names.add(node.func.attr)
    return {
        f"{IAM_PREFIX[service]}:{ops[name]}"
        for service, ops in methods.items()
        for name in names
        if name in ops
    }


def load_policy() -> dict[str, Any]:
    return dict(json.loads(POLICY.read_text()))


def policy_actions(policy: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for statement in policy["Statement"]:
        actions = statement["Action"]
        out += [actions] if isinstance(actions, str) else actions
    return out


def allowed(policy: dict[str, Any], action: str) -> bool:
    """IAM's evaluation for our simple policy: some Allow matches (case-insensitive wildcards), no
    Deny does."""

    def matches(statement: dict[str, Any]) -> bool:
        actions = statement["Action"]
        patterns = [actions] if isinstance(actions, str) else actions
        return any(fnmatch.fnmatchcase(action.lower(), p.lower()) for p in patterns)

    statements = policy["Statement"]
    if any(s["Effect"] == "Deny" and matches(s) for s in statements):
        return False
    return any(s["Effect"] == "Allow" and matches(s) for s in statements)


@pytest.fixture(scope="module")
def moto_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with moto_server(tmp_path_factory.mktemp("moto-iam")) as url:
        yield url


@pytest.fixture(scope="module")
def invoked(moto_url: str, tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """The IAM actions of every operation botocore sent while loadlens ran all its AWS paths."""
    calls: set[str] = set()
    reset(moto_url)
    with pytest.MonkeyPatch.context() as mp:
        aws_env(mp, moto_url, tmp_path_factory.mktemp("aws"))
        seed = plain_session()
        stack = build_web_stack(seed)
        create_rds_instance(seed, "shop-db")
        create_rds_cluster(seed, "shop-aurora")
        t0 = (int(time.time()) // 60 - 20) * 60.0
        put_series(
            seed.client("cloudwatch"),
            "AWS/ECS",
            "CPUUtilization",
            (("ClusterName", "shop"), ("ServiceName", "api")),
            minutes(t0, [20] * 10),
        )

        session = boto3.session.Session()

        def record(model: Any, **_: Any) -> None:
            calls.add(f"{IAM_PREFIX[model.service_model.service_name]}:{model.name}")

        session.events.register("before-call", record)
        api = AwsApi(session)
        # A missing = "zero" metric without datapoints: its existence is checked with ListMetrics.
        throttles = ServerMetric(
            name="Polly throttles", namespace="AWS/Polly", metric="ThrottledCount", max=0, missing="zero"
        )
        full = CloudWatchTarget(
            ecs_cluster="shop",
            ecs_service="api",
            rds_instance="shop-db",
            rds_cluster="shop-aurora",
            metrics=(throttles,),
        )
        preflight(full, api=api)
        source = CloudWatchSource(full, api=api)
        source.fetch(t0, t0 + 600)
        source.wait_settled(t0, t0 + 600, settle_s=0)
        discover(CloudWatchTarget(load_balancer="shop-alb"), api=api)
        discover(CloudWatchTarget(load_balancer=stack.load_balancer_arn), api=api)
        discover(CloudWatchTarget(target_groups=("api-tg", stack.target_group_arn)), api=api)
        # Application logs and alarms ([cloudwatch] log_group, alarms); moto refuses
        # DescribeAlarmHistory (not implemented), but the call is made and recorded all the same.
        seed.client("logs").create_log_group(logGroupName="/ecs/api")
        assert log_group_exists(api, "/ecs/api")
        assert read_log_errors(api, LogsPlan("/ecs/api"), start=t0, end=t0 + 600).failure is None
        read_alarms(api, AlarmsPlan(), start=t0, end=t0 + 600)
    return calls


class TestPolicyDocument:
    def test_is_a_valid_least_privilege_document(self) -> None:
        """The policy is an IAM document of Allow statements with explicit actions: no wildcards, no Deny."""
        policy = load_policy()
        assert policy["Version"] == "2012-10-17"
        for statement in policy["Statement"]:
            assert statement["Effect"] == "Allow" and statement["Sid"]
            assert statement["Resource"] == "*"
        actions = policy_actions(policy)
        assert actions and all(":" in a and "*" not in a for a in actions)
        assert len(actions) == len(set(actions))


class TestStaticScan:
    def test_scan_finds_the_operations_loadlens_is_known_to_call(self) -> None:
        """The scan sees the calls it must see (a check on the scan itself)."""
        assert {
            "cloudwatch:GetMetricData",
            "ecs:DescribeServices",
            "elasticloadbalancing:DescribeTargetGroups",
            "sts:GetCallerIdentity",
            "rds:DescribeDBInstances",
        } <= static_actions()

    def test_every_operation_in_the_code_is_allowed(self) -> None:
        """Every AWS operation named in runner/ is allowed by the policy."""
        policy = load_policy()
        assert sorted(a for a in static_actions() if not allowed(policy, a)) == []

    def test_policy_allows_nothing_the_code_does_not_call(self) -> None:
        """Least privilege: each action in the policy is one the code calls."""
        assert sorted(set(policy_actions(load_policy())) - static_actions()) == []


class TestRecordedCalls:
    def test_every_operation_sent_is_allowed(self, invoked: set[str]) -> None:
        """Every operation botocore sent during preflight, fetch, settle and discovery is allowed by
        the policy."""
        policy = load_policy()
        assert invoked >= {
            "sts:GetCallerIdentity",
            "cloudwatch:GetMetricData",
            "cloudwatch:ListMetrics",
            "ecs:DescribeServices",
            "logs:FilterLogEvents",
            "cloudwatch:DescribeAlarmHistory",
        }
        assert sorted(a for a in invoked if not allowed(policy, a)) == []

    def test_static_scan_covers_every_operation_sent(self, invoked: set[str]) -> None:
        """Nothing reaches AWS that the static scan missed (e.g. an operation name built at run time)."""
        assert sorted(invoked - static_actions()) == []

    def test_every_policy_action_was_exercised(self, invoked: set[str]) -> None:
        """The run above exercised every action the policy grants, so the recorded check is complete."""
        assert sorted(set(policy_actions(load_policy())) - invoked) == []
