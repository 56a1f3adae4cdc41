"""Telegram webhook mode (issue 17, "Ingress"): settings, the claim on each update, and the
real `boiduong run` process serving PTB's webhook against the stand-in Bot API.

The tests post to TELEGRAM_WEBHOOK_LISTEN over plain HTTP, as the TLS reverse proxy in front of
the bot does; the public https URL is only what setWebhook is told.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from config.settings import SettingsError, load_settings
from tests.test_e2e import _cli, _env

TOKEN = "123456:WEBHOOK-TEST-TOKEN"
URL = "https://bot.example.vn/tg/hook.v1"


# -- settings ------------------------------------------------------------------------------------


def _settings(**values: str) -> Any:
    return load_settings(None, _env_file=None, **values)


def test_no_url_means_long_polling() -> None:
    settings = _settings()
    assert settings.telegram_webhook_url is None
    assert settings.telegram_webhook_listen == "0.0.0.0:8443"
    # An empty line in .env is "not set", not a malformed URL.
    blank = _settings(telegram_webhook_url="", telegram_webhook_secret="")
    assert blank.telegram_webhook_url is None and blank.telegram_webhook_secret is None


@pytest.mark.parametrize(
    ("values", "name", "words"),
    [
        ({"telegram_webhook_url": URL}, "TELEGRAM_WEBHOOK_SECRET", "required"),
        ({"telegram_webhook_url": "http://bot.example.vn/tg"}, "TELEGRAM_WEBHOOK_URL", "https"),
        ({"telegram_webhook_url": "http://127.0.0.1:8443/tg"}, "TELEGRAM_WEBHOOK_URL", "https"),
        ({"telegram_webhook_url": "https:///tg"}, "TELEGRAM_WEBHOOK_URL", "https://HOST"),
        ({"telegram_webhook_url": "https://bot.example.vn:9000/tg"}, "TELEGRAM_WEBHOOK_URL",
         "443, 80, 88 and 8443"),
        ({"telegram_webhook_url": "https://bot.example.vn:x/tg"}, "TELEGRAM_WEBHOOK_URL", "URL"),
        ({"telegram_webhook_url": "https://bot.example.vn/t(g)+"}, "TELEGRAM_WEBHOOK_URL", "path"),
        ({"telegram_webhook_url": "https://bot.example.vn/tg?a=1"}, "TELEGRAM_WEBHOOK_URL",
         "query"),
        ({"telegram_webhook_url": URL, "telegram_webhook_secret": "has space"},
         "TELEGRAM_WEBHOOK_SECRET", "1–256"),
        ({"telegram_webhook_url": URL, "telegram_webhook_secret": "x" * 257},
         "TELEGRAM_WEBHOOK_SECRET", "1–256"),
        ({"telegram_webhook_secret": "ünïcode"}, "TELEGRAM_WEBHOOK_SECRET", "A–Z"),
        ({"telegram_webhook_listen": "8443"}, "TELEGRAM_WEBHOOK_LISTEN", "HOST:PORT"),
    ],
)  # fmt: skip
def test_a_bad_webhook_setting_is_one_line_naming_it(
    values: dict[str, str], name: str, words: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        _settings(**values)
    message = str(caught.value)
    assert "\n" not in message and f"{name}: " in message and words in message, message
    assert "has space" not in message and "x" * 257 not in message  # the secret is not shown


def test_the_longest_and_shortest_secrets_pass() -> None:
    for secret in ("a", "A-z_09" * 42 + "abcd"):
        assert _settings(telegram_webhook_url=URL, telegram_webhook_secret=secret)


async def test_run_refuses_a_url_without_its_secret(tmp_path: Path) -> None:
    env = _env(tmp_path / "x.db", BOT_TOKEN=TOKEN, TELEGRAM_WEBHOOK_URL=URL)
    code, out, err = await _cli(tmp_path, env, "run")
    assert code == 2, (code, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "TELEGRAM_WEBHOOK_SECRET" in lines[0], err
    assert not (tmp_path / "x.db").exists()
