"""``sqs://`` URLs and SQS queue names.

``sqs://<region>?endpoint_url=http://127.0.0.1:5000&prefix=myapp-&create=1&max_message_bytes=N``

- ``region``: the AWS region (``sqs://`` alone: boto3's configured default region).
- ``endpoint_url``: a local SQS-speaking server (moto, ElasticMQ); default: AWS.
- ``prefix``: prepended to every qgen queue name to form the SQS queue name, so several apps or
  test runs share one account without clashing.
- ``create=1``: the worker creates missing queues (and their dead-letter redrive policies) at
  start-up and again if they disappear; off by default, since production queues are usually
  provisioned by infrastructure code (``qgen sqs create-queues`` does the same once).
- ``max_message_bytes``: payload limit checked before sending (default 1 MiB, SQS's limit).
- ``wait_seconds_max``: cap of WaitTimeSeconds (default 20, SQS's maximum).
- ``pause_check``: seconds between a worker's reads of a queue's paused tag (default 10, at
  least the queue's ``poll_interval``). AWS allows an account about 5 tagging requests a
  second, ListQueueTags included: keep (worker processes x queues) / ``pause_check`` well below
  that. A throttled worker reads less often by itself.

Credentials come from boto3's usual chain (environment, profile, instance role).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from qgen.runtime.errors import ConfigError
from qgen.runtime.urls import mask_url, split_url, strict_query

SQS_MAX_MESSAGE_BYTES = 1_048_576  # 1 MiB since August 2025 (was 256 KiB)
SQS_MAX_DELAY_S = 900
SQS_MAX_VISIBILITY_S = 43_200
SQS_MAX_WAIT_S = 20
SQS_MAX_BATCH = 10

# SQS: 1-80 characters of letters, digits, '-' and '_'; a FIFO queue's name ends in '.fifo'.
_SQS_NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,75}(\.fifo)?|[A-Za-z0-9_-]{1,80}")
_PREFIX_RE = re.compile(r"[A-Za-z0-9_-]{0,70}")
_REGION_RE = re.compile(r"[a-z0-9-]{1,40}")
_KNOWN_PARAMS = {
    "endpoint_url",
    "prefix",
    "create",
    "max_message_bytes",
    "wait_seconds_max",
    "pause_check",
}
PAUSE_CHECK_DEFAULT_S = 10


@dataclass(frozen=True, slots=True)
class SqsUrl:
    region: str | None
    endpoint_url: str | None
    prefix: str
    create: bool
    max_message_bytes: int
    wait_seconds_max: int
    pause_check_s: int = PAUSE_CHECK_DEFAULT_S

    def sqs_name(self, queue: str) -> str:
        """The SQS queue name of a qgen queue; raises ConfigError if SQS would refuse it."""
        name = self.prefix + queue
        if _SQS_NAME_RE.fullmatch(name) is None:
            raise ConfigError(
                f"queue {queue!r} cannot be an SQS queue as {name!r}: SQS names are 1 to 80 "
                "letters, digits, '-' or '_' (prefix included), with an optional '.fifo' suffix "
                "for FIFO queues; no other '.'"
            )
        return name

    def shown(self) -> str:
        """The URL for messages: region and endpoint, secrets masked."""
        text = f"sqs://{self.region or ''}"
        if self.endpoint_url:
            text += f"?endpoint_url={self.endpoint_url}"
        return mask_url(text)

    def queue_for(self, sqs_name: str) -> str | None:
        """The qgen queue name of an SQS queue name, or None if it lacks the prefix."""
        if not sqs_name.startswith(self.prefix):
            return None
        return sqs_name[len(self.prefix) :]


def is_fifo(queue: str) -> bool:
    return queue.endswith(".fifo")


def parse_sqs_url(url: str) -> SqsUrl:
    parts = split_url(url, "SQS")
    if parts.scheme.lower() != "sqs":
        raise ConfigError(f"not an sqs:// URL: {mask_url(url)!r}")
    region = parts.hostname or None
    if region is not None and _REGION_RE.fullmatch(region) is None:
        raise ConfigError(f"invalid AWS region {region!r} in {mask_url(url)!r}")
    params = strict_query(url, _KNOWN_PARAMS, "SQS")
    prefix = params.get("prefix", "")
    if _PREFIX_RE.fullmatch(prefix) is None:
        raise ConfigError(
            f"invalid SQS queue prefix {prefix!r}: at most 70 letters, digits, '-' or '_'"
        )
    endpoint = params.get("endpoint_url") or None
    if endpoint is not None and not endpoint.startswith(("http://", "https://")):
        raise ConfigError(
            f"endpoint_url must be an http:// or https:// URL, not {mask_url(endpoint)!r}"
        )
    return SqsUrl(
        region=region,
        endpoint_url=endpoint,
        prefix=prefix,
        create=_flag(params.get("create", "0"), "create"),
        max_message_bytes=_int(params, "max_message_bytes", SQS_MAX_MESSAGE_BYTES, 1),
        wait_seconds_max=_int(params, "wait_seconds_max", SQS_MAX_WAIT_S, 0, SQS_MAX_WAIT_S),
        pause_check_s=_int(params, "pause_check", PAUSE_CHECK_DEFAULT_S, 1, 3600),
    )


def _flag(value: str, key: str) -> bool:
    low = value.lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("", "0", "false", "no", "off"):
        return False
    raise ConfigError(f"sqs:// URL parameter {key} must be 0 or 1, not {value!r}")


def _int(params: dict[str, str], key: str, default: int, lo: int, hi: int | None = None) -> int:
    raw = params.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"sqs:// URL parameter {key} must be an integer, not {raw!r}") from None
    if value < lo or (hi is not None and value > hi):
        bound = f"from {lo} to {hi}" if hi is not None else f">= {lo}"
        raise ConfigError(f"sqs:// URL parameter {key} must be {bound}, not {value}")
    return value
