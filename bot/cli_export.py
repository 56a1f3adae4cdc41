"""`boiduong export registrants COURSE_CODE OUT.xlsx`: the registrants of a course as an XLSX
that opens in Excel with Vietnamese intact (names in Vietnamese order, phones as text).

The operator's console: Vietnamese with English in brackets; the file's headers are Vietnamese.
"""

from __future__ import annotations

import sys
from pathlib import Path

from bot.cli_admin import operator
from config.settings import Settings
from domain.course_admin import registrants_by_code, write_registrants
from domain.errors import DomainError
from storage.db import create_engine, make_sessionmaker, upgrade

OK, INVALID, USAGE = 0, 1, 2

HEADERS = ("STT", "Họ và tên", "Đơn vị", "Chức vụ", "Số điện thoại", "Trạng thái",
           "Thứ tự chờ")  # fmt: skip
STATUS = {
    "registered": "Đã đăng ký",
    "waitlisted": "Danh sách chờ",
    "pending_approval": "Chờ duyệt",
    "nominated": "Được cử đi học",
    "attended": "Đã tham dự",
    "completed": "Đã hoàn thành",
    "no_show": "Vắng mặt",
}


async def cmd_export_registrants(settings: Settings, code: str, out: Path) -> int:
    """Write the registrants of the course with this code; the export is audited."""
    if out.suffix.lower() != ".xlsx":
        print(f"Tệp ra phải là .xlsx (the output must be an .xlsx file): {out}", file=sys.stderr)
        return USAGE
    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        async with make_sessionmaker(engine).begin() as session:
            course, rows = await registrants_by_code(session, code=code, actor=operator())
            write_registrants(out, rows, headers=HEADERS, status_labels=STATUS,
                              sheet_title=course.code)  # fmt: skip
    except DomainError:
        print(f"Không có khóa học mã (no course with code) {code}.", file=sys.stderr)
        return INVALID
    except OSError as exc:
        print(f"Không ghi được tệp (cannot write) {out}: {exc}", file=sys.stderr)
        return USAGE
    finally:
        await engine.dispose()
    print(f"Đã xuất {len(rows)} người đăng ký khóa {course.code} (exported {len(rows)} "
          f"registrants): {out}")  # fmt: skip
    return OK
