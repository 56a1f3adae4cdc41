"""Data commands of the `boiduong` CLI: import a roster or courses, write a template, load rules.

This is the operator's console, so its text is Vietnamese with English in parentheses and
lives in the tables below, not in the domain services (they return codes). Exit codes:
0 done, 1 the file has bad rows (nothing written), 2 bad usage or unreadable file.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, date, datetime
from itertools import islice
from pathlib import Path

from bot.cli_admin import operator
from config.settings import Settings
from domain.errors import DomainError
from domain.import_rows import POSITION_GROUP, YES_NO, ImportReport, RowError, parse_when
from domain.importing import IMPORTERS, TEMPLATES, write_import_template
from domain.plans import import_plans, write_plans_template
from domain.positions import import_positions, write_positions_template
from domain.registration import cancel_course
from domain.rulebook import YAML_SUFFIXES, RulebookReport, RuleIssue, load_rulebook
from domain.secondments import (
    REVIEW_RATING,
    SECONDMENT_KIND,
    import_secondments,
    write_secondments_template,
)
from domain.sheets import SheetError
from domain.studies import FUNDING, STUDY_MODE, import_studies, write_studies_template
from domain.training_history import import_training, write_training_template
from domain.units import import_units, write_units_template
from domain.vocab import VOCABULARIES, Vocab
from storage.db import create_engine, make_sessionmaker, upgrade
from storage.repos.courses import CourseRepo, RegistrationRepo

log = logging.getLogger(__name__)

OK, INVALID, USAGE = 0, 1, 2

PROBLEMS = {
    "required": "thiếu giá trị bắt buộc (required value missing)",
    "too_long": "quá dài (too long)",
    "bad_personal_id": "số CCCD không hợp lệ, cần 12 chữ số (not a 12-digit personal ID)",
    "bad_phone": "số điện thoại không hợp lệ (not a Vietnamese phone number)",
    "bad_date": "ngày không hợp lệ, cần dd/mm/yyyy (bad date, use dd/mm/yyyy)",
    "future_date": "ngày ở tương lai (date in the future)",
    "bad_number": "không phải số nguyên hợp lệ (not a valid whole number)",
    "bad_link": "đường dẫn phải bắt đầu bằng https:// (link must start with https://)",
    "bad_sessions": "buổi học cần dạng dd/mm/yyyy HH:MM-HH:MM (session format)",
    "unknown_value": "giá trị không có trong danh mục (value not in the list)",
    "unknown_unit": "không có đơn vị này (unknown unit)",
    "ambiguous_unit": "nhiều đơn vị trùng tên, hãy ghi mã (several units share it; use the code)",
    "unknown_position": "không có chức vụ này (unknown position)",
    "ambiguous_position": "nhiều chức vụ trùng tên, hãy ghi mã (ambiguous position; use the code)",
    "unknown_audience": "không phải nhóm hay chức vụ đã biết (neither a group nor a position)",
    "unknown_group": "nhóm chức vụ chưa biết (unknown position group)",
    "duplicate_in_file": "trùng trong tệp (duplicate in the file)",
    "end_before_start": "kết thúc không sau bắt đầu (ends before it starts)",
    "session_outside_course": "buổi học nằm ngoài thời gian khóa học (session outside the course)",
    "deadline_after_end": "hạn đăng ký sau khi khóa học kết thúc (deadline after the course ends)",
    "unit_cycle": "đơn vị cấp trên tạo thành vòng lặp (the parents form a cycle)",
    "unit_merged": "đơn vị này đã sáp nhập, hãy dùng mã đơn vị mới (merged; use the new unit's "
    "code)",
    "bad_code": "mã chỉ gồm chữ, số và - . _, tối đa 40 ký tự (letters, digits, - . _; up to 40)",
    "phone_twice": "một số điện thoại cho hai người (one phone number on two people)",
    "phone_taken": "số điện thoại đã thuộc về người khác trong danh sách (phone already belongs "
    "to another person on the roster)",
    "postgraduate": "hãy ghi rõ Thạc sĩ hoặc Tiến sĩ thay cho «Sau đại học» (write Thạc sĩ or "
    "Tiến sĩ instead of «Sau đại học»)",
    "bad_old_id": "số CMND cũ cần 9 chữ số (the old ID number has 9 digits)",
    "unknown_person": "không có người này trong danh sách cán bộ (not on the roster)",
    "review_interval": "cần từ 3 đến 6 tháng (3 to 6 months)",
    # Postgraduate sending conditions (domain/postgraduate.py); the value is "age > limit" or
    # "years < minimum".
    "pg_too_old": "quá tuổi cử đi đào tạo sau đại học lần đầu tại ngày quyết định (over the "
    "age limit for a first postgraduate sending at the decision date)",
    "pg_short_service": "chưa đủ số năm công tác để cử đi đào tạo sau đại học (too few years "
    "of service to be sent to postgraduate study)",
    "pg_no_birth_date": "thiếu ngày sinh trong danh sách cán bộ, chưa xét được tuổi cử đi học "
    "(no date of birth on the roster: the age limit cannot be checked)",
    "pg_no_joined_date": "thiếu ngày vào cơ quan trong danh sách cán bộ, chưa xét được thời "
    "gian công tác (no joined date on the roster: years of service cannot be checked)",
}
FILE_PROBLEMS = {
    "unsupported_format": "định dạng tệp không hỗ trợ (unsupported file type)",
    "unreadable": "không đọc được tệp (cannot read the file)",
    "no_header": "không tìm thấy dòng tiêu đề (no header row found)",
    "missing_columns": "thiếu cột bắt buộc (required columns missing)",
    "file_too_large": "tệp quá lớn, tối đa {limit} MB (file too large, at most {limit} MB)",
    "too_many_rows": "quá nhiều dòng, tối đa {limit} dòng (too many rows, at most {limit})",
    "too_many_columns": "quá nhiều cột, tối đa {limit} cột (too many columns, at most {limit})",
    "not_utf8": "tệp CSV không phải UTF-8; trong Excel hãy lưu dạng «CSV UTF-8» (the CSV file "
    "is not UTF-8; in Excel save it as «CSV UTF-8»)",
}
# Bad rows printed one by one; the rest are only counted by kind, so a file of 50,000 bad rows
# still fits a screen.
SHOWN_ERRORS = 100
STAGES = {
    "read": "Đã đọc {n} dòng (read {n} rows)",
    "validated": "Đã kiểm tra {n} dòng (validated {n} rows)",
    "written": "Đã ghi {n} dòng (wrote {n} rows)",
}
KINDS = {
    "roster": "danh sách cán bộ (roster)", "courses": "khóa học (courses)",
    "units": "danh mục đơn vị (units)", "positions": "danh mục chức vụ, chức danh (positions)",
    "secondments": "biệt phái, luân chuyển (secondments and rotations)",
    "plans": "kế hoạch đào tạo, bồi dưỡng năm (yearly plans)",
    "training": "quá trình đào tạo, bồi dưỡng (training history)",
    "studies": "cán bộ đang học nâng cao trình độ (degree studies)",
}  # fmt: skip
ACTIONS = {"created": "thêm mới (created)", "updated": "cập nhật (updated)"}
CHANGES_SHOWN = 200
EXTRA_VOCABS: dict[str, Vocab] = {
    v.name: v for v in (YES_NO, POSITION_GROUP, SECONDMENT_KIND, REVIEW_RATING, STUDY_MODE,
                        FUNDING)
}
TEMPLATE_WRITERS: dict[str, Callable[[Path], None]] = {
    "units": write_units_template, "positions": write_positions_template,
    "secondments": write_secondments_template, "plans": write_plans_template,
    "training": write_training_template, "studies": write_studies_template,
}  # fmt: skip


# Each takes the operator as `actor`; the training history also the zone its dates are in.
OTHER_IMPORTERS: dict[str, Callable[..., Awaitable[ImportReport]]] = {
    "units": import_units, "positions": import_positions, "secondments": import_secondments,
    "plans": import_plans, "training": import_training, "studies": import_studies,
}  # fmt: skip


def _err(text: str) -> None:
    print(text, file=sys.stderr)


def _choices(vocab_name: str) -> str:
    vocab = VOCABULARIES.get(vocab_name) or EXTRA_VOCABS.get(vocab_name)
    if vocab is None:
        return ""
    return " — chọn một trong (one of): " + ", ".join(f"{t.vi} ({t.en})" for t in vocab)


def _problem(code: str, value: str, vocab: str = "", other_row: int | None = None) -> str:
    text = PROBLEMS.get(code, code)
    if value:
        text += f": «{value}»"
    if other_row is not None:
        text += f" — giống dòng {other_row} (same as row {other_row})"
    return text + _choices(vocab)


def row_error_line(e: RowError) -> str:
    return f"Dòng {e.row}, cột {e.column}: " + _problem(e.code, e.value, e.vocab, e.other_row)


def issue_line(e: RuleIssue, *, yaml_file: bool) -> str:
    where = f"{e.section} #{e.where}" if yaml_file else f"sheet {e.section}, dòng {e.where}"
    return f"{where}, trường {e.field}: " + _problem(e.code, e.value, e.vocab)


def _exists(path: Path) -> bool:
    if path.is_file():
        return True
    _err(f"Không tìm thấy tệp (file not found): {path}")
    return False


def _file_error(path: Path, exc: SheetError) -> int:
    text = FILE_PROBLEMS.get(exc.code, exc.code)
    if "{limit}" in text:
        _err(f"{path}: {text.format(limit=exc.detail)}")
    else:
        _err(f"{path}: {text}" + (f" — {exc.detail}" if exc.detail else ""))
    return USAGE


def _print_errors(lines: Iterable[str], codes: Sequence[str]) -> None:
    count = len(codes)
    print(f"Có {count} lỗi, chưa ghi gì vào cơ sở dữ liệu ({count} errors, nothing written):")
    for line in islice(lines, SHOWN_ERRORS):
        print("  " + line)
    if count > SHOWN_ERRORS:
        rest = count - SHOWN_ERRORS
        print(f"  … và {rest} lỗi khác, đếm theo loại dưới đây (and {rest} more, counted below)")
    # After thousands of lines, say what kinds of problems they were (e.g. a missing unit).
    for code, n in Counter(codes).most_common():
        print(f"Tổng (total) {n} × {PROBLEMS.get(code, code)}")


def _print_changes(report: ImportReport) -> None:
    """A dry run's row-by-row list: what each row adds or changes (old → new)."""
    for change in report.changes[:CHANGES_SHOWN]:
        line = f"  Dòng (row) {change.row}, {change.key}: {ACTIONS[change.action]}"
        if change.fields:
            line += "; " + "; ".join(f"{col}: «{old}» → «{new}»" for col, old, new in change.fields)
        print(line)
    if len(report.changes) > CHANGES_SHOWN:
        print(f"  … và {len(report.changes) - CHANGES_SHOWN} dòng khác (and "
              f"{len(report.changes) - CHANGES_SHOWN} more rows)")  # fmt: skip


def _print_commitments(report: ImportReport) -> None:
    """The commitment to serve each postgraduate study the unit sends someone to brings."""
    for row, key, months, until in report.commitments[:CHANGES_SHOWN]:
        print(f"  Dòng (row) {row}, {key}: cam kết phục vụ ít nhất {months} tháng, đến "
              f"{until:%d/%m/%Y} (commitment to serve at least {months} months, until "
              f"{until:%d/%m/%Y})")  # fmt: skip


def _summary(report: ImportReport) -> str:
    head = "Kiểm tra thử (dry run)" if report.dry_run else "Đã nhập (imported)"
    return (
        f"{head} {KINDS[report.kind]}: {report.total_rows} dòng (rows) — "
        f"{report.created} thêm mới (created), {report.updated} cập nhật (updated), "
        f"{report.unchanged} không đổi (unchanged)."
        + (" Chưa ghi gì (nothing written)." if report.dry_run else "")
        + (
            f" Đã báo cho {report.notified} người đăng ký về thay đổi thời gian, địa điểm "
            f"(registrants told of changed times or places: {report.notified})."
            if report.notified
            else ""
        )
    )


async def cmd_import(
    settings: Settings, kind: str, path: Path, dry_run: bool, *, as_of: str | None = None
) -> int:
    """Import a roster or courses file in one transaction; print every bad row."""
    if kind not in KINDS:
        _err(f"Loại không hợp lệ (unknown kind): {kind}; dùng (use) {' | '.join(KINDS)}")
        return USAGE
    learnt_on = None
    if as_of is not None:
        parsed = parse_when(as_of.strip())
        if kind != "roster" or parsed is None or parsed[1] is not None:
            _err("--as-of chỉ dùng cho danh sách cán bộ, dạng dd/mm/yyyy (roster only, "
                 "dd/mm/yyyy)")  # fmt: skip
            return USAGE
        learnt_on = parsed[0]
    if not _exists(path):
        return USAGE
    started = time.perf_counter()

    def progress(stage: str, rows: int) -> None:
        elapsed = time.perf_counter() - started
        _err(STAGES.get(stage, stage).format(n=rows) + f" — {elapsed:.1f} s")

    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        async with make_sessionmaker(engine).begin() as session:
            now = datetime.now(UTC)
            if kind in IMPORTERS:
                extra: dict[str, object] = (
                    {"policy": settings.reminder_policy()} if kind == "courses"
                    else {"as_of": learnt_on, "tz": settings.tz}
                )  # fmt: skip
                report = await IMPORTERS[kind](
                    session, path=path, dry_run=dry_run, now=now, progress=progress, **extra
                )
            else:
                zone: dict[str, object] = {"tz": settings.tz} if kind == "training" else {}
                report = await OTHER_IMPORTERS[kind](
                    session, path=path, dry_run=dry_run, now=now, actor=operator(), **zone
                )
    except SheetError as exc:
        return _file_error(path, exc)
    finally:
        await engine.dispose()
    if report.unknown_headers:
        print("Bỏ qua các cột không nhận ra (ignored unknown columns): "
              + ", ".join(report.unknown_headers))  # fmt: skip
    if report.errors:
        _print_errors(map(row_error_line, report.errors), [e.code for e in report.errors])
        return INVALID
    if report.dry_run:
        _print_changes(report)
    _print_commitments(report)
    print(_summary(report))
    return OK


def cmd_template(kind: str, out: Path, *, today: date) -> int:
    """Write the blank XLSX template of an import (a courses example dated from `today`)."""
    if kind not in TEMPLATE_WRITERS and kind not in TEMPLATES:
        _err(f"Loại không hợp lệ (unknown kind): {kind}; dùng (use) {' | '.join(KINDS)}")
        return USAGE
    try:
        if kind in TEMPLATES:
            write_import_template(kind, out, today=today)
        else:
            TEMPLATE_WRITERS[kind](out)
    except OSError as exc:
        _err(f"Không ghi được tệp (cannot write) {out}: {exc}")
        return USAGE
    print(f"Đã tạo mẫu {KINDS[kind]} (template written): {out}")
    return OK


def _rulebook_summary(r: RulebookReport) -> str:
    head = "Kiểm tra thử (dry run)" if r.dry_run else "Đã nạp bộ tiêu chuẩn (rules loaded)"
    return (
        f"{head}: quy tắc (rules) {r.rules_created} mới (created), {r.rules_updated} cập nhật "
        f"(updated), {r.rules_unchanged} không đổi (unchanged), {r.rules_deactivated} ngừng áp "
        f"dụng (deactivated); chức vụ (positions) {r.positions_created} mới, "
        f"{r.positions_updated} cập nhật, {r.positions_unchanged} không đổi."
        + ("" if r.postgraduate_changed is None else
           " Điều kiện cử đi học sau đại học (postgraduate sending conditions): "
           + ("cập nhật (updated)." if r.postgraduate_changed else "không đổi (unchanged)."))
    )  # fmt: skip


async def cmd_standards_load(settings: Settings, path: Path, dry_run: bool) -> int:
    """Load a standards rule book (YAML or XLSX) in one transaction."""
    if not _exists(path):
        return USAGE
    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        async with make_sessionmaker(engine).begin() as session:
            report = await load_rulebook(session, path=path, dry_run=dry_run)
    except SheetError as exc:
        return _file_error(path, exc)
    finally:
        await engine.dispose()
    if report.errors:
        yaml_file = path.suffix.lower() in YAML_SUFFIXES
        lines = (issue_line(e, yaml_file=yaml_file) for e in report.errors)
        _print_errors(lines, [e.code for e in report.errors])
        return INVALID
    print(_rulebook_summary(report))
    return OK


async def cmd_cancel_course(settings: Settings, code: str, *, yes: bool) -> int:
    """Cancel a course after the operator types its code again (or passes --yes)."""
    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        db = make_sessionmaker(engine)
        async with db() as session:
            course = await CourseRepo(session).by_code(code)
            active = await RegistrationRepo(session).counts([course.id]) if course else {}
        if course is None:
            _err(f"Không có khóa học mã (no course with code) {code}.")
            return INVALID
        people = sum(active.values())
        print(f"{course.code}: {course.title} — {people} người đăng ký/chờ (registered or "
              f"waitlisted) sẽ được báo ngay (will be told at once).")  # fmt: skip
        if not yes:
            prompt = "Gõ lại mã khóa học để hủy (type the code again to cancel): "
            answer = await asyncio.to_thread(input, prompt)
            if answer.strip() != course.code:
                print("Không hủy (not cancelled).")
                return INVALID
        try:
            async with db.begin() as session:
                told = await cancel_course(
                    session,
                    course_id=course.id,
                    now=datetime.now(UTC),
                    policy=settings.reminder_policy(),
                )
        except DomainError:
            _err(f"Khóa học đã hủy hoặc đã kết thúc (already cancelled or finished): {code}.")
            return INVALID
    finally:
        await engine.dispose()
    print(f"Đã hủy (cancelled) {course.code}; {told} người sẽ nhận thông báo (people told).")
    return OK
