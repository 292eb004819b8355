"""Where the server is, how to authenticate, and how patient to be.

Every setting is an argument; the three that differ between deployments also
come from the environment (``VIGIL_URL``, ``VIGIL_TOKEN``, ``VIGIL_API_KEY``),
arguments winning.
"""

from __future__ import annotations

import dataclasses
import os
import urllib.parse
from typing import Literal

DEFAULT_URL = "http://localhost:8000"


@dataclasses.dataclass(frozen=True)
class Config:
    """Settings shared by the publisher, the background sender and the listener.

    ``url`` is the server's base URL: ``http://`` or ``https://`` (``ws://`` and
    ``wss://`` are accepted and mean the same server). Credentials: a JWT
    (``token``, sent as ``Authorization: Bearer``) or an API key (``api_key``,
    sent as ``X-API-Key``). Publishing needs the publisher or admin role;
    ``get_connection_stats`` needs admin.
    """

    url: str = DEFAULT_URL
    token: str | None = None
    api_key: str | None = None
    #: Seconds for connecting and for each read or write on the socket.
    timeout: float = 10.0
    #: Attempts after the first for a publish that failed on the network or got
    #: 429/502/503/504. Each retry reuses the call's idempotency key.
    max_retries: int = 3
    #: First retry delay (seconds); doubles per retry up to ``backoff_max``,
    #: each delay drawn uniformly in [0, that bound] ("full jitter").
    backoff_initial: float = 0.2
    backoff_max: float = 5.0
    #: Idle keep-alive connections kept for reuse.
    pool_size: int = 8
    #: An idle connection older than this is closed rather than reused: the
    #: server drops idle keep-alive connections after its --http-timeout (30 s).
    pool_idle_seconds: float = 15.0
    #: How numpy frames are laid out: OpenCV's BGR (default) or RGB.
    channel_order: Literal["bgr", "rgb"] = "bgr"
    #: JPEG quality for numpy frames, 1-95.
    jpeg_quality: int = 90

    def __post_init__(self) -> None:
        scheme = urllib.parse.urlsplit(self.url).scheme
        if scheme not in ("http", "https", "ws", "wss"):
            raise ValueError(f"url must start with http://, https://, ws:// or wss://, got {self.url!r}")
        if self.channel_order not in ("bgr", "rgb"):
            raise ValueError("channel_order must be 'bgr' or 'rgb'")
        if not 1 <= self.jpeg_quality <= 95:
            raise ValueError("jpeg_quality must be 1-95")
        if self.max_retries < 0 or self.timeout <= 0:
            raise ValueError("max_retries must be >= 0 and timeout > 0")

    @classmethod
    def from_env(cls, **overrides: object) -> "Config":
        """A config from VIGIL_URL, VIGIL_TOKEN and VIGIL_API_KEY; keyword
        arguments that are not None win over the environment."""
        values: dict[str, object] = {}
        for field, env in (("url", "VIGIL_URL"), ("token", "VIGIL_TOKEN"), ("api_key", "VIGIL_API_KEY")):
            if os.environ.get(env):
                values[field] = os.environ[env]
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]

    @property
    def http_base(self) -> urllib.parse.SplitResult:
        """The base URL as http(s), path without a trailing slash."""
        u = urllib.parse.urlsplit(self.url)
        scheme = {"ws": "http", "wss": "https"}.get(u.scheme, u.scheme)
        return u._replace(scheme=scheme, path=u.path.rstrip("/"), query="", fragment="")

    @property
    def ws_base(self) -> str:
        """The base URL as ws(s)://host:port/path."""
        u = self.http_base
        return urllib.parse.urlunsplit(u._replace(scheme="wss" if u.scheme == "https" else "ws"))

    def auth_headers(self) -> dict[str, str]:
        if self.token:
            return {"Authorization": f"Bearer {self.token}"}
        if self.api_key:
            return {"X-API-Key": self.api_key}
        return {}

    def __repr__(self) -> str:
        # Credentials never reach logs or tracebacks.
        shown = dataclasses.replace(self, token="***" if self.token else None,
                                    api_key="***" if self.api_key else None)
        fields = ", ".join(f"{f.name}={getattr(shown, f.name)!r}" for f in dataclasses.fields(self))
        return f"Config({fields})"
