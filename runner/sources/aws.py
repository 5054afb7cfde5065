"""boto3 clients for one session, and the one place where AWS errors become loadlens errors.

Every AWS call loadlens makes goes through ``AwsApi.call`` (or ``AwsApi.pages``, boto3's own
paginators), which names the IAM action it needs (``cloudwatch:GetMetricData``) and turns
botocore's exceptions into one-line ``SourceError`` subclasses. Retries are botocore's own retry
modes (``standard`` by default, ``adaptive`` on request): throttling, transient HTTP 5xx and
transient connection errors (a reset, a timeout, a refused connection) are retried with
botocore's jittered exponential backoff, up to ``max_attempts`` tries in all. What survives
them is translated here.

Credentials and region come only from boto3's standard chain (``profile`` and ``region``
arguments, then the environment, config files, SSO, instance roles). No endpoint URL is ever
passed to a client, so ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_<SERVICE>`` (boto3 reads them
natively) point loadlens at a stand-in such as moto.

Requires boto3 (the ``aws`` extra); this module imports botocore, so import it only when a
CloudWatch source is configured.
"""

from __future__ import annotations

import contextlib
import logging
import re
import types
from collections.abc import Iterator, Mapping
from typing import Any

from botocore import exceptions as bx
from botocore.config import Config

from runner.errors import SourceCredentialsError, SourceError, SourcePermissionError, SourceUnavailableError

# boto3 client name -> IAM action prefix (CloudWatch signs as "monitoring" but its IAM prefix is
# "cloudwatch"; ELBv2 is "elasticloadbalancing").
IAM_PREFIX: Mapping[str, str] = types.MappingProxyType(
    {
        "cloudwatch": "cloudwatch",
        "ecs": "ecs",
        "elbv2": "elasticloadbalancing",
        "logs": "logs",
        "rds": "rds",
        "sts": "sts",
    }
)
SERVICE_TITLE: Mapping[str, str] = types.MappingProxyType(
    {
        "cloudwatch": "CloudWatch",
        "ecs": "ECS",
        "elbv2": "Elastic Load Balancing",
        "logs": "CloudWatch Logs",
        "rds": "RDS",
        "sts": "STS",
    }
)

_THROTTLING = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
        "PriorRequestNotComplete",
    }
)
_EXPIRED = frozenset({"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"})
_BAD_CREDENTIALS = frozenset(
    {
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId",
        "AuthFailure",
        "IncompleteSignature",
        "MissingAuthenticationToken",
        "InvalidToken",
    }
)
_ACCESS_DENIED = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError", "Forbidden"}
)
_NOT_FOUND_SUFFIXES = ("NotFound", "NotFoundException", "NotFoundFault")
_INVALID = frozenset(
    {
        "ValidationError",
        "ValidationException",
        "InvalidParameterValue",
        "InvalidParameterCombination",
        "InvalidParameterException",
        "InvalidParameterValueException",
        "InvalidConfigurationRequest",
    }
)
_UNREACHABLE = (
    bx.EndpointConnectionError,
    bx.ConnectTimeoutError,
    bx.ReadTimeoutError,
    bx.ConnectionClosedError,
    bx.ProxyConnectionError,
    bx.SSLError,
    bx.HTTPClientError,
)
_PERFORM_RE = re.compile(r"perform:? ([a-z0-9-]+:[A-Za-z0-9*]+)")
_PRINCIPAL_RE = re.compile(r"User: (\S+) is not authorized")


class AwsServerError(SourceUnavailableError):
    """AWS (or a stand-in) answered a call with a server-side error (HTTP 5xx).

    Raised separately so a caller can split a batch and keep what can be answered (CloudWatch's
    GetMetricData fails a whole batch when one query cannot be answered)."""


NO_REGION = "no AWS region: set --aws-region, [cloudwatch] region, AWS_REGION or AWS_DEFAULT_REGION"


def make_session(*, profile: str | None = None, region: str | None = None) -> Any:
    """A boto3 session from the standard credential chain; ``profile``/``region`` override it."""
    try:
        import boto3  # deferred: a session is created only when asked
    except ImportError as exc:  # pragma: no cover - a regular dependency; runner.installed checks first
        raise SourceError("CloudWatch needs boto3, not installed here: pip install 'boto3>=1.34'") from exc
    quiet_botocore()
    try:
        return boto3.session.Session(profile_name=profile, region_name=region)
    except bx.ProfileNotFound as exc:
        raise SourceCredentialsError(
            f"AWS profile {profile!r} not found in ~/.aws/config or ~/.aws/credentials"
        ) from exc


def quiet_botocore() -> None:
    """Keep botocore's and boto3's INFO lines ("Found credentials in environment variables") out of
    the console: at INFO they say nothing a load test's reader needs. Left alone when the user
    asked for DEBUG logs (then every line is wanted) or set their level explicitly."""
    for name in ("botocore", "boto3"):
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET and logger.getEffectiveLevel() > logging.DEBUG:
            logger.setLevel(logging.WARNING)


def iam_action(service: str, operation: str) -> str:
    """The IAM action a client method needs: ("cloudwatch", "get_metric_data") -> cloudwatch:GetMetricData."""
    prefix = IAM_PREFIX.get(service, service)
    return f"{prefix}:{_api_name(operation)}"


def _api_name(operation: str) -> str:
    special = {"describe_db_instances": "DescribeDBInstances", "describe_db_clusters": "DescribeDBClusters"}
    if operation in special:
        return special[operation]
    return "".join(part.capitalize() for part in operation.split("_"))


class AwsApi:
    """Clients of one boto3 session, created on first use, with loadlens's retry and error policy.

    ``retry_mode`` is botocore's ("standard", or "adaptive", which also slows the client down when
    AWS throttles it); ``max_attempts`` counts the first try. Timeouts are per connection and read.
    """

    def __init__(
        self,
        session: Any,
        *,
        retry_mode: str = "standard",
        max_attempts: int = 3,
        timeout_s: float = 10.0,
    ) -> None:
        if retry_mode not in ("standard", "adaptive"):
            raise ValueError(f"retry_mode must be 'standard' or 'adaptive', not {retry_mode!r}")
        self._session = session
        self._retries = {"mode": retry_mode, "total_max_attempts": max(1, max_attempts)}
        self._timeout_s = timeout_s
        self._clients: dict[str, Any] = {}

    @property
    def region(self) -> str:
        """The session's region, or "(none)" when the chain has none."""
        return str(self._session.region_name or "(none)")

    def client(self, service: str) -> Any:
        """The (cached) boto3 client for ``service``, with botocore's retry mode and timeouts set."""
        cached = self._clients.get(service)
        if cached is not None:
            return cached
        if not self._session.region_name:
            raise SourceError(NO_REGION)
        config = Config(
            retries=dict(self._retries),
            connect_timeout=self._timeout_s,
            read_timeout=self._timeout_s,
            user_agent_extra="loadlens",
        )
        try:
            client = self._session.client(service, config=config)
        except bx.BotoCoreError as exc:
            raise _translate(exc, service=service, action="", region=self.region, endpoint="") from exc
        self._clients[service] = client
        return client

    def call(
        self,
        service: str,
        operation: str,
        params: Mapping[str, Any] | None = None,
        *,
        what: str = "",
    ) -> dict[str, Any]:
        """Call ``operation`` (a client method name, e.g. "describe_services") and return its response.

        botocore retries what its retry mode deems retryable; every failure left raises a
        ``SourceError`` subclass whose message names the action, or ``what`` (e.g. "ECS cluster
        'web'") when AWS says a resource does not exist.
        """
        client = self.client(service)
        method = getattr(client, operation)
        with self._translated(client, service, operation, what):
            return dict(method(**dict(params or {})))
        raise AssertionError("unreachable")  # pragma: no cover - the context manager re-raises

    def pages(
        self,
        service: str,
        operation: str,
        params: Mapping[str, Any],
        *,
        what: str = "",
        max_pages: int = 1000,
    ) -> Iterator[dict[str, Any]]:
        """Every page of a paginated call, through boto3's paginator for ``operation``."""
        client = self.client(service)
        paginator = client.get_paginator(operation)
        with self._translated(client, service, operation, what):
            for n, page in enumerate(paginator.paginate(**dict(params)), start=1):
                if n > max_pages:
                    raise SourceError(
                        f"{iam_action(service, operation)} returned more than {max_pages} pages"
                    )
                yield dict(page)

    @contextlib.contextmanager
    def _translated(self, client: Any, service: str, operation: str, what: str) -> Iterator[None]:
        action = _action(client, service, operation)
        try:
            yield
        except bx.ClientError as exc:
            if _code(exc) in _THROTTLING:
                attempts = self._retries["total_max_attempts"]
                raise SourceUnavailableError(
                    f"AWS kept throttling {action} ({attempts} attempts); try again later"
                ) from exc
            raise _translate_client_error(exc, action=action, region=self.region, what=what) from exc
        except bx.BotoCoreError as exc:
            endpoint = str(getattr(client.meta, "endpoint_url", ""))
            raise _translate(
                exc, service=service, action=action, region=self.region, endpoint=endpoint
            ) from exc


def _code(exc: bx.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _one_line(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    if text.startswith("<"):  # an HTML error page (a proxy, or moto's 500): its title says enough
        title = re.search(r"<title>([^<]*)</title>", text, re.IGNORECASE)
        text = title.group(1).strip() if title else " ".join(re.sub(r"<[^>]+>", " ", text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _action(client: Any, service: str, operation: str) -> str:
    api = getattr(client.meta, "method_to_api_mapping", {}).get(operation)
    return f"{IAM_PREFIX.get(service, service)}:{api}" if api else iam_action(service, operation)


def _translate_client_error(exc: bx.ClientError, *, action: str, region: str, what: str) -> SourceError:
    code = _code(exc)
    message = _one_line(str(exc.response.get("Error", {}).get("Message", "")))
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    if code in _EXPIRED:
        return SourceCredentialsError(
            f"AWS credentials have expired ({code} on {action}): refresh them (e.g. `aws sso login`)"
        )
    if code in _BAD_CREDENTIALS:
        return SourceCredentialsError(f"AWS rejected the credentials ({code} on {action}): {message}")
    if code in _ACCESS_DENIED:
        found = _PERFORM_RE.search(message)
        needed = found.group(1) if found else action
        who = _PRINCIPAL_RE.search(message)
        principal = f"{who.group(1)} lacks" if who else "the credentials lack"
        return SourcePermissionError(
            f"access denied: {principal} {needed} (see deploy/iam/loadlens-policy.json)"
        )
    if code.endswith(_NOT_FOUND_SUFFIXES) or code == "ResourceNotFoundException":
        subject = what or f"the resource {action} was asked about"
        return SourceError(f"{subject} not found in region {region}: check the name and the region")
    if code in _INVALID:
        return SourceError(f"{action} rejected the request ({code}): {message}")
    if status >= 500 or code in {
        "InternalFailure",
        "InternalError",
        "ServiceUnavailable",
        "InternalServiceError",
    }:
        detail = f": {message}" if message else ""
        return AwsServerError(f"{action} failed on the AWS side (HTTP {status or code}){detail}")
    return SourceError(f"{action} failed ({code}): {message}")


def _translate(
    exc: bx.BotoCoreError, *, service: str, action: str, region: str, endpoint: str
) -> SourceError:
    title = SERVICE_TITLE.get(service, service)
    action = action or title
    if isinstance(exc, bx.NoCredentialsError):
        return SourceCredentialsError(
            "no AWS credentials found: set AWS_PROFILE (or the profile option), AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, or run `aws sso login`"
        )
    if isinstance(exc, bx.PartialCredentialsError):
        return SourceCredentialsError(f"incomplete AWS credentials: {_one_line(str(exc))}")
    if isinstance(exc, bx.TokenRetrievalError | bx.SSOTokenLoadError | bx.UnauthorizedSSOTokenError):
        return SourceCredentialsError(
            f"the AWS SSO session has expired or is missing: run `aws sso login` ({_one_line(str(exc))})"
        )
    if isinstance(exc, bx.CredentialRetrievalError):
        return SourceCredentialsError(f"could not load AWS credentials: {_one_line(str(exc))}")
    if isinstance(exc, bx.ProfileNotFound):
        return SourceCredentialsError(f"AWS profile not found: {_one_line(str(exc))}")
    if isinstance(exc, bx.NoRegionError):
        return SourceError(NO_REGION)
    if isinstance(exc, _UNREACHABLE):
        where = f" at {endpoint}" if endpoint else ""
        return SourceUnavailableError(
            f"cannot reach {title}{where} (region {region}): {_one_line(str(exc), 120)}"
        )
    if isinstance(exc, bx.ParamValidationError):
        return SourceError(f"{action}: invalid request parameters: {_one_line(str(exc))}")
    return SourceError(f"{action} failed: {_one_line(str(exc))}")
