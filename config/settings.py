"""Configuration: one pydantic-settings class, loaded once by the entry point and passed down."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.reminders import Policy, parse_day_month, parse_days, parse_offsets, parse_window


class SettingsError(Exception):
    """A missing or malformed setting, described in one line."""


# Reminder settings are kept as the text people write; these check it at start-up.
_REMINDER_PARSERS: dict[str, Callable[[str], object]] = {
    "course_reminders": parse_offsets,
    "quiet_hours": parse_window,
    "grace_reminder_days": parse_days,
    "hours_reminder_date": parse_day_month,
}


# What Telegram accepts in setWebhook: the ports it delivers to and the secret_token's alphabet.
WEBHOOK_PORTS = frozenset({443, 80, 88, 8443})
_WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
_SECRET_RULE = "1–256 characters of A–Z, a–z, 0–9, _ and -"
# The path becomes a route of PTB's webhook server; plain URL characters keep it one literal path.
_WEBHOOK_PATH = re.compile(r"/[A-Za-z0-9/_.~-]*")


class Settings(BaseSettings):
    """Everything the bot reads from the environment (or an optional `.env` file)."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    bot_token: SecretStr | None = None
    database_url: str = "sqlite+aiosqlite:///boiduong.db"
    telegram_base_url: str = "https://api.telegram.org/bot"
    telegram_base_file_url: str = "https://api.telegram.org/file/bot"
    # Webhook mode when a public https URL is set (its path is the path listened on); long
    # polling otherwise. A TLS reverse proxy forwards the URL to TELEGRAM_WEBHOOK_LISTEN.
    telegram_webhook_url: str | None = None
    # Sent to setWebhook as secret_token; deliveries without it are answered 403. Checked even
    # when unset: it is required once the URL is set.
    telegram_webhook_secret: SecretStr | None = Field(default=None, validate_default=True)
    telegram_webhook_listen: str = "0.0.0.0:8443"
    timezone: str = "Asia/Ho_Chi_Minh"
    default_language: str = "vi"
    # Provinces set their own yearly refresher target since the fixed 40-period rule was repealed.
    annual_hours_target: int = Field(default=40, ge=0, le=1000)
    # A registration can be cancelled until this many hours before the course starts.
    cancel_cutoff_hours: int = Field(default=24, ge=0, le=24 * 30)
    link_code_ttl_hours: int = Field(default=72, ge=1, le=24 * 60)
    link_max_failures: int = Field(default=5, ge=1, le=100)
    link_lockout_minutes: int = Field(default=60, ge=1, le=24 * 60)
    page_size: int = Field(default=5, ge=1, le=20)
    # How often the notification drainer looks for due rows.
    drain_interval_seconds: float = Field(default=1.0, gt=0, le=60)
    # Every Telegram send (replies, reminders, broadcasts) shares this pace, evenly spaced
    # (bot/limiter.py): 29 a second keeps a 34 ms margin per slot under Telegram's 30 and lets
    # a broadcast reach 0.95 of the cap (bench/broadcast.py: no 429 at 29).
    send_rate_per_second: float = Field(default=29.0, gt=0, le=1000)
    # Reminders. Course starts: "days before@local time", comma-separated.
    course_reminders: str = "3@08:00,1@16:00"
    # Nothing but urgent notices is sent in this local window (it may cross midnight).
    quiet_hours: str = "21:00-07:00"
    grace_reminder_days: str = "180,90,30"
    # A course that would close a gap: remind this many days before its registration deadline.
    deadline_reminder_days: int = Field(default=3, ge=1, le=60)
    # Seconded or rotated people: remind this many days before each periodic review meeting.
    review_reminder_days: int = Field(default=7, ge=1, le=60)
    # Once a year, in the fourth quarter, people behind the annual hours target are told.
    hours_reminder_date: str = "01/10"
    # Reminders and standards deadlines are planned this often (rows are deduplicated).
    plan_interval_minutes: int = Field(default=360, ge=1, le=24 * 60)
    # A self-registration awaiting its unit head's approval is let go (and the seat freed for
    # the waitlist) this many hours before registration closes.
    approval_expires_hours_before_deadline: int = Field(default=24, ge=0, le=24 * 30)
    # A participant present at this share of a course's sessions completes it when it finishes.
    completion_min_share: float = Field(default=0.8, gt=0, le=1)
    # Zalo Bot Platform: the second channel, served when its token is set.
    zalo_bot_token: SecretStr | None = None
    zalo_base_url: str = "https://bot-api.zaloplatforms.com/bot"
    # Webhook mode when a public https URL is set; long polling otherwise.
    zalo_webhook_url: str | None = None
    zalo_webhook_secret: SecretStr | None = Field(default=None, min_length=8, max_length=256)
    zalo_webhook_listen: str = "0.0.0.0:8080"
    # Zalo publishes no rate figures; stay modest.
    zalo_send_rate_per_second: float = Field(default=10.0, gt=0, le=1000)
    # host:port for GET /healthz and GET /metrics (Prometheus) while `boiduong run` runs; off
    # when unset. Keep it off the public internet (bind 127.0.0.1 or a private address).
    metrics_listen: str | None = None
    # "json": one JSON object per line (time, level, logger, message) for log collectors.
    log_format: Literal["text", "json"] = "text"
    # Which of several processes sharing one PostgreSQL database this is (`run --workers N`
    # sets it; a supervisor starting the processes itself sets 0, 1, …): worker i listens on
    # the port of each *_LISTEN setting + i, and only worker 0 registers the webhooks, sets
    # the command menus and plans reminders. Every worker answers updates and sends.
    worker: int = Field(default=0, ge=0, le=99)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            # ZoneInfoNotFoundError is a KeyError, which pydantic lets through as a traceback.
            raise ValueError(f"unknown time zone {value!r}, e.g. Asia/Ho_Chi_Minh") from None
        return value

    @field_validator("default_language")
    @classmethod
    def _known_language(cls, value: str) -> str:
        if value not in ("vi", "en"):
            raise ValueError("must be 'vi' or 'en'")
        return value

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        if value.startswith("postgresql://") or value.startswith("postgres://"):
            return "postgresql+asyncpg://" + value.split("://", 1)[1]
        if value.startswith("sqlite:///"):
            return "sqlite+aiosqlite:///" + value.split(":///", 1)[1]
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("use sqlite+aiosqlite:///FILE or postgresql+asyncpg://USER@HOST/DB")
        return value

    @field_validator(*_REMINDER_PARSERS)
    @classmethod
    def _reminder_times(cls, value: str, info: ValidationInfo) -> str:
        assert info.field_name is not None
        _REMINDER_PARSERS[info.field_name](value)  # raises ValueError with the reason
        return value

    def reminder_policy(self) -> Policy:
        return Policy(
            tz=self.tz,
            course_offsets=parse_offsets(self.course_reminders),
            quiet=parse_window(self.quiet_hours),
            grace_days=parse_days(self.grace_reminder_days),
            deadline_days=self.deadline_reminder_days,
            review_days=self.review_reminder_days,
            hours_day=parse_day_month(self.hours_reminder_date),
            approval_margin=timedelta(hours=self.approval_expires_hours_before_deadline),
        )

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def listen(self, value: str) -> str:
        """A *_LISTEN setting as this worker uses it: the port + WORKER."""
        host, _, port = value.rpartition(":")
        return f"{host}:{int(port) + self.worker}"

    @property
    def token(self) -> str | None:
        return self.bot_token.get_secret_value() if self.bot_token else None

    @property
    def zalo_token(self) -> str | None:
        return self.zalo_bot_token.get_secret_value() if self.zalo_bot_token else None

    @property
    def channels(self) -> tuple[str, ...]:
        """The chat apps this deployment uses: those whose token is set."""
        used = {"telegram": self.bot_token, "zalo": self.zalo_bot_token}
        return tuple(name for name, token in used.items() if token)

    @field_validator("telegram_webhook_url")
    @classmethod
    def _public_https(cls, value: str | None) -> str | None:
        if not value:  # an empty line in .env means "not set"
            return None
        # https only, also in tests: Telegram refuses anything else, and the tests post to
        # TELEGRAM_WEBHOOK_LISTEN directly, as the reverse proxy does.
        try:
            url = urlsplit(value)
            port = url.port or 443
        except ValueError:
            raise ValueError("not a URL; use https://HOST/PATH") from None
        if url.scheme != "https" or not url.hostname:
            raise ValueError("use https://HOST/PATH (Telegram delivers over https only)")
        if port not in WEBHOOK_PORTS:
            raise ValueError("Telegram delivers to ports 443, 80, 88 and 8443 only")
        if not _WEBHOOK_PATH.fullmatch(url.path or "/") or url.query or url.fragment:
            raise ValueError("the path may hold letters, digits and / _ - . ~ only, no query")
        return value

    @field_validator("telegram_webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            if info.data.get("telegram_webhook_url"):
                raise ValueError("required when TELEGRAM_WEBHOOK_URL is set; " + _SECRET_RULE)
            return None
        if not _WEBHOOK_SECRET.fullmatch(value.get_secret_value()):
            raise ValueError(_SECRET_RULE)
        return value

    @field_validator("zalo_webhook_listen", "metrics_listen", "telegram_webhook_listen")
    @classmethod
    def _host_port(cls, value: str | None) -> str | None:
        if value is None:
            return None
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("use HOST:PORT, e.g. 0.0.0.0:8080")
        return value


def load_settings(env_file: Path | None = None, **overrides: object) -> Settings:
    """Load settings, turning a validation failure into one readable line."""
    try:
        if env_file is not None:
            return Settings(_env_file=env_file, **overrides)  # type: ignore[call-arg, arg-type]
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']).upper() or 'settings'}: {err['msg']}"
            for err in exc.errors()
        )
        raise SettingsError(f"Invalid configuration: {problems}") from None
