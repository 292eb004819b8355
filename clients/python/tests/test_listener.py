"""The listener: receive and acknowledge, reconnect and resume across server
restarts without a gap or a duplicate, stop when replaced or refused."""

from __future__ import annotations

import asyncio
import json

import pytest

from conftest import VigilServer
from vigil_client import AlertListener, AuthenticationError, ListenerStopped, VigilClient, make_alert

FAST = {"initial_delay": 0.1, "max_delay": 0.5}


async def take(alerts: AlertListener, n: int, timeout: float = 30) -> list[dict]:
    return [await asyncio.wait_for(alerts.__anext__(), timeout) for _ in range(n)]


def publish(server: VigilServer, user: str, *labels: int) -> None:
    with VigilClient(server.url, token=server.token("d", "publisher")) as client:
        client.publish_many([make_alert(user, "cam", {"n": n}) for n in labels])


def test_receive_and_ack(server, user_id):
    async def scenario() -> tuple[dict, dict]:
        async with AlertListener(user_id, url=server.url, token=server.token(user_id)) as alerts:
            await alerts.wait_connected(timeout=15)
            await asyncio.to_thread(publish, server, user_id, 1, 2)
            first, second = await take(alerts, 2)
            await alerts.ack(first["alert_id"])
            return first, second

    first, second = asyncio.run(scenario())
    assert (first["detection"], second["detection"]) == ({"n": 1}, {"n": 2})
    assert second["seq"] == first["seq"] + 1
    status, body = server.get(f"/api/v1/alerts/{first['alert_id']}", server.token(user_id))
    assert status == 200 and json.loads(body)["status"] == "acked"
    status, body = server.get(f"/api/v1/alerts/{second['alert_id']}", server.token(user_id))
    assert json.loads(body)["status"] == "unacked"


def test_auto_ack_acknowledges_what_the_loop_handled(server, user_id):
    async def scenario() -> list[dict]:
        got = []
        async with AlertListener(user_id, url=server.url, token=server.token(user_id), auto_ack=True) as alerts:
            await alerts.wait_connected(timeout=15)
            await asyncio.to_thread(publish, server, user_id, 1, 2, 3)
            async for alert in alerts:
                got.append(alert)
                if len(got) == 3:
                    break
            # The third is acked when the loop asks for a fourth; it did not.
            return got

    got = asyncio.run(scenario())
    statuses = [json.loads(server.get(f"/api/v1/alerts/{a['alert_id']}", server.token(user_id))[1])["status"]
                for a in got]
    assert statuses == ["acked", "acked", "unacked"]


def test_resumes_across_a_restart_without_gap_or_duplicate(user_id):
    srv = VigilServer("--ping-interval", "2").start()  # SQLite: seqs survive the restart
    try:
        async def scenario() -> list[dict]:
            async with AlertListener(user_id, url=srv.url, token=srv.token(user_id), **FAST) as alerts:
                await alerts.wait_connected(timeout=15)
                await asyncio.to_thread(publish, srv, user_id, 1, 2, 3)
                got = await take(alerts, 3)
                await asyncio.to_thread(srv.restart)
                # None of 1-3 was acknowledged: without `since` they would come again.
                await asyncio.to_thread(publish, srv, user_id, 4, 5)
                got += await take(alerts, 2)
                with pytest.raises(asyncio.TimeoutError):
                    await asyncio.wait_for(alerts.__anext__(), 1.5)  # nothing more: no duplicate
                assert alerts.position == (got[-1]["seq"], got[-1].get("epoch"))
                return got

        got = asyncio.run(scenario())
        assert [a["detection"]["n"] for a in got] == [1, 2, 3, 4, 5]
        assert [a["seq"] for a in got] == list(range(got[0]["seq"], got[0]["seq"] + 5))
    finally:
        srv.cleanup()


def test_resumes_with_the_epoch_across_a_memory_store_restart(user_id):
    """A memory store starts over at each start: seq 1 again, a new epoch. The
    listener must notice the new epoch and take its alerts from the start,
    though their seqs are lower than the last it saw."""
    srv = VigilServer("--ping-interval", "2", store="memory").start()
    try:
        async def scenario() -> tuple[list[dict], list[dict]]:
            async with AlertListener(user_id, url=srv.url, token=srv.token(user_id), **FAST) as alerts:
                await alerts.wait_connected(timeout=15)
                await asyncio.to_thread(publish, srv, user_id, 1, 2, 3)
                before = await take(alerts, 3)
                if "epoch" not in before[0]:
                    pytest.skip("this vigil binary predates epochs (no `epoch` in anomaly_detected)")
                await asyncio.to_thread(srv.restart)
                await asyncio.to_thread(publish, srv, user_id, 4, 5)
                after = await take(alerts, 2)
                return before, after

        before, after = asyncio.run(scenario())
        assert [a["detection"]["n"] for a in after] == [4, 5]
        assert after[0]["epoch"] != before[0]["epoch"]
        assert [a["seq"] for a in after] == [1, 2]  # lower than before: a new history, not duplicates
    finally:
        srv.cleanup()


def test_resumes_from_a_position_kept_by_an_earlier_run(server, user_id):
    async def first_run() -> tuple[int | None, str | None]:
        async with AlertListener(user_id, url=server.url, token=server.token(user_id)) as alerts:
            await alerts.wait_connected(timeout=15)
            await asyncio.to_thread(publish, server, user_id, 1, 2)
            await take(alerts, 2)
            return alerts.position

    async def second_run(seq: int | None, epoch: str | None) -> list[dict]:
        await asyncio.to_thread(publish, server, user_id, 3)
        async with AlertListener(user_id, url=server.url, token=server.token(user_id),
                                 since=seq, epoch=epoch) as alerts:
            got = await take(alerts, 1)
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(alerts.__anext__(), 1.0)
            return got

    seq, epoch = asyncio.run(first_run())
    got = asyncio.run(second_run(seq, epoch))
    assert [a["detection"]["n"] for a in got] == [3]


def test_replaced_by_a_newer_connection_stops(server, user_id):
    async def scenario() -> None:
        async with AlertListener(user_id, url=server.url, token=server.token(user_id), **FAST) as older:
            await older.wait_connected(timeout=15)
            async with AlertListener(user_id, url=server.url, token=server.token(user_id)) as newer:
                await newer.wait_connected(timeout=15)
                with pytest.raises(ListenerStopped) as e:
                    await asyncio.wait_for(older.__anext__(), 15)
                assert e.value.code == "replaced"
                assert newer.connected

    asyncio.run(scenario())


def test_refused_token_stops_with_401(server, user_id):
    async def scenario() -> None:
        async with AlertListener(user_id, url=server.url, token=server.token(user_id) + "x", **FAST) as alerts:
            with pytest.raises(AuthenticationError) as e:
                await asyncio.wait_for(alerts.__anext__(), 15)
            assert e.value.status == 401

    asyncio.run(scenario())


def test_get_token_is_asked_before_each_connection(user_id):
    srv = VigilServer("--ping-interval", "2").start()
    calls = []

    async def get_token() -> str:
        calls.append(1)
        return await asyncio.to_thread(srv.token, user_id)

    try:
        async def scenario() -> None:
            async with AlertListener(user_id, url=srv.url, get_token=get_token, **FAST) as alerts:
                await alerts.wait_connected(timeout=15)
                await asyncio.to_thread(srv.restart)
                await asyncio.to_thread(publish, srv, user_id, 1)
                await take(alerts, 1)

        asyncio.run(scenario())
        assert len(calls) >= 2
    finally:
        srv.cleanup()


def test_position_starts_over_when_the_epoch_changes():
    from vigil_client.listener import Position
    p = Position()
    assert p.query() == {}
    assert p.accept(1, "e1") and p.accept(2, "e1")
    assert not p.accept(2, "e1") and not p.accept(1, "e1")  # received before
    assert p.query() == {"since": "2", "epoch": "e1"}
    assert p.accept(1, "e2")  # a new history: seq 1 again is new
    assert p.query() == {"since": "1", "epoch": "e2"}
    old_server = Position(5)  # a server without epochs: since alone
    assert not old_server.accept(5, None) and old_server.accept(6, None)
    assert old_server.query() == {"since": "6"}


@pytest.mark.server("--ping-interval", "1", "--heartbeat-timeout", "3")
def test_an_idle_listener_answers_heartbeats_and_stays_connected(fresh_server, user_id):
    srv = fresh_server
    admin = VigilClient(srv.url, token=srv.token("ops", "admin"))

    async def scenario() -> tuple[dict | None, dict | None, list[dict]]:
        async with AlertListener(user_id, url=srv.url, token=srv.token(user_id)) as alerts:
            await alerts.wait_connected(timeout=15)
            before = await asyncio.to_thread(admin.get_connection_stats, user_id)
            await asyncio.sleep(5)  # past the 3 s heartbeat timeout, with nothing to receive
            after = await asyncio.to_thread(admin.get_connection_stats, user_id)
            await asyncio.to_thread(publish, srv, user_id, 1)
            return before, after, await take(alerts, 1)

    try:
        before, after, got = asyncio.run(scenario())
    finally:
        admin.close()
    assert before is not None and after is not None
    assert after["connected_at"] == before["connected_at"]  # the same connection, never dropped
    assert after["seconds_since_heartbeat"] < 3
    assert got[0]["detection"] == {"n": 1}
