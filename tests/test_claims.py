"""Record claims: a person reports a qualification or outside training with a photo or PDF
from /status (or on Zalo, with a photo); an organizer of their unit approves (the record and
/status change) or rejects with a reason; the person is told either way; organizers see only
their units."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

import pytest
import time_machine
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from domain import claims
from domain.errors import DomainError, Refusal
from domain.standards import status_of
from handlers.core import Choice
from storage.models import (
    AuditEntry,
    ChatAccount,
    Claim,
    ClaimState,
    Notification,
    Qualification,
    TrainingRecord,
)
from tests.factories import PNG
from tests.fixtures_claims import DAYTIME, people
from tests.harness import Telegram, running, settings
from tests.zalo_standin import PHOTO, Zalo

RULE_TITLE = "Lý luận chính trị trung cấp"
# Telegram does not run conversation timeouts without a running JobQueue, as in these tests.
pytestmark = pytest.mark.filterwarnings("ignore:Ignoring `conversation_timeout`")


# -- the domain, on both databases ----------------------------------------------------------------


async def file_claim(
    db: async_sessionmaker[AsyncSession], person_id: int, kind: str, details: dict[str, Any]
) -> int:
    async with db.begin() as s:
        claim = await claims.submit(
            s,
            person_id=person_id,
            kind=kind,
            details=details,
            note="Giấy chứng nhận kèm theo",
            evidence_file_id="FILE-1",
            evidence_kind="document",
            now=DAYTIME,
        )
    return claim.id


async def test_the_queue_and_every_decision_are_scoped_to_the_organizers_units(
    db: async_sessionmaker[AsyncSession],
) -> None:
    p = await people(db)
    claim_id = await file_claim(
        db, p.person, claims.QUALIFICATION, {"kind": "political_theory", "level": "trung_cap"}
    )
    own = await file_claim(db, p.organizer, claims.CORRECTION, {})
    async with db() as s:
        assert [v.claim.id for v in await claims.queue(s, actor_id=p.organizer)] == [claim_id, own]
        assert await claims.queue(s, actor_id=p.outsider) == []
        with pytest.raises(DomainError) as refused:
            await claims.queue(s, actor_id=p.person)
        assert refused.value.code == Refusal.FORBIDDEN
        for actor, target in ((p.outsider, claim_id), (p.organizer, own)):
            with pytest.raises(DomainError) as refused:
                await claims.approve(s, actor_id=actor, claim_id=target, now=DAYTIME)
            assert refused.value.code == Refusal.FORBIDDEN  # elsewhere, or their own record
    async with db() as s:
        claim = await s.get(Claim, claim_id)
        assert claim is not None and claim.state == ClaimState.PENDING


async def test_approving_outside_training_adds_its_hours_and_deciding_twice_changes_nothing(
    db: async_sessionmaker[AsyncSession],
) -> None:
    p = await people(db)
    details = claims.parse_training("Kỹ năng số cho công chức; 16; 05/11/2026")
    assert details == {"title": "Kỹ năng số cho công chức", "hours": 16, "ends_on": "2026-11-05"}
    assert claims.parse_training("Kỹ năng số; mười sáu; 05/11/2026") is None
    claim_id = await file_claim(db, p.person, claims.TRAINING, details)
    async with db.begin() as s:
        review = await claims.approve(s, actor_id=p.organizer, claim_id=claim_id, now=DAYTIME)
    assert review.done
    async with db.begin() as s:
        again = await claims.reject(
            s, actor_id=p.organizer, claim_id=claim_id, reason="nhầm", now=DAYTIME
        )
        assert not again.done
        record = (await s.execute(select(TrainingRecord))).scalar_one()
        note = (await s.execute(select(Notification))).scalar_one()
    async with db() as s:
        statuses = await status_of(
            s, person_id=p.person, now=DAYTIME, today=date(2026, 12, 1), hours_target=40
        )
    assert (record.title, record.hours, record.ends_on, record.course_id) == (
        "Kỹ năng số cho công chức",
        16,
        date(2026, 11, 5),
        None,
    )
    assert (note.kind, note.params["approved"]) == ("claim_result", True)
    hours = next(x for x in statuses if x.rule.requires_kind == "refresher_hours")
    assert hours.hours_done == 16


# -- in chat -------------------------------------------------------------------------------------


def rule_line(text: str) -> str:
    return next(line for line in text.splitlines() if RULE_TITLE in line)


@pytest.mark.databases("sqlite")
async def test_a_qualification_claimed_with_a_photo_is_approved_from_the_queue(
    chat: Telegram,
) -> None:
    p = await people(chat.db)
    hoa = await chat.link(p.person, 700, "vi")
    org = await chat.link(p.organizer, 701, "en")
    out = await chat.link(p.outsider, 702, "en")
    with time_machine.travel(DAYTIME, tick=True):
        status = await chat.say(hoa, "/status")
        assert rule_line(status["text"]).startswith("⚠️")
        asked = await chat.choose(hoa, status, "Báo sai sót hoặc bổ sung")
        asked = await chat.choose(hoa, asked, "Văn bằng, chứng chỉ")
        assert asked["text"] == "Văn bằng, chứng chỉ nào?"
        asked = await chat.choose(hoa, asked, "Lý luận chính trị")
        asked = await chat.choose(hoa, asked, "trung cấp")
        assert asked["text"].startswith("Hãy nhập chuyên ngành")
        asked = await chat.say(hoa, "Trường Chính trị tỉnh Lạng Sơn, 2024")
        assert asked["text"].startswith("Bây giờ hãy gửi ảnh chụp hoặc tệp PDF")
        assert (await chat.say(hoa, "ảnh đây"))["text"].startswith("Hãy gửi ảnh chụp hoặc tệp PDF")
        photo = chat.api.photo_update(hoa, PNG)
        sent = await chat.send(hoa, photo)
        assert sent["text"].startswith("📨 Đã gửi (số ")

        assert (await chat.say(out, "/claims"))["text"] == "No claims are waiting for you."
        queue = await chat.say(org, "/claims")
        assert queue["text"] == "1 claim waiting, oldest first."
        shown = await chat.choose(org, queue, "Lương Thị Hoa")
        method, params = chat.api.calls[-1]
        # The evidence goes back by the file id Telegram gave the person's photo.
        assert (method, params["photo"]) == ("sendPhoto", photo["message"]["photo"][-1]["file_id"])
        head, who, what = shown["caption"].splitlines()[:3]
        assert re.fullmatch(r"Claim \d+ · Qualification", head)
        assert who.startswith("Lương Thị Hoa (") and who.endswith(") · Xã Hữu Lũng")
        assert what == "🎓 Political theory: intermediate"
        done = await chat.choose(org, shown, "Approve")
        assert done["text"].endswith("approved; the record of Lương Thị Hoa is updated.")
        assert "reply_markup" not in chat.api.sent_to(701)[-2]  # the buttons are gone
        assert await chat.drain() == 1
        assert chat.api.last_message(700)["text"].startswith(
            "✅ Đề nghị về hồ sơ của bạn đã được duyệt"
        )
        assert rule_line((await chat.say(hoa, "/status"))["text"]).startswith("✅")
    async with chat.db() as s:
        qual = (await s.execute(select(Qualification))).scalar_one()
        claim = (await s.execute(select(Claim))).scalar_one()
        entry = (
            await s.execute(select(AuditEntry).where(AuditEntry.action == "claim_approve"))
        ).scalar_one()
    assert (qual.kind, qual.level, qual.source) == ("political_theory", "trung_cap", "claim")
    assert (claim.state, claim.reviewer_id, claim.evidence_kind) == (
        ClaimState.APPROVED,
        p.organizer,
        "photo",
    )
    assert entry.actor.startswith("Cán bộ Tổ chức") and "Lương Thị Hoa" in entry.target


@pytest.mark.databases("sqlite")
async def test_outside_training_with_a_pdf_is_rejected_with_a_reason_the_person_reads(
    chat: Telegram,
) -> None:
    p = await people(chat.db)
    hoa = await chat.link(p.person, 710, "vi")
    org = await chat.link(p.organizer, 711, "en")
    with time_machine.travel(DAYTIME, tick=True):
        asked = await chat.choose(hoa, await chat.say(hoa, "/status"), "Báo sai sót")
        asked = await chat.choose(hoa, asked, "Bồi dưỡng ở nơi khác")
        assert (await chat.say(hoa, "Kỹ năng số 16 giờ"))["text"].startswith("Chưa đọc được")
        await chat.say(hoa, "Kỹ năng số cho công chức; 16; 05/11/2026")
        pdf = chat.api.document_update(hoa, "chung-nhan.pdf", b"%PDF-1.4 chung nhan")
        assert (await chat.send(hoa, pdf))["text"].startswith("📨 Đã gửi")

        shown = await chat.choose(org, await chat.say(org, "/claims"), "Lương Thị Hoa")
        assert shown["document"]["file_name"] == "chung-nhan.pdf"
        assert "📚 Kỹ năng số cho công chức · 16 hours · ended 05/11/2026" in shown["caption"]
        asked = await chat.choose(org, shown, "Reject")
        assert asked["text"].startswith("Why is claim")
        done = await chat.say(org, "Giấy chứng nhận không có dấu, xin gửi lại bản có dấu.")
        assert done["text"].endswith("rejected; Lương Thị Hoa will be told why.")
        assert await chat.drain() == 1
        assert chat.api.last_message(710)["text"] == (
            "❌ Đề nghị về hồ sơ của bạn không được duyệt. Lý do: Giấy chứng nhận không có dấu, "
            "xin gửi lại bản có dấu."
        )
        assert (await chat.say(org, "/claims"))["text"] == "No claims are waiting for you."
    async with chat.db() as s:
        assert (await s.execute(select(TrainingRecord))).first() is None
        claim = (await s.execute(select(Claim))).scalar_one()
    assert (claim.state, claim.evidence_kind) == (ClaimState.REJECTED, "document")


@pytest.mark.databases("sqlite")
async def test_a_civil_servant_cannot_open_the_queue_and_cancel_drops_a_draft(
    chat: Telegram,
) -> None:
    p = await people(chat.db)
    hoa = await chat.link(p.person, 720, "en")
    with time_machine.travel(DAYTIME, tick=True):
        assert (await chat.say(hoa, "/claims"))["text"].startswith("Only organizers can")
        asked = await chat.choose(hoa, await chat.say(hoa, "/status"), "Report a mistake")
        await chat.choose(hoa, asked, "Mistake in my record")
        assert (await chat.say(hoa, "/cancel"))["text"] == "Cancelled."
        # After /cancel a photo is not evidence any more.
        after = await chat.send(hoa, chat.api.photo_update(hoa, PNG))
        assert not after["text"].startswith("📨")
    async with chat.db() as s:
        assert (await s.execute(select(Claim))).first() is None
        refused = (await s.execute(select(AuditEntry.action, AuditEntry.result))).all()
    assert ("claims", "refused") in refused


async def test_a_claim_made_on_zalo_is_shown_with_its_photo_and_approved_on_telegram(
    chat: Telegram, zalo: Zalo
) -> None:
    """The photo's stored bytes are uploaded to the organizer; the person hears on Zalo."""
    p = await people(chat.db)
    org = await chat.link(p.organizer, 730, "en")
    async with chat.db.begin() as s:
        s.add(
            ChatAccount(
                channel="zalo",
                chat_user_id="z-hoa",
                chat_id="z-hoa",
                person_id=p.person,
                language="vi",
                linked_at=datetime.now(UTC),
            )
        )
    with time_machine.travel(DAYTIME, tick=True):
        assert rule_line((await zalo.say("z-hoa", "chuẩn"))[0]).startswith("⚠️")
        # Typed labels pick as numbers do: the claim, qualification, political theory, level.
        for text in (
            "bao sai sot hoac bo sung van bang chung chi",
            "van bang chung chi",
            "ly luan chinh tri",
            "trung cap",
            "Trường Chính trị tỉnh Lạng Sơn, 2024",
        ):
            await zalo.say("z-hoa", text)
        await zalo.bot.handle(zalo.srv.image_update("z-hoa"))
        assert zalo.srv.sent_to("z-hoa")[-1].startswith("📨 Đã gửi (số ")

        queue = await chat.say(org, "/claims")
        shown = await chat.choose(org, queue, "Lương Thị Hoa")
        method, params = chat.api.calls[-1]
        assert method == "sendPhoto" and params["photo"]["content"] == PHOTO  # uploaded
        assert (shown["photo"][-1]["width"], shown["photo"][-1]["height"]) == (4, 3)
        assert re.fullmatch(r"Claim \d+ · Qualification", shown["caption"].splitlines()[0])
        assert "🎓 Political theory: intermediate" in shown["caption"]
        done = await chat.choose(org, shown, "Approve")
        assert done["text"].endswith("approved; the record of Lương Thị Hoa is updated.")
        assert await zalo.drain(chat.app.bot) == 1
        assert zalo.srv.sent_to("z-hoa")[-1].startswith("✅ Đề nghị về hồ sơ của bạn đã được duyệt")
        assert rule_line((await zalo.say("z-hoa", "chuẩn"))[0]).startswith("✅")
    async with chat.db() as s:
        qual = (await s.execute(select(Qualification))).scalar_one()
        claim = (await s.execute(select(Claim))).scalar_one()
    assert (qual.kind, qual.level, qual.source) == ("political_theory", "trung_cap", "claim")
    assert (claim.state, claim.reviewer_id, claim.evidence_kind) == (
        ClaimState.APPROVED,
        p.organizer,
        "zalo_photo",
    )


def zalo_account(user: str, person_id: int, lang: str) -> ChatAccount:
    return ChatAccount(channel="zalo", chat_user_id=user, chat_id=user, person_id=person_id,
                       language=lang, linked_at=datetime.now(UTC))  # fmt: skip


def number(message: str, fragment: str) -> str:
    """The number of the one numbered choice of `message` containing `fragment`."""
    found = [line.split(". ", 1)[0] for line in message.splitlines()
             if line[:1].isdigit() and fragment in line]  # fmt: skip
    assert len(found) == 1, f"no one choice {fragment!r} in {message!r}"
    return found[0]


@pytest.mark.databases("sqlite")
async def test_a_claim_owing_its_evidence_is_filed_by_a_photo_sent_after_a_restart(
    db_engine: AsyncEngine, db: async_sessionmaker[AsyncSession]
) -> None:
    p = await people(db)
    with time_machine.travel(DAYTIME, tick=True):
        async with running(settings(), db_engine, db) as before:
            hoa = await before.link(p.person, 740, "en")
            asked = await before.choose(hoa, await before.say(hoa, "/status"), "Report a mistake")
            await before.choose(hoa, asked, "Mistake in my record")
            asked = await before.say(hoa, "My birth date is 02/03/1985, not 03/02/1985.")
            assert asked["text"] == "Now send a photo or a PDF of the certificate or document."
        async with running(settings(), db_engine, db) as after:  # a new process, same database
            after.api.add_user(hoa)
            sent = await after.send(hoa, after.api.photo_update(hoa, PNG))
            assert sent["text"].startswith("📨 Sent (number ")
    async with db() as s:
        claim = (await s.execute(select(Claim))).scalar_one()
    assert (claim.kind, claim.note, claim.evidence_kind) == (
        claims.CORRECTION, "My birth date is 02/03/1985, not 03/02/1985.", "photo")  # fmt: skip


async def test_an_organizer_on_zalo_decides_claims_and_is_told_what_evidence_came(
    zalo: Zalo,
) -> None:
    """Zalo cannot show the evidence: the card says a photo or a file came with the claim.
    Approving and rejecting (with a typed reason) work as on Telegram; an organizer of another
    unit is refused, and the refusal is audited with the Zalo actor."""
    p = await people(zalo.db)
    async with zalo.db.begin() as s:
        for user, person in (("z-org", p.organizer), ("z-out", p.outsider)):
            s.add(zalo_account(user, person, "en"))
        photo = await claims.submit(
            s, person_id=p.person, kind=claims.QUALIFICATION, note="Bằng trung cấp",
            details={"kind": "political_theory", "level": "trung_cap"},
            evidence_kind=claims.STORED_PHOTO, evidence=claims.EvidenceFile(PNG, "a.png",
                                                                            "image/png"),
            now=DAYTIME,
        )  # fmt: skip
        pdf = await claims.submit(
            s, person_id=p.person, kind=claims.TRAINING, note="",
            details={"title": "Kỹ năng số", "hours": 16, "ends_on": "2026-11-05"},
            evidence_kind="document", evidence_file_id="FILE-2", now=DAYTIME,
        )  # fmt: skip
    with time_machine.travel(DAYTIME, tick=True):
        assert (await zalo.say("z-out", "/claims"))[0] == "No claims are waiting for you."
        queue = (await zalo.say("z-org", "duyệt đề nghị"))[0]
        assert queue.startswith("2 claims waiting, oldest first.")
        shown = (await zalo.say("z-org", number(queue, f"{photo.id} · Lương Thị Hoa")))[0]
        assert shown.startswith(f"Claim {photo.id} · Qualification\nLương Thị Hoa (")
        assert "🎓 Political theory: intermediate" in shown
        assert "📎 Evidence: a photo came with this claim." in shown
        done = (await zalo.say("z-org", number(shown, "Approve")))[0]
        assert done.startswith(f"✅ Claim {photo.id} approved; the record of Lương Thị Hoa")

        queue = (await zalo.say("z-org", "/claims"))[0]
        shown = (await zalo.say("z-org", number(queue, f"{pdf.id} · Lương Thị Hoa")))[0]
        assert "📚 Kỹ năng số · 16 hours · ended 05/11/2026" in shown
        assert "📎 Evidence: a file came with this claim." in shown
        asked = (await zalo.say("z-org", number(shown, "Reject")))[0]
        assert asked.startswith(f"Why is claim {pdf.id} rejected?")
        done = (await zalo.say("z-org", "Thiếu dấu của cơ sở đào tạo."))[0]
        assert done == f"Claim {pdf.id} rejected; Lương Thị Hoa will be told why."

        # A forged choice from an organizer of another unit changes nothing.
        await zalo.offer("z-out", [Choice("Approve", f"cla:{pdf.id}")])
        await zalo.say("z-out", "1")
    async with zalo.db() as s:
        decided = {i: state for i, state in await s.execute(select(Claim.id, Claim.state))}
        rejected = await s.get(Claim, pdf.id)
        refused = (await s.execute(select(AuditEntry.actor).filter_by(
            action="claim_approve", result="refused"))).scalars().all()  # fmt: skip
    assert decided == {photo.id: ClaimState.APPROVED, pdf.id: ClaimState.REJECTED}
    assert rejected is not None and rejected.reason == "Thiếu dấu của cơ sở đào tạo."
    assert refused == ["zalo:z-out"]
