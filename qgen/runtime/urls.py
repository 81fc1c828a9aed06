"""Backend URLs in messages, and the strict query parsing every backend's URL parser shares.

- :func:`mask_url` hides secrets wherever a URL is shown (exceptions, logs): the password of
  every ``scheme://user:password@`` in a text, and the value of every query parameter whose
  name looks secret (``password``, ``sslpassword``, ``token``, ...). It never parses, so a URL
  too broken to parse is masked as well, erring on the side of hiding too much.
- :func:`redact` also removes those secrets from a driver's own message, which may quote them.
- :func:`strict_query` refuses fragments, unknown parameters and parameters given twice, so
  a typo never reaches a driver (redis-py raised a raw ``TypeError``) and ``?a=1&a=2`` never
  silently means ``a=2``.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from urllib.parse import SplitResult, parse_qsl, unquote, urlsplit

from qgen.runtime.errors import ConfigError

MASK = "***"
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_URL_END = re.compile(r"[\s'\"<>`]")  # a URL shown in a message ends at a space or a quote
_SECRET_NAME = re.compile(r"pass|secret|token|auth|key", re.IGNORECASE)
_PAIR = re.compile(r"([?&;])([^=&#;?]*)=([^&#;]*)")
_MIN_LITERAL = 3  # shorter secrets are not replaced inside free text (they would garble it)


def mask_url(text: str) -> str:
    """``text`` with every URL password and secret query value replaced by ``***``."""
    marks = list(_SCHEME.finditer(text))
    if not marks:
        return _mask_query(text)
    out = [_mask_query(text[: marks[0].start()])]
    for i, mark in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        out.append(mark.group())
        out.append(_mask_authority(text[mark.end() : end]))
    return "".join(out)


def _mask_authority(segment: str) -> str:
    stop = _URL_END.search(segment)
    extent = stop.start() if stop else len(segment)
    url, tail = segment[:extent], segment[extent:]
    at = url.rfind("@")  # a password with an unencoded '@' or '/' is hidden whole
    if at >= 0 and not url.startswith("/"):  # sqlite:///path has no user:password
        colon = url.find(":", 0, at)
        if colon >= 0:
            url = url[: colon + 1] + MASK + url[at:]
    return _mask_query(url) + tail


def _mask_query(text: str) -> str:
    def hide(m: re.Match[str]) -> str:
        if _SECRET_NAME.search(m.group(2)) and m.group(3):
            return f"{m.group(1)}{m.group(2)}={MASK}"
        return m.group()

    return _PAIR.sub(hide, text)


def secrets_of(url: str) -> list[str]:
    """The secrets of ``url`` as they may appear in a driver's message (raw and decoded)."""
    found: list[str] = []
    for mark in _SCHEME.finditer(url):
        segment = url[mark.end() :]
        nxt = _SCHEME.search(segment)
        segment = segment[: nxt.start()] if nxt else segment
        at = segment.rfind("@")
        colon = segment.find(":", 0, at) if at >= 0 and not segment.startswith("/") else -1
        if colon >= 0:
            found.append(segment[colon + 1 : at])
    for m in _PAIR.finditer(url):
        if _SECRET_NAME.search(m.group(2)) and m.group(3):
            found.append(m.group(3))
    out = {s for raw in found for s in (raw, unquote(raw)) if len(s) >= _MIN_LITERAL}
    return sorted(out, key=len, reverse=True)  # longest first: a secret inside another


def redact(text: str, url: str) -> str:
    """``text`` (e.g. a driver's error message) with ``url``'s secrets removed."""
    text = mask_url(text)
    for secret in secrets_of(url):
        text = text.replace(secret, MASK)
    return text


def split_url(url: str, backend: str) -> SplitResult:
    """``urlsplit`` whose errors (a bad port, a broken IPv6 host) never quote the URL's
    password, as Python's own messages may (a password with an unencoded '/')."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  # raises ValueError for a non-numeric port
    except ValueError:
        raise ConfigError(
            f"cannot parse the {backend} URL {mask_url(url)!r}: check the host and port; "
            "a user name or password must be percent-encoded"
        ) from None
    return parts


def strict_query(url: str, allowed: Collection[str], backend: str) -> dict[str, str]:
    """The query parameters of ``url``; refuses a fragment, an unknown parameter and a
    parameter given twice with a :class:`ConfigError` that shows the URL masked."""
    shown = mask_url(url)
    if "#" in url:
        raise ConfigError(
            f"{backend} URL {shown!r} has a fragment ('#...'), which no backend uses; "
            "write '#' as %23 inside a value"
        )
    out: dict[str, str] = {}
    for key, value in parse_qsl(url.partition("?")[2], keep_blank_values=True):
        if key not in allowed:
            known = ", ".join(sorted(allowed))
            raise ConfigError(
                f"unknown {backend} URL parameter {key!r} in {shown!r} (known: {known})"
            )
        if key in out:
            raise ConfigError(f"{backend} URL parameter {key!r} is given twice in {shown!r}")
        out[key] = value
    return out
