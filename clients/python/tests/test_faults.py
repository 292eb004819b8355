"""Publishing under faults: lost answers, refusals, a store that cannot write,
a server that is gone, a producer faster than the server."""

from __future__ import annotations

import threading
import time

import pytest

from conftest import VigilServer
from tcp_proxy import TcpProxy
from test_quickref import PNG
from vigil_client import (AuthenticationError, ForbiddenError, PayloadTooLargeError, QueueFullError,
                          ServiceUnavailableError, TransportError, VigilClient)


def wait_for(condition, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_retry_after_a_lost_answer_stores_the_alert_once(server, user_id):
    proxy = TcpProxy(server.port, drop_responses=1)
    try:
        with VigilClient(proxy.url, token=server.token("d", "publisher"), backoff_initial=0.05) as client:
            result = client.publish(user_id, "cam", {"type": "intrusion"})
        assert proxy.dropped == 1 and proxy.connections == 2  # the first answer was lost, then a retry
        # The retry carried the same idempotency key: the server answered with the first alert.
        assert result.duplicate is True
        stored = server.history(user_id)
        assert [a["alert_id"] for a in stored] == [result.alert_id]
    finally:
        proxy.close()


def test_batch_retry_after_a_lost_answer_stores_each_alert_once(server, user_id):
    from vigil_client import make_alert
    proxy = TcpProxy(server.port, drop_responses=1)
    try:
        with VigilClient(proxy.url, token=server.token("d", "publisher"), backoff_initial=0.05) as client:
            results = client.publish_many([make_alert(user_id, "cam", {"i": i}) for i in range(50)])
        assert proxy.dropped == 1
        assert all(r.duplicate for r in results)
        stored = server.history(user_id)
        assert len(stored) == 50 and sorted(a["detection"]["i"] for a in stored) == list(range(50))
    finally:
        proxy.close()


def test_bad_token_is_401_with_the_servers_detail(server, user_id):
    with VigilClient(server.url, token=server.token("d", "publisher") + "x") as client:
        with pytest.raises(AuthenticationError) as e:
            client.publish(user_id, "cam", {"type": "x"})
    assert e.value.status == 401 and e.value.error == "invalid_signature" and e.value.detail
    with VigilClient(server.url) as client:  # no credentials at all
        with pytest.raises(AuthenticationError) as e:
            client.publish(user_id, "cam", {"type": "x"})
    assert e.value.error == "missing_token"
    assert server.history(user_id) == []


def test_missing_role_is_403(server, user_id):
    with VigilClient(server.url, token=server.token(user_id)) as client:  # a user token may not publish
        with pytest.raises(ForbiddenError) as e:
            client.publish(user_id, "cam", {"type": "x"})
        assert e.value.status == 403 and e.value.error == "forbidden"
    with VigilClient(server.url, token=server.token("d", "publisher")) as client:  # nor may a publisher monitor
        with pytest.raises(ForbiddenError):
            client.get_connection_stats(user_id)


def test_oversized_frame_is_413(server, user_id):
    big = PNG + b"\0" * (3 * 1024 * 1024)
    with VigilClient(server.url, token=server.token("d", "publisher")) as client:
        with pytest.raises(PayloadTooLargeError) as e:
            client.publish(user_id, "cam", {"type": "x"}, big)
    assert e.value.status == 413 and e.value.error == "frame_too_large"


@pytest.mark.server(max_file_bytes=4_000_000)
def test_store_that_cannot_write_is_503_after_the_retries(fresh_server, user_id):
    """A real store failure: the server's files may not grow past 4 MB (as on
    a full disk), so SQLite's writes fail and vigil answers 503."""
    big = b"\xff\xd8\xff" + bytes(1_500_000)
    with VigilClient(fresh_server.url, token=fresh_server.token("d", "publisher"), max_retries=2,
                     backoff_initial=0.05) as client:
        with pytest.raises(ServiceUnavailableError) as e:
            for i in range(10):
                client.publish(user_id, "cam", {"i": i}, big)
    assert e.value.status == 503 and e.value.error == "store_unavailable"
    assert "retry" in e.value.detail  # the server's own error stays in its log
    assert "disk I/O error" in fresh_server.log() or "full" in fresh_server.log()
    # The refused alert reached the store three times: the first attempt and max_retries=2 retries.
    assert fresh_server.log().count('"event":"store.write_failed"') >= 3


def test_server_gone_is_a_transport_error_after_the_retries(fresh_server, user_id):
    url, token = fresh_server.url, fresh_server.token("d", "publisher")
    fresh_server.stop()
    with VigilClient(url, token=token, max_retries=2, backoff_initial=0.05) as client:
        with pytest.raises(TransportError, match="after 3 attempts") as e:
            client.publish(user_id, "cam", {"type": "x"})
    assert isinstance(e.value.__cause__, OSError)


def test_full_background_queue_reports_itself_and_nothing_is_lost(server, user_id):
    hold = threading.Event()  # the server stops answering
    proxy = TcpProxy(server.port, hold=hold)
    try:
        with VigilClient(proxy.url, token=server.token("d", "publisher")) as client:
            sender = client.background(max_queue=5, max_batch=100)
            sender.submit(user_id, "cam", {"i": 0})
            wait_for(lambda: sender.stats.queued == 1 and proxy.connections == 1, what="first batch in flight")
            for i in range(1, 6):
                sender.submit(user_id, "cam", {"i": i})
            with pytest.raises(QueueFullError, match="5 alerts waiting"):
                sender.submit(user_id, "cam", {"i": 6})
            with pytest.raises(QueueFullError):
                sender.submit(user_id, "cam", {"i": 7}, block=True, timeout=0.2)
            assert sender.stats.rejected == 2 and sender.stats.queued == 6
            hold.set()  # the server answers again
            assert sender.flush(timeout=30)
            assert sender.stats.sent == 6 and sender.stats.failed == 0
        stored = server.history(user_id)
        assert sorted(a["detection"]["i"] for a in stored) == list(range(6))
    finally:
        proxy.close()


def test_background_refusal_of_one_alert_reaches_on_error_and_the_rest_is_sent(server, user_id):
    failures = []
    big = PNG + b"\0" * (3 * 1024 * 1024)  # over the server's 2 MiB frame limit
    hold = threading.Event()
    proxy = TcpProxy(server.port, hold=hold)
    try:
        with VigilClient(proxy.url, token=server.token("d", "publisher")) as client:
            sender = client.background(on_error=lambda alert, error: failures.append((alert, error)))
            sender.submit(user_id, "cam", {"i": 0})
            wait_for(lambda: proxy.connections == 1, what="first batch in flight")
            for i in range(1, 4):  # batched together behind the first
                sender.submit(user_id, "cam", {"i": i}, big if i == 2 else None)
            hold.set()
            assert sender.flush(timeout=30)
            assert sender.stats.sent == 3 and sender.stats.failed == 1
        assert len(failures) == 1
        alert, error = failures[0]
        assert alert.user_id == user_id and isinstance(error, PayloadTooLargeError)
        assert error.error == "frame_too_large"
        assert sorted(a["detection"]["i"] for a in server.history(user_id)) == [0, 1, 3]
    finally:
        proxy.close()


def test_background_sender_reports_a_server_that_is_gone(user_id):
    gone = VigilServer().start()
    url, token = gone.url, gone.token("d", "publisher")
    gone.cleanup()
    failures = []
    with VigilClient(url, token=token, max_retries=1, backoff_initial=0.01) as client:
        sender = client.background(on_error=lambda alert, error: failures.append(error))
        key = sender.submit(user_id, "cam", {"type": "x"})
        assert sender.flush(timeout=30)
    assert sender.stats.failed == 1 and len(failures) == 1 and isinstance(failures[0], TransportError)
    assert key.startswith("py-")
