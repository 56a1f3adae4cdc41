"""Every civil-servant and organizer flow, run through both adapters from one scenario list.

A scenario is a short list of steps in channel-neutral terms: a command (by name), a pick (by
the choice's label as the catalogue has it), typed text, a photo. The driver plays it on
Telegram (tests/harness.py: sends the command, presses the button with that label) and on Zalo
(tests/zalo_standin.py: types the command word, types the number of the choice with that
label), each on a fresh SQLite database seeded the same way. Both channels must end with the
same database state (the scenario's check) and must have said the same words at every step:
the plain text of the last answer and the labels of its choices. What only one channel can
do is left out of the comparison: Telegram's calendar file (Zalo has the schedule as text
instead), Zalo's numbered main menu (Telegram's is a reply keyboard) and its numbering hint.
A difference that is intended is written in the scenario (`per_channel`), with the reason.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.zalo.client import ZaloClient
from bot.zalo.conversation import ZaloBot
from config.settings import Settings
from domain import attendance, claims, linking, nominations, roles
from domain.registration import register
from handlers import flows
from handlers.dialog import plain
from locales import Translator
from storage.db import create_engine, make_sessionmaker, upgrade
from storage.models import (
    Attendance,
    Broadcast,
    BroadcastDelivery,
    ChatAccount,
    Claim,
    Course,
    Registration,
    ReminderOptOut,
    Role,
    Secondment,
    Unit,
)
from tests import factories
from tests.factories import (
    POLICY,
    make_communes,
    make_course,
    make_organizer,
    make_person,
    make_position,
    make_unit,
)
from tests.fixtures_attendance import BEFORE, SESSIONS, course5
from tests.fixtures_claims import people
from tests.harness import HANDLER_SETTINGS, Telegram, buttons, running, settings, user
from tests.zalo_standin import PHOTO, StandInZalo, Zalo

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
DAYTIME = datetime(2026, 12, 1, 10, 0, tzinfo=TZ).astimezone(UTC)  # no quiet hours
T = Translator("vi", TZ)
Db = async_sessionmaker[AsyncSession]


def tr(label: str, **params: str) -> str:
    """A label as the user reads it: translated, its parameters (labels too) filled in."""
    text = T.gettext(label)
    if params:
        text = text % {k: T.gettext(v) for k, v in params.items()}
    return plain(text)


# -- steps -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    kind: str  # command | pick | type | photo | drain
    value: str = ""
    arg: str = ""
    params: tuple[tuple[str, str], ...] = ()

    @property
    def label(self) -> str:
        return tr(self.value, **dict(self.params))


def command(name: str, arg: str = "") -> Step:
    return Step("command", name, arg)


def pick(label: str, **params: str) -> Step:
    return Step("pick", label, params=tuple(params.items()))


def typed(text: str) -> Step:
    return Step("type", text)


def photo() -> Step:
    return Step("photo")


def drain() -> Step:
    """The notification drainer runs (a notice with choices reaches the chat)."""
    return Step("drain")


@dataclass
class Answer:
    text: str  # plain text of the last message of the answer
    choices: list[str]  # the labels offered with it
    texts: list[str] = field(default_factory=list)  # of every message of the answer


# -- the world -------------------------------------------------------------------------------


@dataclass
class World:
    """One channel's database and the user playing the scenario there."""

    db: Db
    channel: str
    user: str
    tg: Telegram | None = None
    ids: dict[str, int] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)  # e.g. a code made while seeding

    async def link(self, person_id: int, user_id: str | None = None) -> None:
        """Link the chat of `user_id` (the player's by default) on this channel to a person."""
        uid = user_id or self.user
        async with self.db.begin() as s:
            s.add(
                ChatAccount(
                    channel=self.channel,
                    chat_user_id=uid,
                    chat_id=uid,
                    person_id=person_id,
                    language="vi",
                    linked_at=datetime.now(UTC),
                )
            )
        if self.tg is not None:
            self.tg.api.add_user(user(int(uid)))


Seed = Callable[[World], Awaitable[None]]
Check = Callable[[World], Awaitable[object]]


async def civil_servant(w: World) -> None:
    """A linked civil servant of a commune; two open courses, one of them already full."""
    async with w.db.begin() as s:
        province = await make_unit(s, code="P", kind="province", name="Tỉnh Lạng Sơn")
        commune = await make_unit(s, code="P-X1", parent=province, name="Xã Tân Thanh")
        leader = await make_position(s, group="leader")
        me = await make_person(s, unit=commune, position=leader, full_name="Lương Thị Hoa",
                               phone="0912345678")  # fmt: skip
        other = await make_person(s, unit=commune, full_name="Trần Văn Bình")
        start = DAYTIME + timedelta(days=10)
        open_ = await make_course(s, title="Kỹ năng số", code="KNS", starts_at=start,
                                  organizer=province)  # fmt: skip
        later = start + timedelta(days=1)
        full = await make_course(s, title="Quản lý nhà nước", code="QLNN", capacity=1,
                                 starts_at=later, organizer=province)  # fmt: skip
        w.ids |= {"me": me.id, "other": other.id, "open": open_.id, "full": full.id}
        w.ids |= {"province": province.id, "commune": commune.id}
    async with w.db.begin() as s:
        await register(s, person_id=other.id, course_id=full.id, now=DAYTIME, policy=POLICY)
    await w.link(me.id)


async def registered(w: World) -> None:
    await civil_servant(w)
    async with w.db.begin() as s:
        await register(s, person_id=w.ids["me"], course_id=w.ids["open"], now=DAYTIME,
                       policy=POLICY)  # fmt: skip


async def unlinked_with_code(w: World) -> None:
    """Someone on the roster, not linked yet, with a link code from their organizer."""
    async with w.db.begin() as s:
        me = await make_person(s, full_name="Lương Thị Hoa")
        made = await linking.create_code(
            s, personal_id=me.personal_id, now=DAYTIME, ttl=timedelta(days=1)
        )
        assert made is not None
        w.ids["me"] = me.id
        w.texts["code"] = made[0]


async def many_courses(w: World) -> None:
    await civil_servant(w)
    async with w.db.begin() as s:
        for n in range(7):
            await make_course(s, title=f"Bồi dưỡng chuyên đề {n + 1}",
                              starts_at=DAYTIME + timedelta(days=12 + n))  # fmt: skip


async def nominated(w: World) -> None:
    """The player was nominated by the head of their commune for the open course."""
    await civil_servant(w)
    async with w.db.begin() as s:
        commune = await s.get(Unit, w.ids["commune"])
        assert commune is not None
        head = await make_person(s, unit=commune, full_name="Trưởng Xã")
        await roles.grant(s, person_id=head.id, role=Role.UNIT_HEAD, unit_id=commune.id, by="t")
        course = await make_course(s, title="Kỹ năng số cơ bản", code="KNSCB",
                                   starts_at=DAYTIME + timedelta(days=10),
                                   grants_kind="digital_skills")  # fmt: skip
        done = await nominations.nominate(
            s,
            actor_id=head.id,
            course_id=course.id,
            person_ids=[w.ids["me"]],
            hold_hours=None,
            now=DAYTIME,
            hours_target=40,
        )
        assert done.nominated == [w.ids["me"]], done


async def unit_head(w: World) -> None:
    """The player heads the commune; a colleague asked to join a course that needs approval."""
    await civil_servant(w)
    async with w.db.begin() as s:
        commune = await s.get(Unit, w.ids["commune"])
        assert commune is not None
        await roles.grant(s, person_id=w.ids["me"], role=Role.UNIT_HEAD, unit_id=commune.id,
                          by="t")  # fmt: skip
        course = await make_course(s, title="Kỹ năng lãnh đạo", code="KNLD",
                                   starts_at=DAYTIME + timedelta(days=10),
                                   requires_approval=True)  # fmt: skip
        w.ids["approval"] = course.id
        await register(s, person_id=w.ids["other"], course_id=course.id, now=DAYTIME,
                       policy=POLICY)  # fmt: skip


async def participant(w: World) -> None:
    """A participant of a five-session course, its second session starting now; the code of
    that session shown in the room."""
    c = await course5(w.db)
    w.ids |= {"me": c.people["An"], "course": c.course_id}
    await w.link(c.people["An"])
    async with w.db.begin() as s:
        code = await attendance.new_checkin_code(
            s, actor_id=c.organizer, course_id=c.course_id, session_no=1, now=BEFORE
        )
    w.texts["code"] = code.code


async def organizer(w: World) -> None:
    """The player organizes commune LS-X1, which runs an open course with two registrants."""
    async with w.db.begin() as s:
        units = await make_communes(s)
        me = await make_organizer(s, units["LS-X1"])
        course = await make_course(s, title="Kỹ năng số", code="KNS", organizer=units["LS-X1"],
                                   starts_at=DAYTIME + timedelta(days=10))  # fmt: skip
        people = [
            await make_person(s, unit=units["LS-X1"], full_name=name)
            for name in ("Trần Văn Bình", "Lê Thị Chi")
        ]
        w.ids |= {"me": me, "course": course.id, "unit": units["LS-X1"].id}
    for person in people:
        async with w.db.begin() as s:
            await register(s, person_id=person.id, course_id=course.id, now=DAYTIME,
                           policy=POLICY)  # fmt: skip
    await w.link(me)


async def attendance_organizer(w: World) -> None:
    """The player organizes the five-session course of participant()."""
    c = await course5(w.db)
    w.ids |= {"me": c.organizer, "course": c.course_id}
    await w.link(c.organizer)


async def claim_reviewer(w: World) -> None:
    """The player organizes a commune where someone claimed a qualification."""
    p = await people(w.db)
    async with w.db.begin() as s:
        claim = await claims.submit(
            s,
            person_id=p.person,
            kind="qualification",
            details={"kind": "political_theory", "level": "trung_cap", "field": "Trường Chính trị"},
            note="Giấy chứng nhận kèm theo",
            evidence_kind=claims.STORED_PHOTO,  # sent from Zalo: both channels can show it
            evidence=claims.EvidenceFile(PHOTO, "photo.png", "image/png"),
            now=DAYTIME,
        )
    w.ids |= {"me": p.organizer, "claim": claim.id}
    await w.link(p.organizer)


async def host_organizer(w: World) -> None:
    """The player organizes a commune that hosts a seconded civil servant, whose review
    meeting is due."""
    await organizer(w)
    async with w.db.begin() as s:
        unit = await s.get(Unit, w.ids["unit"])
        assert unit is not None
        home = await make_unit(s, code="LS-SNV", kind="department", name="Sở Nội vụ")
        lan = await make_person(s, unit=home, full_name="Hoàng Thị Lan")
        s.add(Secondment(person_id=lan.id, from_unit_id=home.id, to_unit_id=unit.id,
                         starts_on=date(2026, 7, 1), ends_on=date(2027, 6, 30),
                         review_every_months=3, next_review_on=date(2026, 11, 28)))  # fmt: skip
        w.ids["seconded"] = lan.id


# -- checks ----------------------------------------------------------------------------------


async def regs(w: World) -> list[tuple[str, str]]:
    async with w.db() as s:
        rows = await s.execute(
            select(Course.code, Registration.status)
            .join(Course, Course.id == Registration.course_id)
            .where(Registration.person_id == w.ids["me"])
            .order_by(Course.code)
        )
        return [(c, str(st)) for c, st in rows]


async def account(w: World) -> tuple[int | None, str | None]:
    async with w.db() as s:
        row = (await s.execute(select(ChatAccount).filter_by(chat_user_id=w.user))).scalar_one()
        return row.person_id, row.language


async def nothing(w: World) -> None:
    return None


async def other_regs(w: World) -> list[tuple[str, str]]:
    async with w.db() as s:
        rows = await s.execute(
            select(Course.code, Registration.status)
            .join(Course, Course.id == Registration.course_id)
            .where(Registration.person_id == w.ids["other"])
            .order_by(Course.code)
        )
        return [(c, str(st)) for c, st in rows]


async def marks(w: World) -> list[tuple[int, str]]:
    async with w.db() as s:
        rows = await s.execute(select(Attendance.session_no, Attendance.source))
        return sorted((n, str(src)) for n, src in rows)


async def courses_made(w: World) -> list[tuple[str, str, int, str]]:
    async with w.db() as s:
        rows = await s.execute(select(Course.title, Course.status, Course.capacity, Course.place))
        return sorted((t, str(st), c, str(p)) for t, st, c, p in rows)


async def course_status(w: World) -> str:
    async with w.db() as s:
        course = await s.get(Course, w.ids["course"])
        assert course is not None
        return str(course.status)


async def broadcasts(w: World) -> list[tuple[str, str, int]]:
    async with w.db() as s:
        rows = await s.execute(
            select(Broadcast.text, Broadcast.status, func.count(BroadcastDelivery.id))
            .join(BroadcastDelivery, BroadcastDelivery.broadcast_id == Broadcast.id)
            .group_by(Broadcast.id)
        )
        return [(t, str(st), n) for t, st, n in rows]


async def claim_state(w: World) -> str:
    async with w.db() as s:
        claim = await s.get(Claim, w.ids["claim"])
        assert claim is not None
        return str(claim.state)


async def reviewed(w: World) -> tuple[object, ...]:
    async with w.db() as s:
        sec = (await s.execute(select(Secondment))).scalar_one()
        return sec.last_review_on, sec.last_review_rating, sec.last_review_note


# -- scenarios -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    name: str
    seed: Seed
    steps: tuple[Step, ...]
    says: tuple[str, ...] = ()  # catalogue messages the last answer contains
    check: Check = nothing
    expect: object = None  # what `check` returns on both channels
    when: datetime = DAYTIME  # the clock while seeding and playing
    # Step index → how the channels' answers differ there, intended (the reason in a comment):
    # PREFIX: Zalo's text goes on after Telegram's; LIST: a list in Telegram's text is in the
    # labels of Zalo's numbered choices (same heading, each label holds Telegram's); MORE: Zalo
    # says the same messages, then one more; NO_FILES: as PREFIX, without the choices that send
    # or take a file; DIFFERS: not compared.
    per_channel: dict[int, str] = field(default_factory=dict)


async def opted_out(w: World) -> list[str]:
    async with w.db() as s:
        rows = await s.execute(select(ReminderOptOut.category).filter_by(person_id=w.ids["me"]))
        return sorted(rows.scalars())


async def linked_to(w: World) -> bool:
    return (await account(w))[0] == w.ids["me"]


async def language(w: World) -> str | None:
    return (await account(w))[1]


PREFIX, NO_FILES, LIST, MORE, DIFFERS = "prefix", "no files", "list", "more", "differs"
# Telegram sends a course's calendar file; Zalo has no files, so the schedule follows as text.
SCHEDULE = PREFIX
# A page of courses: Telegram lists them in the text with a button per title; Zalo numbers
# them, each with its date and seats, so a number or a title can be typed.
PAGE = LIST

SCENARIOS = [
    Scenario(
        "link by code",
        unlinked_with_code,
        (typed("{code}"),),
        check=linked_to,
        expect=True,
    ),
    Scenario(
        "status",
        civil_servant,
        (command("status"),),
        says=("<b>Your standards</b>",),
    ),
    Scenario(
        "courses, next page, search",
        many_courses,
        (command("courses"), pick("▶️"), pick("◀️"), typed("chuyên đề 3")),
        per_channel={0: PAGE, 1: PAGE, 2: PAGE, 3: PAGE},
    ),
    Scenario(
        "course card",
        civil_servant,
        (command("courses"), pick("Kỹ năng số")),
        per_channel={0: PAGE},
    ),
    Scenario(
        "register",
        civil_servant,
        (command("courses"), pick("Kỹ năng số"), pick("✍️ Register"), pick("✅ Yes, register")),
        check=regs,
        expect=[("KNS", "registered")],
        per_channel={0: PAGE, 3: SCHEDULE},
    ),
    Scenario(
        "cancel a registration",
        registered,
        (command("my"), pick("Kỹ năng số"), pick("Cancel registration"), pick("Yes, cancel it")),
        check=regs,
        expect=[("KNS", "cancelled")],
    ),
    Scenario(
        "join the waitlist",
        civil_servant,
        (
            command("courses"),
            pick("Quản lý nhà nước"),
            pick("✍️ Join the waitlist"),
            pick("✅ Yes, join the waitlist"),
        ),
        check=regs,
        expect=[("QLNN", "waitlisted")],
        per_channel={0: PAGE},
    ),
    Scenario("my registrations", registered, (command("my"),)),
    Scenario("reminders", civil_servant, (command("reminders"),)),
    Scenario(
        "language",
        civil_servant,
        (command("language"), pick("English"), command("status")),
        check=language,
        expect="en",
    ),
    Scenario(
        "privacy and unlinking",
        civil_servant,
        (command("privacy"), pick("Hủy liên kết"), pick("Yes, unlink")),
        check=linked_to,
        expect=False,
        # The account named is the channel's own ("this Telegram account", "this Zalo
        # account"); linking again is /start and the contact button on Telegram, a code or a
        # phone number typed on Zalo.
        per_channel={0: DIFFERS, 1: DIFFERS, 2: DIFFERS},
    ),
    Scenario(
        "claim a qualification",
        civil_servant,
        (
            command("status"),
            pick("✏️ Report a mistake or claim a qualification"),
            pick("Văn bằng, chứng chỉ"),
            pick("Lý luận chính trị"),
            pick("trung cấp"),
            typed("Trường Chính trị tỉnh Lạng Sơn, 2024"),
            photo(),
        ),
        # Telegram takes a photo or a PDF file, Zalo only a photo: each asks for what it takes.
        per_channel={5: DIFFERS},
    ),
    Scenario(
        "answer a nomination",
        nominated,
        (drain(), pick("✅ Confirm")),
        check=regs,
        expect=[("KNSCB", "registered")],
        per_channel={1: SCHEDULE},
    ),
    Scenario(
        "turn a kind of reminders off",
        civil_servant,
        (command("reminders"), pick("Turn off: %(name)s", name="Standards deadlines")),
        check=opted_out,
        expect=["standard"],
    ),
    Scenario(
        "approve a request to join",
        unit_head,
        (drain(), pick("✅ Approve")),
        check=other_regs,
        expect=[("KNLD", "registered"), ("QLNN", "registered")],
    ),
    Scenario(
        "check in by code",
        participant,
        (command("checkin", "{code}"),),
        when=SESSIONS[1][0],
        check=marks,
        expect=[(1, "checkin")],
    ),
    # -- organizers --
    Scenario(
        "create a course",
        organizer,
        (
            command("newcourse"),
            typed("Bồi dưỡng văn thư lưu trữ"),
            pick("Digital skills"),
            typed("11/12/2026 07:30"),
            typed("12/12/2026 17:00"),
            typed("-"),
            typed("Hội trường UBND xã"),
            typed("25"),
            typed("-"),
            typed("all"),
            typed("16"),
            pick("Chỉ tính giờ bồi dưỡng"),
            pick("No"),
            pick("✅ Create the course"),
        ),
        check=courses_made,
        expect=[
            ("Bồi dưỡng văn thư lưu trữ", "open", 25, "Hội trường UBND xã"),
            ("Kỹ năng số", "open", 30, "Hội trường UBND tỉnh"),
        ],
    ),
    Scenario(
        "close and reopen registration",
        organizer,
        (
            command("organize"),
            pick("Kỹ năng số"),
            pick("🔒 Close registration"),
            pick("🔓 Reopen registration"),
        ),
        check=course_status,
        expect="open",
    ),
    Scenario(
        "broadcast to a unit, sent now",
        organizer,
        (
            command("broadcast"),
            typed("Họp giao ban lúc 08:00 thứ Hai"),
            pick("🏢 By unit"),
            typed("Tân Thanh"),
            pick("No"),  # no "received" button
            pick("📤 Send now"),
        ),
        # Telegram also takes a photo or a document with a caption, and says so; Zalo takes
        # text only, and says where to send a file. The progress is a message the drainer keeps
        # up to date in the Telegram chat; on Zalo, choices to see it again or to stop.
        per_channel={0: DIFFERS, 5: DIFFERS},
        check=broadcasts,
        expect=[("Họp giao ban lúc 08:00 thứ Hai", "sending", 3)],
    ),
    Scenario(
        "mark attendance of a session",
        attendance_organizer,
        (
            command("attendance"),
            pick("Trung cấp lý luận chính trị"),
            pick("🗓 1"),
            pick("⬜ Nguyễn Văn An"),
        ),
        when=SESSIONS[1][0],
        check=marks,
        expect=[(0, "organizer")],
        # The sheet to fill in (XLSX) is Telegram's; Zalo says to mark each session instead.
        per_channel={1: NO_FILES},
    ),
    Scenario(
        "approve a claim",
        claim_reviewer,
        (command("claims"), pick("Lương Thị Hoa"), pick("✅ Approve")),
        check=claim_state,
        expect="approved",
        # Telegram shows the photo; Zalo, which sends none, says where to see it.
        per_channel={1: PREFIX},
    ),
    Scenario(
        "the yearly report",
        organizer,
        (command("report", "2026"),),
        # Telegram sends the workbook and the chart; Zalo, which takes no files, says where to
        # get them.
        per_channel={0: MORE},
    ),
    Scenario(
        "record a secondment review",
        host_organizer,
        (
            command("reviews"),
            pick("Hoàng Thị Lan"),
            pick("Hoàn thành tốt nhiệm vụ"),
            typed("Hoàn thành tốt, cần tăng cường tiếp dân"),
        ),
        check=reviewed,
        expect=(date(2026, 12, 1), "good", "Hoàn thành tốt, cần tăng cường tiếp dân"),
    ),
]


# -- the drivers -----------------------------------------------------------------------------


class Driver(Protocol):
    async def step(self, step: Step) -> Answer: ...


MAIN_MENUS = [[c.label for c in flows.main_menu(Translator(lang, TZ))] for lang in ("vi", "en")]


class TelegramDriver:
    def __init__(self, tg: Telegram, uid: str) -> None:
        self.tg, self.who = tg, user(int(uid))
        tg.api.add_user(self.who)

    async def step(self, step: Step) -> Answer:
        api, uid = self.tg.api, self.who["id"]
        sent = api.sent_to(uid)
        newest = sent[-1]["message_id"] if sent else 0
        pressed: dict[str, Any] | None = None
        before = ""
        calls = len(api.calls)
        if step.kind == "command":
            text = f"/{step.value} {step.arg}".strip()
            await self.tg.process(api.message_update(self.who, text))
        elif step.kind == "type":
            await self.tg.process(api.message_update(self.who, step.value))
        elif step.kind == "photo":
            await self.tg.process(api.photo_update(self.who, PHOTO))
        elif step.kind == "drain":
            await self.tg.drain()
        else:
            pressed, data = self._button(step.label)
            before = pressed.get("text") or pressed.get("caption") or ""
            await self.tg.tap(self.who, data, message=pressed)
        after = api.sent_to(uid)
        new = [m for m in after if m["message_id"] > newest and "document" not in m]
        if new:
            last = new[-1]
        elif pressed is not None:
            last = next(m for m in after if m["message_id"] == pressed["message_id"])
            if (last.get("text") or last.get("caption") or "") == before:
                alerts = [p.get("text") for m, p in api.calls[calls:]
                          if m == "answerCallbackQuery" and p.get("text")]  # fmt: skip
                if alerts:
                    return Answer(str(alerts[-1]), [])
        else:
            return Answer("", [])
        text = str(last.get("text") or last.get("caption") or "")
        texts = [str(m.get("text") or m.get("caption") or "") for m in new]
        return Answer(text, [label for label, _ in buttons(last)], texts)

    def _button(self, label: str) -> tuple[dict[str, Any], str]:
        for message in reversed(self.tg.api.sent_to(self.who["id"])):
            found = _match(label, [text for text, _ in buttons(message)])
            if found is not None:
                return message, buttons(message)[found][1]
        seen = [(m.get("text"), buttons(m)) for m in self.tg.api.sent_to(self.who["id"])[-3:]]
        raise AssertionError(f"no button {label!r} in {seen}")


class ZaloDriver:
    def __init__(self, zalo: Zalo, uid: str) -> None:
        self.zalo, self.uid = zalo, uid
        hint = "Reply with a number, or type the name of your choice."
        self.hints = {Translator(lang, TZ).gettext(hint) for lang in ("vi", "en")}

    async def step(self, step: Step) -> Answer:
        if step.kind == "command":
            said = await self.zalo.say(self.uid, f"{step.value} {step.arg}".strip())
        elif step.kind == "type":
            said = await self.zalo.say(self.uid, step.value)
        elif step.kind == "photo":
            before = len(self.zalo.srv.sent_to(self.uid))
            await self.zalo.bot.handle(self.zalo.srv.image_update(self.uid))
            said = self.zalo.srv.sent_to(self.uid)[before:]
        elif step.kind == "drain":
            before = len(self.zalo.srv.sent_to(self.uid))
            await self.zalo.drain()
            said = self.zalo.srv.sent_to(self.uid)[before:]
        else:
            state = await self.zalo.dialog(self.uid)
            labels = [c.label for c in state.choices]
            found = _match(step.label, labels)
            assert found is not None, f"no choice {step.label!r} in {labels}"
            said = await self.zalo.say(self.uid, str(found + 1))
        if not said:
            return Answer("", [])
        answer = self._parse(said[-1])
        answer.texts = [self._parse(text).text for text in said]
        return answer

    def _parse(self, text: str) -> Answer:
        lines = text.split("\n")
        choices: list[str] = []
        if lines[-1] in self.hints:
            lines.pop()
            while lines and re.match(r"^\d+\. ", lines[-1]):
                choices.insert(0, lines.pop().split(". ", 1)[1])
        return Answer("\n".join(lines).rstrip("\n"), choices)


def _match(label: str, labels: list[str]) -> int | None:
    """The index of the label that is `label`, else of the only one containing it."""
    if label in labels:
        return labels.index(label)
    found = [i for i, text in enumerate(labels) if label in text]
    return found[0] if len(found) == 1 else None


# -- running both ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database, copied for each channel of each scenario."""
    path = tmp_path_factory.mktemp("parity") / "template.db"

    async def migrate() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{path}")
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    asyncio.run(migrate())
    return path


@dataclass
class Channels:
    tg: Telegram
    zalo: Zalo
    tg_db: Db
    zalo_db: Db


@pytest.fixture
async def channels(
    template: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> AsyncIterator[Channels]:
    engines = []
    for name in ("telegram", "zalo"):
        shutil.copy(template, tmp_path / f"{name}.db")
        engines.append(create_engine(f"sqlite+aiosqlite:///{tmp_path / name}.db"))
    tg_db, zalo_db = make_sessionmaker(engines[0]), make_sessionmaker(engines[1])
    overrides = {k: v for k, v in HANDLER_SETTINGS.items() if k != "bot_token"}
    try:
        async with (
            running(settings(**HANDLER_SETTINGS), engines[0], tg_db, caplog=caplog) as tg,
            StandInZalo() as srv,
        ):
            zsettings = Settings(
                _env_file=None,  # type: ignore[call-arg]
                zalo_bot_token=srv.token,  # type: ignore[arg-type]
                zalo_base_url=srv.base_url,
                **overrides,  # type: ignore[arg-type]
            )
            client = ZaloClient(srv.token, base_url=srv.base_url)
            try:
                zalo = Zalo(srv, client, ZaloBot(zsettings, zalo_db, client), zalo_db, zsettings)
                yield Channels(tg, zalo, tg_db, zalo_db)
            finally:
                await client.aclose()
    finally:
        for engine in engines:
            await engine.dispose()


async def play(world: World, driver: Driver, scenario: Scenario) -> list[Answer]:
    answers = []
    for step in scenario.steps:
        if world.texts:  # "{code}": what was made while seeding this database
            step = replace(step, value=step.value.format(**world.texts),
                           arg=step.arg.format(**world.texts))  # fmt: skip
        answers.append(await driver.step(step))
    return answers


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
async def test_both_channels_say_the_same_and_do_the_same(
    channels: Channels, scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    uid = "700000201"
    with time_machine.travel(scenario.when, tick=True):
        on_tg = World(channels.tg_db, "telegram", uid, tg=channels.tg)
        on_zalo = World(channels.zalo_db, "zalo", uid)
        for world in (on_tg, on_zalo):  # the same codes and IDs in both databases
            monkeypatch.setattr(factories, "_seq", itertools.count(1))
            await scenario.seed(world)
        heard_tg = await play(on_tg, TelegramDriver(channels.tg, uid), scenario)
        heard_zalo = await play(on_zalo, ZaloDriver(channels.zalo, uid), scenario)
    for i, (a, b) in enumerate(zip(heard_tg, heard_zalo, strict=True)):
        how, where = scenario.per_channel.get(i), f"step {i} {scenario.steps[i]}"
        if how == DIFFERS:
            continue
        if how == MORE:
            assert b.texts[: len(a.texts)] == a.texts and len(b.texts) > len(a.texts), where
            continue
        if how == LIST:
            assert b.text.split("\n")[0] == a.text.split("\n")[0], where
            assert len(b.choices) == len(a.choices), where
            assert all(x in y for x, y in zip(a.choices, b.choices, strict=True)), where
            continue
        if how == NO_FILES:
            assert b.text.startswith(a.text), where
            assert b.choices == [c for c in a.choices if c in b.choices], where
            assert len(b.choices) < len(a.choices), where
            continue
        if how == PREFIX:
            assert b.text.startswith(a.text), where
        else:
            assert b.text == a.text, where
        if a.choices:
            assert b.choices == a.choices, where
        else:
            assert b.choices in ([], *MAIN_MENUS), where
    last = heard_tg[-1].text
    for msgid in scenario.says:
        assert tr(msgid).split("%")[0] in last
    assert await scenario.check(on_tg) == await scenario.check(on_zalo) == scenario.expect
