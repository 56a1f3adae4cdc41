"""The local HTTP stand-in serves a real telegram.Bot (httpx, form and multipart) like Telegram."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from telegram import Bot, BotCommand, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import BadRequest, InvalidToken, RetryAfter

from tests.standin import StandInBotAPI

TOKEN = "123:ABC"
USER: dict[str, Any] = {"id": 42, "is_bot": False, "first_name": "An", "language_code": "vi"}


def refused(error: str) -> pytest.RaisesExc[BadRequest]:
    # PTB drops "Bad Request: " and str.capitalize()s the rest: match case-insensitively.
    return pytest.raises(BadRequest, match="(?i)" + re.escape(error))


@pytest.fixture
async def srv() -> AsyncIterator[StandInBotAPI]:
    async with StandInBotAPI(token=TOKEN) as srv:
        srv.api.add_user(USER)
        yield srv


@pytest.fixture
async def bot(srv: StandInBotAPI) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=srv.base_url, base_file_url=srv.base_file_url) as bot:
        yield bot


async def test_send_message_over_http(bot: Bot, srv: StandInBotAPI) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Đăng ký", callback_data="reg:1")]])
    msg = await bot.send_message(
        42, "<b>Chào</b> An", parse_mode=ParseMode.HTML, reply_markup=keyboard
    )
    assert msg.text == "Chào An" and msg.reply_markup == keyboard
    method, params = await srv.wait_for(lambda m, p: "Chào" in p["text"], timeout=1)
    assert method == "sendMessage"
    # Form values were decoded by field type, as Telegram's server does.
    assert params["chat_id"] == 42 and params["reply_markup"]["inline_keyboard"][0][0]["text"]
    assert srv.rejected == []


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"text": "x" * 4097}, "message is too long"),
        ({"text": "<b>x", "parse_mode": "HTML"}, "can't find end tag"),
        ({"text": "<marquee>x</marquee>", "parse_mode": "HTML"}, 'unsupported start tag "marquee"'),
        (
            {
                "text": "x",
                "reply_markup": InlineKeyboardMarkup(
                    [[InlineKeyboardButton("b", callback_data="x" * 65)]]
                ),
            },
            "BUTTON_DATA_INVALID",
        ),
        (
            {"text": "x", "reply_markup": InlineKeyboardMarkup([[InlineKeyboardButton("b")]])},
            "text buttons are unallowed",
        ),
        ({"text": "x", "api_kwargs": {"disable_web_page_previews": True}}, "unknown parameter"),
    ],
)
async def test_refused_over_http(
    bot: Bot, srv: StandInBotAPI, kwargs: dict[str, Any], error: str
) -> None:
    with refused(error):
        await bot.send_message(42, **kwargs)
    assert len(srv.rejected) == 1 and srv.rejected[0][0] == "sendMessage"


async def test_commands_and_edits(bot: Bot, srv: StandInBotAPI) -> None:
    with refused("BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand("c" * 33, "quá dài")])
    assert await bot.set_my_commands([BotCommand("start", "Bắt đầu")])
    with refused("message to edit not found"):
        await bot.edit_message_text("x", chat_id=42, message_id=12345)


async def test_long_polling_over_http(bot: Bot, srv: StandInBotAPI) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.05)
    assert not poll.done()
    srv.api.push(srv.api.message_update(USER, "xin chào"))
    (update,) = await asyncio.wait_for(poll, 2)
    assert update.message is not None and update.message.text == "xin chào"
    assert await bot.get_updates(offset=update.update_id + 1, timeout=0) == ()


async def test_document_upload_and_download(bot: Bot, srv: StandInBotAPI) -> None:
    content = "Lịch học bồi dưỡng\n".encode() * 100
    msg = await bot.send_document(42, content, filename="lich-hoc.txt")
    assert msg.document is not None and msg.document.file_name == "lich-hoc.txt"
    _, params = await srv.wait_for(lambda m, p: m == "sendDocument", timeout=1)
    assert params["document"] == {"filename": "lich-hoc.txt", "content": content}
    file = await bot.get_file(msg.document.file_id)
    assert file.file_path is not None and file.file_path.startswith(srv.base_file_url)
    assert bytes(await file.download_as_bytearray()) == content


async def test_wrong_token_is_invalid(srv: StandInBotAPI) -> None:
    with pytest.raises(InvalidToken):
        async with Bot("123:WRONG", base_url=srv.base_url, base_file_url=srv.base_file_url):
            pass


async def test_json_body_query_string_and_unknown_method(srv: StandInBotAPI) -> None:
    base = f"{srv.base_url}{TOKEN}"
    async with httpx.AsyncClient() as client:
        sent = await client.post(f"{base}/sendMessage", json={"chat_id": 42, "text": "JSON"})
        assert sent.json()["result"]["text"] == "JSON"
        me = await client.get(f"{base}/getme")
        assert me.json()["result"]["username"] == "boiduong_bot"
        polled = await client.get(f"{base}/getUpdates", params={"timeout": "0", "limit": "5"})
        assert polled.json() == {"ok": True, "result": []}
        missing = await client.post(f"{base}/sendTelepathy")
        assert missing.status_code == 404 and missing.json()["description"] == "Not Found"
        bad_json = await client.post(
            f"{base}/sendMessage", data={"chat_id": "42", "text": "x", "reply_markup": "{"}
        )
        assert bad_json.status_code == 400


async def test_wait_for_times_out_with_context(srv: StandInBotAPI) -> None:
    with pytest.raises(TimeoutError, match="no matching call"):
        await srv.wait_for(lambda m, p: m == "sendMessage", timeout=0.05)


async def test_rate_limit_answers_retry_after() -> None:
    async with StandInBotAPI(token=TOKEN, rate_limit_per_second=2) as srv:
        srv.api.add_user(USER)
        async with Bot(TOKEN, base_url=srv.base_url) as bot:
            await bot.send_message(42, "1")
            await bot.send_message(42, "2")
            await bot.send_chat_action(42, "typing")  # not a message: not limited
            with pytest.raises(RetryAfter):
                await bot.send_message(42, "3")
        assert srv.too_many == 1
        assert [p["text"] for m, p in srv.api.calls if m == "sendMessage"] == ["1", "2"]
