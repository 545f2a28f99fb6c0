"""URL redaction for logs and errors: a URL's query values may carry ids, emails or secrets."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Query parameters whose values are harmless and useful when reading a log.
_SHOWN = frozenset(
    {
        "page",
        "per_page",
        "type",
        "module",
        "include",
        "include_child",
        "sort_by",
        "sort_order",
        "delete_previous_forecasts",
        "grant_type",
    }
)


def redact_url(url: str) -> str:
    """``url`` with every query value outside a short harmless list replaced by ``***``."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    pairs = [(k, v if k in _SHOWN else "***") for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(pairs, safe="*,"), ""))


def redact_credentials(url: str) -> str:
    """``url`` without any ``user:password@`` and with its query redacted: safe to show in an error."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # a port that is not a number: show no authority at all
        return "(an unreadable URL)"
    netloc = ("***@" if "@" in parts.netloc else "") + host + port
    return redact_url(urlunsplit((parts.scheme, netloc, parts.path, parts.query, "")))


def redact_path(url: str) -> str:
    """The path and redacted query of ``url``, without scheme and host: what a log line shows."""
    parts = urlsplit(redact_url(url))
    return parts.path + (f"?{parts.query}" if parts.query else "")
