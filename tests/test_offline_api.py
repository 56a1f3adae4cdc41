"""The in-memory Bot API serves a real telegram.Bot like Telegram and refuses what it would."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, Conflict, EndPointNotFound, Forbidden, InvalidToken

from bot.offline import BOT_ID, BotAPIError, OfflineBotAPI, OfflineRequest
from tests.botapi.validator import SpecValidator

TOKEN = "100000:TEST-TOKEN"
USER: dict[str, Any] = {"id": 42, "is_bot": False, "first_name": "An", "language_code": "vi"}


def refused(error: str, exc: type[Exception] = BadRequest) -> pytest.RaisesExc[Exception]:
    # PTB drops "Bad Request: " and str.capitalize()s the rest, lowercasing Telegram's own casing
    # ("BUTTON_DATA_INVALID" arrives as "Button_data_invalid"): match case-insensitively.
    return pytest.raises(exc, match="(?i)" + re.escape(error))


KEYBOARD = InlineKeyboardMarkup([[InlineKeyboardButton("Đăng ký", callback_data="reg:1")]])


@pytest.fixture
def api() -> OfflineBotAPI:
    api = OfflineBotAPI(token=TOKEN, validator=SpecValidator())
    api.add_user(USER)
    return api


@pytest.fixture
async def bot(api: OfflineBotAPI) -> AsyncIterator[Bot]:
    request = OfflineRequest(api)
    # Both requests: PTB otherwise polls api.telegram.org with a default HTTPXRequest.
    async with Bot(TOKEN, request=request, get_updates_request=request) as bot:
        yield bot


async def test_send_message_is_recorded_and_rendered(bot: Bot, api: OfflineBotAPI) -> None:
    msg = await bot.send_message(
        42, "<b>Xin chào</b> An &amp; Bình", parse_mode=ParseMode.HTML, reply_markup=KEYBOARD
    )
    assert msg.text == "Xin chào An & Bình"
    assert msg.entities[0].type == "bold" and msg.entities[0].length == 8
    assert msg.from_user is not None and msg.from_user.id == BOT_ID
    assert msg.reply_markup == KEYBOARD
    method, params = api.calls[-1]
    assert method == "sendMessage"
    assert params["chat_id"] == 42
    assert params["reply_markup"] == {
        "inline_keyboard": [[{"text": "Đăng ký", "callback_data": "reg:1"}]]
    }
    assert [m["text"] for m in api.sent_to(42)] == ["Xin chào An & Bình"]
    assert api.last_message(42)["message_id"] == msg.message_id


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"text": "x" * 4097}, "message is too long"),
        ({"text": "😀" * 2049}, "message is too long"),  # 4098 UTF-16 code units
        ({"text": " \n "}, "message text is empty"),
        ({"text": "<b></b>", "parse_mode": "HTML"}, "message text is empty"),
        ({"text": "<b>x", "parse_mode": "HTML"}, "Can't find end tag"),
        ({"text": "<b>x</i>", "parse_mode": "HTML"}, "Unmatched end tag"),
        ({"text": "<blink>x</blink>", "parse_mode": "HTML"}, 'Unsupported start tag "blink"'),
        ({"text": "Tom & Jerry", "parse_mode": "HTML"}, 'Character "&"'),
        ({"text": "1 < 2", "parse_mode": "HTML"}, "can't parse entities"),
        ({"text": "&nbsp;", "parse_mode": "HTML"}, 'Character "&"'),
        ({"text": "<span>x</span>", "parse_mode": "HTML"}, "tg-spoiler"),
        ({"text": "*x*", "parse_mode": "MarkdownV2"}, "use HTML"),
        (
            {
                "text": "x",
                "reply_markup": InlineKeyboardMarkup(
                    [[InlineKeyboardButton("b", callback_data="é" * 33)]]
                ),
            },
            "BUTTON_DATA_INVALID",
        ),
        ({"text": "x", "api_kwargs": {"colour": "red"}}, "unknown parameter colour"),
    ],
)
async def test_telegram_refuses(
    bot: Bot, api: OfflineBotAPI, kwargs: dict[str, Any], error: str
) -> None:
    with refused(error):
        await bot.send_message(42, **kwargs)
    assert api.rejected and not any(m == "sendMessage" for m, _ in api.calls)


async def test_limits_count_utf16_after_entity_parsing(bot: Bot) -> None:
    await bot.send_message(42, "😀" * 2048)
    await bot.send_message(42, "<i>" + "x" * 4096 + "</i>", parse_mode=ParseMode.HTML)
    await bot.send_message(
        42,
        '<a href="https://t.me/x?a=1&amp;b=2">&lt;link&gt;</a> &#8364;',
        parse_mode=ParseMode.HTML,
    )
    await bot.send_message(
        42,
        '<tg-spoiler>a</tg-spoiler> <span class="tg-spoiler">b</span> '
        '<pre><code class="language-python">x = 1</code></pre> '
        "<blockquote expandable>q</blockquote>",
        parse_mode=ParseMode.HTML,
    )


async def test_bot_commands(bot: Bot, api: OfflineBotAPI) -> None:
    commands = [BotCommand("start", "Bắt đầu"), BotCommand("my_courses", "Đăng ký của tôi")]
    assert await bot.set_my_commands(commands, language_code="vi")
    assert await bot.get_my_commands(language_code="vi") == tuple(commands)
    assert await bot.get_my_commands() == ()
    for bad in ("x" * 33, "Start", "bắt_đầu"):
        with refused("BOT_COMMAND_INVALID"):
            await bot.set_my_commands([BotCommand(bad, "d")])
    with refused("BOT_COMMANDS_TOO_MUCH"):
        await bot.set_my_commands([BotCommand(f"c{i}", "d") for i in range(101)])


async def test_edits_and_deletes_fail_like_telegram(bot: Bot, api: OfflineBotAPI) -> None:
    with refused("message to edit not found"):
        await bot.edit_message_text("x", chat_id=42, message_id=999)
    msg = await bot.send_message(42, "Một", reply_markup=KEYBOARD)
    with refused("message is not modified"):
        await bot.edit_message_text(
            "Một", chat_id=42, message_id=msg.message_id, reply_markup=KEYBOARD
        )
    edited = await bot.edit_message_text("Hai", chat_id=42, message_id=msg.message_id)
    assert isinstance(edited, type(msg)) and edited.text == "Hai" and edited.reply_markup is None
    assert [m["text"] for m in api.sent_to(42)] == ["Hai"]
    with refused("message is not modified"):
        await bot.edit_message_reply_markup(chat_id=42, message_id=msg.message_id)
    await bot.edit_message_reply_markup(
        chat_id=42, message_id=msg.message_id, reply_markup=KEYBOARD
    )
    assert await bot.delete_message(42, msg.message_id)
    assert api.sent_to(42) == []
    with refused("message to delete not found"):
        await bot.delete_message(42, msg.message_id)


async def test_unknown_chat_blocked_user_and_unknown_method(bot: Bot, api: OfflineBotAPI) -> None:
    with refused("chat not found"):
        await bot.send_message(7, "x")
    api.block(42)
    with refused("blocked", Forbidden):
        await bot.send_message(42, "x")
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("sendTelepathy")


async def test_callback_query_round_trip(bot: Bot, api: OfflineBotAPI) -> None:
    msg = await bot.send_message(42, "Chọn", reply_markup=KEYBOARD)
    data = api.callback_update(USER, msg.message_id, "reg:1")
    query = Update.de_json(data, bot).callback_query
    assert query is not None and query.data == "reg:1"
    assert query.message is not None and query.message.message_id == msg.message_id
    with refused("MESSAGE_TOO_LONG"):
        await query.answer("x" * 201)
    assert await query.answer("Đã đăng ký")
    with refused("query is too old"):
        await query.answer()
    with pytest.raises(ValueError, match="no button"):
        api.callback_update(USER, msg.message_id, "reg:2")


async def test_reply_keyboard_and_contact(bot: Bot, api: OfflineBotAPI) -> None:
    keyboard = ReplyKeyboardMarkup(
        [[KeyboardButton("📱 Chia sẻ số điện thoại", request_contact=True)]], resize_keyboard=True
    )
    msg = await bot.send_message(42, "Số điện thoại?", reply_markup=keyboard)
    assert msg.reply_markup is None  # a Message carries inline keyboards only
    assert api.reply_keyboard(42) == keyboard.to_dict()
    assert api.last_message(42)["reply_markup"] == keyboard.to_dict()
    update = Update.de_json(api.contact_update(USER, "+84912345678", 42), bot)
    assert update.message is not None and update.message.contact is not None
    assert update.message.contact.user_id == 42


async def test_get_updates_long_polls_and_honours_offset(bot: Bot, api: OfflineBotAPI) -> None:
    assert await bot.get_updates(timeout=0) == ()
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.05)
    assert not poll.done()
    update = api.message_update(USER, "/start")
    api.push(update)
    (got,) = await asyncio.wait_for(poll, 1)
    assert got.message is not None and got.message.text == "/start"
    assert got.message.entities[0].type == "bot_command"
    # Not confirmed yet: delivered again; confirming by offset drops it.
    assert [u.update_id for u in await bot.get_updates(timeout=0)] == [got.update_id]
    api.push(api.message_update(USER, "hai"))
    later = await bot.get_updates(offset=got.update_id + 1, timeout=0)
    assert [u.message.text for u in later if u.message] == ["hai"]


async def test_second_poller_conflicts_with_first(bot: Bot) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.05)
    assert await bot.get_updates(timeout=0) == ()
    with refused("terminated by other getUpdates", Conflict):
        await asyncio.wait_for(first, 1)


async def test_send_document_stores_the_file(bot: Bot, api: OfflineBotAPI) -> None:
    content = b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"
    msg = await bot.send_document(42, content, filename="khoa-hoc.ics", caption="Lịch học")
    assert msg.document is not None and msg.document.file_name == "khoa-hoc.ics"
    assert msg.document.file_size == len(content) and msg.caption == "Lịch học"
    assert api.calls[-1][1]["document"] == {"filename": "khoa-hoc.ics", "content": content}
    file = await bot.get_file(msg.document.file_id)
    assert bytes(await file.download_as_bytearray()) == content
    assert api.file_content(msg.document.file_id) == content
    with refused("caption is too long"):
        await bot.send_document(42, content, filename="a.ics", caption="x" * 1025)


async def test_user_document_can_be_downloaded(bot: Bot, api: OfflineBotAPI) -> None:
    update = Update.de_json(api.document_update(USER, "danh-sach.csv", b"a,b\n1,2\n"), bot)
    assert update.message is not None and update.message.document is not None
    file = await update.message.document.get_file()
    assert bytes(await file.download_as_bytearray()) == b"a,b\n1,2\n"


async def test_wrong_token_is_refused(api: OfflineBotAPI) -> None:
    request = OfflineRequest(api)
    with pytest.raises(InvalidToken):
        async with Bot("100000:WRONG", request=request, get_updates_request=request):
            pass


BUTTON = '{"text": "a", "callback_data": "x"}'


async def test_call_directly_with_strings_like_a_form(api: OfflineBotAPI) -> None:
    result = await api.call(
        "SENDMESSAGE",
        {"chat_id": "42", "text": "x", "reply_markup": f'{{"inline_keyboard": [[{BUTTON}]]}}'},
    )
    assert result["chat"] == {"id": 42, "type": "private", "first_name": "An"}
    assert api.calls[-1] == (
        "sendMessage",
        {"chat_id": 42, "text": "x", "reply_markup": {"inline_keyboard": [[json.loads(BUTTON)]]}},
    )
    with pytest.raises(BotAPIError) as caught:
        await api.call("sendMessage", {"chat_id": 42, "text": "x", "reply_markup": "{"})
    assert caught.value.code == 400


@pytest.mark.parametrize(
    ("params", "error"),
    [
        (
            {"reply_markup": {"inline_keyboard": [[{"text": "a", "callback_data": "x", "c": 1}]]}},
            "unknown field of InlineKeyboardButton reply_markup.inline_keyboard[0][0].c",
        ),
        (
            {"reply_markup": {"inline_keyboard": [[{"text": "a", "url": "u", "pay": True}]]}},
            "more than one",
        ),
        ({"reply_markup": {"keyboard": [["a", {"txt": "b"}]]}}, "unknown field of KeyboardButton"),
        ({"disable_notification": "yes"}, "disable_notification must be Boolean"),
        ({"link_preview_options": {"is_disabled": 1}}, "is_disabled must be Boolean"),
        ({"reply_parameters": {}}, "reply_parameters.message_id is required"),
    ],
)
async def test_nested_objects_are_checked_against_the_spec(
    api: OfflineBotAPI, params: dict[str, Any], error: str
) -> None:
    with pytest.raises(BotAPIError, match=re.escape(error)) as caught:
        await api.call("sendMessage", {"chat_id": 42, "text": "x", **params})
    assert caught.value.code == 400


async def test_spec_shapes_that_are_accepted(api: OfflineBotAPI) -> None:
    await api.call(
        "sendMessage",
        {
            "chat_id": 42,
            "text": "x",
            "reply_markup": {
                "keyboard": [["a", {"text": "b", "request_contact": True}]],
                "one_time_keyboard": True,
            },
        },
    )
    await api.call(
        "sendMessage", {"chat_id": 42, "text": "x", "reply_markup": {"remove_keyboard": True}}
    )
    assert api.reply_keyboard(42) is None
    scope = {"type": "chat", "chat_id": 42}
    await api.call(
        "setMyCommands", {"commands": [{"command": "a", "description": "b"}], "scope": scope}
    )
    assert await api.call("getMyCommands", {"scope": scope}) == [
        {"command": "a", "description": "b"}
    ]
    with pytest.raises(BotAPIError, match="chat_id is required"):
        await api.call("setMyCommands", {"commands": [], "scope": {"type": "chat"}})
    with pytest.raises(BotAPIError, match="is not any of"):
        await api.call("setMyCommands", {"commands": [], "scope": {"type": "galaxy"}})
    with pytest.raises(BotAPIError, match="Not Found"):
        await api.call("sendTelepathy", {})
