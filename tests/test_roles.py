"""Roles scoped to unit subtrees, granted from the command line or by an administrator in chat;
refusals are answered, audited and logged."""

from __future__ import annotations

import json
import logging

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.cli_admin import cmd_audit, cmd_role
from bot.offline import OfflineBotAPI
from bot.telegram.help import COMMANDS, sync_role_menus
from config.settings import Settings
from domain import roles
from domain.errors import DomainError, Refusal
from storage.models import AuditEntry, ChatAccount, Person, Role, RoleGrant
from tests.factories import make_person, make_unit
from tests.fixtures_zalo import person_on_zalo
from tests.harness import Telegram, link_account
from tests.zalo_standin import Zalo


async def _tree(session: AsyncSession) -> dict[str, int]:
    province = await make_unit(session, code="LS", kind="province")
    district = await make_unit(session, code="LS-TD", kind="district", parent=province)
    commune = await make_unit(session, code="LS-X1", parent=district)
    division = await make_unit(session, code="LS-X1-VP", kind="division", parent=commune)
    other = await make_unit(session, code="LS-X2", parent=province)
    return {u.code: u.id for u in (province, district, commune, division, other)}


async def test_an_organizer_acts_in_their_subtree_at_any_depth_and_nowhere_else(
    db: async_sessionmaker[AsyncSession],
) -> None:
    async with db.begin() as s:
        units = await _tree(s)
        person = await make_person(s, unit=None)
        assert await roles.grant(
            s, person_id=person.id, role=Role.ORGANIZER, unit_id=units["LS-TD"], by="test"
        )
        assert not await roles.grant(
            s, person_id=person.id, role=Role.ORGANIZER, unit_id=units["LS-TD"], by="test"
        )
    async with db() as s:
        scope = await roles.require(s, person_id=person.id, role=Role.ORGANIZER)
        assert scope.unit_ids == {units["LS-TD"], units["LS-X1"], units["LS-X1-VP"]}
        assert scope.covers(units["LS-X1-VP"]) and not scope.covers(units["LS-X2"])
        # An organizer may also do what a unit head does, but is no administrator.
        assert await roles.scope(s, person_id=person.id, role=Role.UNIT_HEAD) is not None
        with pytest.raises(DomainError) as refused:
            await roles.require(s, person_id=person.id, role=Role.ADMIN)
        assert refused.value.code == Refusal.FORBIDDEN
        with pytest.raises(DomainError):
            await roles.require(s, person_id=person.id, role=Role.ORGANIZER, unit_id=units["LS-X2"])
        with pytest.raises(DomainError):
            await roles.require(s, person_id=None, role=Role.UNIT_HEAD)


async def test_an_administrator_acts_everywhere(db: async_sessionmaker[AsyncSession]) -> None:
    async with db.begin() as s:
        units = await _tree(s)
        admin = await make_person(s)
        await roles.grant(s, person_id=admin.id, role=Role.ADMIN, unit_id=units["LS"], by="t")
        scope = await roles.require(
            s, person_id=admin.id, role=Role.ORGANIZER, unit_id=units["LS-X2"]
        )
    assert scope.everywhere


@pytest.mark.databases("sqlite")
async def test_grant_and_revoke_from_the_command_line_are_audited(
    db: async_sessionmaker[AsyncSession],
    db_engine: AsyncEngine,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = Settings(database_url=db_engine.url.render_as_string(hide_password=False))
    async with db.begin() as s:
        await _tree(s)
        person = await make_person(s, personal_id="020000000777")
    assert await cmd_role(settings, "020000000777", "organizer", None, give=True) == 1
    assert "--unit" in capsys.readouterr().err
    assert await cmd_role(settings, "020000000777", "organizer", "NOPE", give=True) == 1
    assert await cmd_role(settings, "999999999999", "admin", None, give=True) == 1
    assert await cmd_role(settings, "020000000777", "organizer", "LS-TD", give=True) == 0
    assert "Đã cấp (granted): 020000000777 organizer @ LS-TD" in capsys.readouterr().out
    assert await cmd_role(settings, "020000000777", "organizer", None, give=False) == 0
    async with db() as s:
        assert (await s.execute(select(RoleGrant))).first() is None
        actions = [(e.action, e.result) for e in (await s.execute(select(AuditEntry))).scalars()]
    assert actions == [("grant", "ok"), ("revoke", "ok")]
    assert await cmd_audit(settings, 10) == 0
    out = capsys.readouterr().out
    assert "grant" in out and f"{person.full_name} (020000000777): organizer @ LS-TD" in out


# -- in chat ------------------------------------------------------------------------------------


async def _linked(db: async_sessionmaker[AsyncSession], api: OfflineBotAPI, uid: int) -> int:
    async with db.begin() as s:
        person = await make_person(s, personal_id=f"0200000{uid:05d}")
        await link_account(s, api, person.id, uid)
    return person.id


@pytest.mark.databases("sqlite")
async def test_a_civil_servant_typing_an_admin_command_is_refused_audited_and_logged(
    chat: Telegram,
    db: async_sessionmaker[AsyncSession],
    caplog: pytest.LogCaptureFixture,
) -> None:
    api = chat.api
    await _linked(db, api, 501)
    user = {"id": 501, "is_bot": False, "first_name": "U", "language_code": "vi"}
    with caplog.at_level(logging.WARNING, logger="domain.roles"):
        await chat.say(user, "/grant 020000000501 admin")
    assert api.last_message(501)["text"] == "Việc này cần quyền quản trị viên."
    assert any("refused grant" in r.getMessage() for r in caplog.records)
    async with db() as s:
        entry = (await s.execute(select(AuditEntry))).scalar_one()
        assert (entry.action, entry.result, entry.actor) == ("grant", "refused", "telegram:501")
        assert (await s.execute(select(RoleGrant))).first() is None


@pytest.mark.databases("sqlite")
async def test_an_administrator_grants_in_chat_and_reads_the_audit_log(
    chat: Telegram, db: async_sessionmaker[AsyncSession]
) -> None:
    api = chat.api
    admin = await _linked(db, api, 601)
    await _linked(db, api, 602)
    async with db.begin() as s:
        await make_unit(s, code="LS-X9")
        await roles.grant(s, person_id=admin, role=Role.ADMIN, unit_id=None, by="test")
    user = {"id": 601, "is_bot": False, "first_name": "A", "language_code": "vi"}

    async def say(text: str) -> str:
        await chat.say(user, text)
        return str(api.last_message(601)["text"])

    assert await say("/grant 020000000602 organizer") == (
        "Cách dùng: /grant SỐ_CCCD admin|organizer|unit_head MÃ_ĐƠN_VỊ"
    )
    assert await say("/grant 020000000602 organizer LS-NONE") == "Không có đơn vị này."
    assert await say("/grant 020000000602 organizer LS-X9") == "Đã xong."
    assert await say("/grant 020000000602 organizer LS-X9") == "Không có gì thay đổi."
    log = await say("/audit")
    assert log.startswith("Nhật ký thao tác, mới nhất trước")
    assert "unchanged · grant" in log and "ok · grant" in log


@pytest.mark.databases("sqlite")
async def test_help_shows_organizer_commands_only_to_people_with_a_role(
    chat: Telegram, db: async_sessionmaker[AsyncSession]
) -> None:
    api = chat.api
    organizer = await _linked(db, api, 701)
    await _linked(db, api, 702)
    async with db.begin() as s:
        unit = await make_unit(s)
        await roles.grant(s, person_id=organizer, role=Role.ORGANIZER, unit_id=unit.id, by="t")

    async def help_for(uid: int) -> str:
        user = {"id": uid, "is_bot": False, "first_name": "U", "language_code": "vi"}
        await chat.say(user, "/help")
        return str(api.last_message(uid)["text"])

    assert "Dành cho cán bộ phụ trách bồi dưỡng" in await help_for(701)
    assert "/audit" not in await help_for(701)  # organizers are no administrators
    civil_servant = await help_for(702)
    assert civil_servant.startswith("Cách dùng bot")
    assert "Dành cho cán bộ phụ trách bồi dưỡng" not in civil_servant


def _menu(api: OfflineBotAPI, chat_id: int) -> list[str] | None:
    key = (json.dumps({"type": "chat", "chat_id": chat_id}, sort_keys=True), "")
    commands = api.commands.get(key)
    return None if commands is None else [c["command"] for c in commands]


@pytest.mark.databases("sqlite")
async def test_a_role_brings_its_commands_into_the_holders_own_menu(
    chat: Telegram, db: async_sessionmaker[AsyncSession]
) -> None:
    """Granted in chat: the organizer's menu has /organize at once; revoked: the common menu
    is back; granted on the command line: the menu follows at start-up or on their /help."""
    api = chat.api
    admin = await _linked(db, api, 801)
    await _linked(db, api, 802)
    head = await _linked(db, api, 803)
    async with db.begin() as s:
        unit = await make_unit(s, code="LS-M1")
        await roles.grant(s, person_id=admin, role=Role.ADMIN, unit_id=None, by="test")

    async def say(uid: int, text: str) -> None:
        user = {"id": uid, "is_bot": False, "first_name": "A", "language_code": "vi"}
        await chat.say(user, text)

    await say(801, "/grant 020000000802 organizer LS-M1")
    organizer_menu = _menu(api, 802)
    assert organizer_menu is not None
    assert {"organize", "newcourse", "broadcast", "nominate", "report"} <= set(organizer_menu)
    assert "grant" not in organizer_menu and organizer_menu[0] == "start"
    await say(801, "/revoke 020000000802 organizer LS-M1")
    assert _menu(api, 802) is None  # the common menu again
    async with db.begin() as s:  # as `boiduong grant` does, without the bot knowing
        await roles.grant(s, person_id=head, role=Role.UNIT_HEAD, unit_id=unit.id, by="cli")
    assert _menu(api, 803) is None
    await say(803, "/help")
    assert set(_menu(api, 803) or ()) - set(COMMANDS) == {"nominate", "noshows"}
    await sync_role_menus(chat.app)  # soon after start-up every holder has their menu
    admin_menu = _menu(api, 801) or []
    assert {"grant", "revoke", "audit", "organize"} <= set(admin_menu)
    commands = api.commands[(json.dumps({"type": "chat", "chat_id": 801}, sort_keys=True), "")]
    assert commands[admin_menu.index("audit")]["description"] == "Quản trị: nhật ký thao tác"
    await say(801, "/language")
    user = {"id": 801, "is_bot": False, "first_name": "A", "language_code": "vi"}
    shown = api.last_message(801)
    press = api.callback_update(user, int(shown["message_id"]), "lang:en")
    await chat.process(press)
    commands = api.commands[(json.dumps({"type": "chat", "chat_id": 801}, sort_keys=True), "")]
    assert commands[admin_menu.index("audit")]["description"] == "Administrator: the audit log"
    calls = len(api.calls)
    await say(801, "/help")
    assert not [m for m, _p in api.calls[calls:] if m.endswith("MyCommands")]  # nothing changed
    head_user = {"id": 803, "is_bot": False, "first_name": "H", "language_code": "vi"}
    for data in ("unlink", "unlinkc"):  # /privacy → unlink → confirm
        if data == "unlink":
            await say(803, "/privacy")
        shown = api.last_message(803)
        press = api.callback_update(head_user, int(shown["message_id"]), data)
        await chat.process(press)
    assert _menu(api, 803) is None  # an unlinked chat speaks for nobody: the common menu


@pytest.mark.databases("sqlite")
async def test_an_administrator_grants_and_revokes_a_role_on_zalo(zalo: Zalo) -> None:
    """The same /grant on Zalo, typed in Vietnamese words; the role takes effect at once and
    a civil servant typing it is refused and audited under their Zalo id."""
    async with zalo.db.begin() as s:
        await make_unit(s, code="LS-X9")
        admin = await make_person(s, personal_id="020000000901")
        await make_person(s, personal_id="020000000902")
        await roles.grant(s, person_id=admin.id, role=Role.ADMIN, unit_id=None, by="test")
    await person_on_zalo(zalo.db, "z-admin")
    async with zalo.db.begin() as s:  # the chat speaks for the administrator
        account = (await s.execute(select(ChatAccount).where(
            ChatAccount.chat_user_id == "z-admin"))).scalar_one()  # fmt: skip
        account.person_id = admin.id
    await person_on_zalo(zalo.db, "z-clerk")

    async def say(user: str, text: str) -> str:
        return "\n".join(await zalo.say(user, text))

    assert await say("z-clerk", "cấp quyền 020000000902 organizer LS-X9") == (
        "Việc này cần quyền quản trị viên."
    )
    assert await say("z-admin", "cấp quyền 020000000902 organizer LS-X9") == "Đã xong."
    async with zalo.db() as s:
        given = (await s.execute(select(RoleGrant.role).join(Person).where(
            Person.personal_id == "020000000902"))).scalars().all()  # fmt: skip
    assert [str(r) for r in given] == [Role.ORGANIZER.value]
    assert "ok · grant" in await say("z-admin", "nhật ký")
    assert await say("z-admin", "thu hồi quyền 020000000902 organizer LS-X9") == "Đã xong."
    async with zalo.db() as s:
        refused = (await s.execute(select(AuditEntry.action, AuditEntry.actor).where(
            AuditEntry.result == "refused"))).all()  # fmt: skip
    assert refused == [("grant", "zalo:z-clerk")]
