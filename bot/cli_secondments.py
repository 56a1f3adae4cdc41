"""`boiduong secondments review|end|extend`: what happens to a secondment after it starts.

An organizer records a review meeting's outcome (which moves the next review date), an early
end (the person comes home) or an extension. Each is audited; the report and the review
reminders follow. Text is Vietnamese with English in parentheses, like the other commands.
"""

from __future__ import annotations

import argparse
from datetime import UTC, date, datetime

from bot.cli_admin import operator
from config.settings import Settings
from domain.errors import DomainError, Refusal
from domain.import_rows import parse_when
from domain.phones import valid_personal_id
from domain.secondments import REVIEW_RATING, change_end, current_of, record_review
from domain.vocab import VocabError
from storage.db import create_engine, make_sessionmaker, upgrade

OK, INVALID, USAGE = 0, 1, 2


def add_parser(sub: argparse._SubParsersAction) -> None:
    sec = sub.add_parser("secondments", help="record a review, an early end or an extension")
    actions = sec.add_subparsers(dest="action", required=True)
    review = actions.add_parser("review", help="record a review meeting's outcome")
    review.add_argument("personal_id")
    review.add_argument("--on", required=True, help="the meeting's date, dd/mm/yyyy")
    review.add_argument("--rating", required=True,
                        help="; ".join(t.vi for t in REVIEW_RATING))  # fmt: skip
    review.add_argument("--note", default="", help="what the meeting concluded")
    review.add_argument("--next", help="the next meeting, dd/mm/yyyy (default: N months on)")
    end = actions.add_parser("end", help="end early: the person comes home on this date")
    end.add_argument("personal_id")
    end.add_argument("--on", required=True, help="the last day, dd/mm/yyyy")
    extend = actions.add_parser("extend", help="extend to a new planned end")
    extend.add_argument("personal_id")
    extend.add_argument("--until", required=True, help="the new planned end, dd/mm/yyyy")


def _day(text: str | None) -> date | None:
    parsed = parse_when(text.strip()) if text else None
    return parsed[0] if parsed else None


async def cmd_secondments(settings: Settings, args: argparse.Namespace) -> int:
    """Record what happened to a person's current secondment, in one transaction."""
    pid = valid_personal_id(args.personal_id)
    when_text = args.until if args.action == "extend" else args.on
    when = _day(when_text)
    nxt = _day(getattr(args, "next", None))
    if pid is None or when is None or (getattr(args, "next", None) and nxt is None):
        print("Số CCCD hoặc ngày không hợp lệ, ngày dạng dd/mm/yyyy (bad personal ID or date, "
              "use dd/mm/yyyy).")  # fmt: skip
        return USAGE
    rating = None
    if args.action == "review":
        try:
            rating = REVIEW_RATING.parse(args.rating)
        except VocabError:
            rating = None
        if rating is None:
            choices = ", ".join(f"{t.vi} ({t.en})" for t in REVIEW_RATING)
            print(f"Mức đánh giá không hợp lệ (unknown rating) — chọn (one of): {choices}")
            return USAGE
    now = datetime.now(UTC)
    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        async with make_sessionmaker(engine).begin() as session:
            today = now.astimezone(settings.tz).date()
            sec = await current_of(session, personal_id=pid, today=today)
            if rating is not None:
                moved = await record_review(session, secondment=sec, held_on=when, rating=rating,
                                            note=args.note, next_on=nxt, now=now,
                                            actor=operator())  # fmt: skip
                then = f"; họp tiếp theo (next review): {moved:%d/%m/%Y}" if moved else ""
                print(f"Đã ghi kết quả đánh giá (review recorded){then}.")
            else:
                if args.action == "end" and sec.ends_on is not None and when > sec.ends_on:
                    print("Ngày về sau ngày kết thúc dự kiến; dùng extend (after the planned end; "
                          "use extend).")  # fmt: skip
                    return INVALID
                outcome = await change_end(session, secondment=sec, ends_on=when, now=now,
                                           actor=operator())  # fmt: skip
                word = "gia hạn đến (extended until)" if outcome == "extended" else (
                    "kết thúc ngày (ends on)")  # fmt: skip
                print(f"Đã ghi (recorded): {word} {when:%d/%m/%Y}.")
    except DomainError as exc:
        if exc.code == Refusal.NOT_FOUND:
            print(f"Người này không đang biệt phái, luân chuyển (no secondment or rotation under "
                  f"way): {pid}.")  # fmt: skip
        else:
            print(f"Ngày không phù hợp với đợt biệt phái, luân chuyển (the date does not fit): "
                  f"{when_text}.")  # fmt: skip
        return INVALID
    finally:
        await engine.dispose()
    return OK
