"""Exceptions, one per thing a caller would handle differently.

Every HTTP refusal carries the server's JSON ``{"error", "detail"}``
(docs/protocol.md lists the codes): ``str(e)`` reads e.g.
``401 invalid_signature: token signature does not verify``.
"""

from __future__ import annotations

from typing import Any


class VigilError(Exception):
    """Base of everything this package raises on purpose."""


class HTTPError(VigilError):
    """The server answered with an error status."""

    def __init__(self, status: int, error: str, detail: str, index: int | None = None,
                 retry_after: float | None = None) -> None:
        self.status = status
        #: The server's error code, e.g. ``store_unavailable``.
        self.error = error
        #: The server's explanation.
        self.detail = detail
        #: For a batch: which alert of the list was refused.
        self.index = index
        #: Seconds from the server's Retry-After, when it sent one.
        self.retry_after = retry_after
        where = f" (alert {index} of the batch)" if index is not None else ""
        super().__init__(f"{status} {error}: {detail}{where}")


class BadRequestError(HTTPError):
    """400: the alert is malformed (``invalid_alert``, ``invalid_json``)."""


class AuthenticationError(HTTPError):
    """401: no credentials, or the token or key is not valid (expired, bad signature...)."""


class ForbiddenError(HTTPError):
    """403: valid credentials without the needed role (publisher to publish, admin to monitor)."""


class PayloadTooLargeError(HTTPError):
    """413: body, frame, detection or batch over the server's limits."""


class UnsupportedMediaTypeError(HTTPError):
    """415: the frame is not JPEG or PNG, or not what its content type says."""


class RateLimitedError(HTTPError):
    """429: too many requests from this address (after the retries)."""


class ServiceUnavailableError(HTTPError):
    """503: the server cannot store alerts now (``store_unavailable``) or is
    stopping (``shutting_down``), after the retries."""


class TransportError(VigilError):
    """The server could not be reached, or the connection failed before an
    answer arrived, after the retries. ``__cause__`` is the last OSError."""


class QueueFullError(VigilError):
    """The background sender's queue is full: the alert was not queued."""


class EncodingError(VigilError, TypeError):
    """A detection or frame that cannot be turned into what the server takes."""


class ListenerStopped(VigilError):
    """The listener stopped for good: ``code`` is why (``replaced``: another
    connection of the same user took over, close 4001)."""

    def __init__(self, code: str, detail: str) -> None:
        self.code = code
        self.detail = detail
        super().__init__(f"{code}: {detail}")


_BY_STATUS: dict[int, type[HTTPError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: ForbiddenError,
    413: PayloadTooLargeError,
    415: UnsupportedMediaTypeError,
    429: RateLimitedError,
    503: ServiceUnavailableError,
}


def http_error(status: int, body: Any, retry_after: float | None = None) -> HTTPError:
    """The exception for an error answer; ``body`` is its parsed JSON, or anything else."""
    error, detail, index = f"http_{status}", "", None
    if isinstance(body, dict):
        error = str(body.get("error") or error)
        detail = str(body.get("detail") or "")
        index = body.get("index") if isinstance(body.get("index"), int) else None
    elif isinstance(body, (bytes, str)):
        detail = (body.decode("utf-8", "replace") if isinstance(body, bytes) else body)[:200]
    return _BY_STATUS.get(status, HTTPError)(status, error, detail, index, retry_after)
