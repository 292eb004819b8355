"""Python client for vigil: publish anomaly alerts, read connection health,
listen to a user's alerts.

    from vigil_client import get_websocket_manager      # the quick reference's backend API
    from vigil_client import VigilClient                # synchronous publishing
    from vigil_client import AlertListener              # async iterator over a user's alerts

Publishing needs only the standard library; the listener needs ``websockets``.
"""

from .background import BackgroundSender, QueuedAlert, SenderStats
from .config import Config
from .encoding import detection_json, encode_frame
from .errors import (AuthenticationError, BadRequestError, EncodingError, ForbiddenError, HTTPError,
                     ListenerStopped, PayloadTooLargeError, QueueFullError, RateLimitedError,
                     ServiceUnavailableError, TransportError, UnsupportedMediaTypeError, VigilError)
from .listener import AlertListener
from .manager import WebSocketManager, get_websocket_manager
from .publisher import PublishResult, VigilClient, make_alert

__version__ = "0.1.0"

__all__ = [
    "AlertListener", "AuthenticationError", "BackgroundSender", "BadRequestError", "Config",
    "EncodingError", "ForbiddenError", "HTTPError", "ListenerStopped", "PayloadTooLargeError",
    "PublishResult", "QueueFullError", "QueuedAlert", "RateLimitedError", "SenderStats",
    "ServiceUnavailableError", "TransportError", "UnsupportedMediaTypeError", "VigilClient",
    "VigilError", "WebSocketManager", "detection_json", "encode_frame", "get_websocket_manager",
    "make_alert",
]
