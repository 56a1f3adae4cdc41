"""The Zalo webhook against hostile bodies: too large is answered 413, too deep 400, and a
replay of an event without a message id is answered once. (Issue 13, item 6.)"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from bot.zalo.webhook import MAX_BODY
from bot.zalo.webhook import serve as serve_webhook
from tests.conftest import Zalo

SECRET = "a-long-webhook-secret"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def hook(zalo: Zalo) -> AsyncIterator[str]:
    port, stop = _free_port(), asyncio.Event()
    task = asyncio.create_task(
        serve_webhook(
            zalo.bot,
            url="https://bot.example.vn/zalo",
            secret=SECRET,
            listen=f"127.0.0.1:{port}",
            stop=stop,
        )
    )
    await zalo.srv.wait_for(lambda m, p: m == "setWebhook")
    yield f"http://127.0.0.1:{port}/zalo"
    stop.set()
    await asyncio.wait_for(task, 5)


async def _post(url: str, body: bytes) -> int:
    headers = {"X-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
    async with httpx.AsyncClient(timeout=30) as http:
        return (await http.post(url, content=body, headers=headers)).status_code


@pytest.mark.databases("sqlite")
async def test_a_ten_megabyte_body_is_answered_413(zalo: Zalo, hook: str) -> None:
    assert await _post(hook, b'{"a": "' + b"x" * (10 * 1024 * 1024) + b'"}') == 413
    assert await _post(hook, b" " * (MAX_BODY + 1)) == 413
    # The server is still there for the next delivery.
    hello = json.dumps(zalo.srv.text_update("h1", "help", message_id="m-1")).encode()
    assert await _post(hook, hello) == 200
    assert (await zalo.srv.reply_to("h1")).startswith("Cách dùng bot")


@pytest.mark.databases("sqlite")
async def test_a_deeply_nested_body_is_a_bad_request(zalo: Zalo, hook: str) -> None:
    assert await _post(hook, b"[" * 100_000 + b"]" * 100_000) == 400
    nested: Any = []
    for _ in range(40):  # deeper than any update, shallow enough for json.loads
        nested = [nested]
    deep_inside = {"event_name": "message.text.received", "message": {"x": nested}}
    assert await _post(hook, json.dumps(deep_inside).encode()) == 400
    hello = json.dumps(zalo.srv.text_update("h2", "help", message_id="m-2")).encode()
    assert await _post(hook, hello) == 200
    assert (await zalo.srv.reply_to("h2")).startswith("Cách dùng bot")


@pytest.mark.databases("sqlite")
async def test_a_replayed_event_without_a_message_id_is_answered_once(
    zalo: Zalo, hook: str
) -> None:
    update: dict[str, Any] = zalo.srv.text_update("h3", "help", message_id="m-3")
    del update["message"]["message_id"]
    body = json.dumps(update).encode()
    assert await _post(hook, body) == 200
    assert (await zalo.srv.reply_to("h3")).startswith("Cách dùng bot")
    assert await _post(hook, json.dumps({"ok": True, "result": update}).encode()) == 200
    assert await _post(hook, body) == 200
    # A new event (its own time) with the same words is answered again.
    update["message"]["date"] += 1
    assert await _post(hook, json.dumps(update).encode()) == 200
    # Updates of a chat are answered in order: once this one is, the replays would have been.
    marker = json.dumps(zalo.srv.text_update("h3", "ngon ngu", message_id="m-4")).encode()
    assert await _post(hook, marker) == 200
    await zalo.srv.wait_for(lambda m, p: p["chat_id"] == "h3" and "1. Tiếng Việt" in p["text"])
    assert sum("Cách dùng bot" in text for text in zalo.srv.sent_to("h3")) == 2
