"""Find the load balancer and target groups behind an ECS service (or resolve the configured ones).

Given only the cluster and the service: ECS DescribeServices gives the service's
``loadBalancers[].targetGroupArn``; ELBv2 DescribeTargetGroups gives each target group's
``LoadBalancerArns``. CloudWatch names both by ARN suffix (``app/<name>/<id>``,
``targetgroup/<name>/<id>``). A configured load balancer or target group (name, ARN or suffix) is
looked up the same way, which also proves it exists in this account and region.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from runner.errors import SourceError
from runner.sources.aws import AwsApi
from runner.sources.cloudwatch_catalog import CloudWatchTarget, Discovery, TargetGroupRef, arn_suffix

_LB = "loadbalancer/"
_TG = "targetgroup/"


def discover(target: CloudWatchTarget, *, api: AwsApi) -> Discovery:
    """The load balancers and target groups to read for ``target``, and whether the ECS cluster has
    Container Insights (when ``target.container_insights`` is None); raises ``SourceError`` when a
    named cluster, service, load balancer or target group does not exist."""
    notes: list[str] = []
    insights = False
    if target.ecs_cluster and target.ecs_service and target.container_insights is None:
        insights = container_insights_enabled(api, target.ecs_cluster)
        if not insights:
            notes.append(
                f"Container Insights is off for cluster {target.ecs_cluster}: its metrics are not read"
            )
    load_balancers, groups, found_from = _load_balancing(target, api, notes)
    return Discovery(
        load_balancers=load_balancers,
        target_groups=groups,
        found_from=found_from,
        notes=tuple(dict.fromkeys(notes)),
        container_insights=insights,
    )


def container_insights_enabled(api: AwsApi, cluster: str) -> bool:
    """Whether the ECS cluster publishes Container Insights metrics (setting enabled or enhanced)."""
    response = api.call(
        "ecs",
        "describe_clusters",
        {"clusters": [cluster], "include": ["SETTINGS"]},
        what=f"ECS cluster {cluster!r}",
    )
    found = [c for c in response.get("clusters", []) if c.get("status") != "INACTIVE"]
    if not found:
        raise SourceError(
            f"ECS cluster {cluster!r} not found in region {api.region}: check the name and the region"
        )
    settings = {s.get("name"): s.get("value") for s in found[0].get("settings", [])}
    return settings.get("containerInsights") in ("enabled", "enhanced")


def _load_balancing(
    target: CloudWatchTarget, api: AwsApi, notes: list[str]
) -> tuple[tuple[str, ...], tuple[TargetGroupRef, ...], str]:
    wanted_lb = None
    if target.target_groups:
        groups = _target_groups_by_name(api, target.target_groups)
        found_from = "configuration"
        if target.load_balancer:
            wanted_lb = arn_suffix(_load_balancer(api, target.load_balancer)["LoadBalancerArn"], _LB)
    elif target.load_balancer:
        lb = _load_balancer(api, target.load_balancer)
        wanted_lb = arn_suffix(lb["LoadBalancerArn"], _LB)
        what = f"load balancer {target.load_balancer!r}"
        groups = _pages_of(
            api,
            "describe_target_groups",
            {"LoadBalancerArn": lb["LoadBalancerArn"]},
            "TargetGroups",
            what=what,
        )
        found_from = "configuration"
    elif target.ecs_cluster and target.ecs_service:
        service = f"{target.ecs_cluster}/{target.ecs_service}"
        found_from = f"ECS service {service}"
        arns = _service_target_groups(api, target.ecs_cluster, target.ecs_service, notes)
        if not arns:
            notes.append(f"ECS service {service} has no load balancer")
            return (), (), found_from
        what = f"target groups of ECS service {service}"
        groups = _pages_of(
            api, "describe_target_groups", {"TargetGroupArns": list(arns)}, "TargetGroups", what=what
        )
    else:
        return (), (), ""

    refs: list[TargetGroupRef] = []
    for g in groups:
        tg = arn_suffix(g["TargetGroupArn"], _TG)
        lbs = [arn_suffix(a, _LB) for a in g.get("LoadBalancerArns", [])]
        if not lbs:
            notes.append(f"target group {tg} is attached to no load balancer: skipped")
        for lb_dim in lbs:
            if wanted_lb is not None and lb_dim != wanted_lb:
                continue
            if not lb_dim.startswith("app/"):
                notes.append(f"load balancer {lb_dim} is not an Application Load Balancer: skipped")
                continue
            refs.append(TargetGroupRef(dimension=tg, load_balancer=lb_dim, arn=g["TargetGroupArn"]))
    if wanted_lb is not None:
        load_balancers: tuple[str, ...] = (wanted_lb,) if wanted_lb.startswith("app/") else ()
        if not load_balancers:
            notes.append(f"load balancer {wanted_lb} is not an Application Load Balancer: skipped")
    else:
        load_balancers = tuple(dict.fromkeys(r.load_balancer for r in refs))
    return load_balancers, tuple(dict.fromkeys(refs)), found_from


def describe_service(api: AwsApi, cluster: str, service: str) -> dict[str, Any]:
    """The ECS service's description; raises ``SourceError`` naming the cluster or service if unknown."""
    response = api.call(
        "ecs",
        "describe_services",
        {"cluster": cluster, "services": [service]},
        what=f"ECS cluster {cluster!r}",
    )
    services = [s for s in response.get("services", []) if s.get("status") != "INACTIVE"]
    if not services:
        raise SourceError(
            f"ECS service {service!r} not found in cluster {cluster!r} (region {api.region}): "
            "check the name and the region"
        )
    return dict(services[0])


def _service_target_groups(api: AwsApi, cluster: str, service: str, notes: list[str]) -> tuple[str, ...]:
    desc = describe_service(api, cluster, service)
    arns = []
    for lb in desc.get("loadBalancers", []):
        if lb.get("targetGroupArn"):
            arns.append(lb["targetGroupArn"])
        elif lb.get("loadBalancerName"):
            notes.append(f"classic load balancer {lb['loadBalancerName']} is not read (Application LBs only)")
    return tuple(dict.fromkeys(arns))


def _load_balancer(api: AwsApi, given: str) -> dict[str, Any]:
    if given.startswith("arn:"):
        params: dict[str, Any] = {"LoadBalancerArns": [given]}
    else:
        # "app/<name>/<id>" or a plain name: ELBv2 looks load balancers up by name.
        name = given.split("/")[1] if given.count("/") == 2 else given
        params = {"Names": [name]}
    response = api.call("elbv2", "describe_load_balancers", params, what=f"load balancer {given!r}")
    found = response.get("LoadBalancers", [])
    if given.count("/") == 2 and not given.startswith("arn:"):
        found = [lb for lb in found if arn_suffix(lb["LoadBalancerArn"], _LB) == given]
    if not found:
        raise SourceError(
            f"load balancer {given!r} not found in region {api.region}: check the name and the region"
        )
    return dict(found[0])


def _target_groups_by_name(api: AwsApi, given: Iterable[str]) -> list[dict[str, Any]]:
    arns = [g for g in given if g.startswith("arn:")]
    names = [g.split("/")[1] if g.count("/") == 2 else g for g in given if not g.startswith("arn:")]
    what = "target group " + ", ".join(repr(g) for g in given)
    out: list[dict[str, Any]] = []
    if arns:
        out += _pages_of(api, "describe_target_groups", {"TargetGroupArns": arns}, "TargetGroups", what=what)
    if names:
        out += _pages_of(api, "describe_target_groups", {"Names": names}, "TargetGroups", what=what)
    return out


def _pages_of(
    api: AwsApi, operation: str, params: dict[str, Any], key: str, *, what: str
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for page in api.pages("elbv2", operation, params, what=what):
        items += page.get(key, [])
    return items
