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


def redact_path(url: str) -> str:
    """The path and redacted query of ``url``, without scheme and host: what a log line shows."""
    parts = urlsplit(redact_url(url))
    return parts.path + (f"?{parts.query}" if parts.query else "")
