"""Spreadsheets for imports and exports: read a table by its headers, write templates.

Organizers fill templates in Excel or LibreOffice, or bring their own sheets with a title row,
Vietnamese or English headers, with or without diacritics. Reading finds the header row and
the known columns by name and returns every cell as text, the way a person saw it in Excel;
parsing the text (dates, vocabularies, IDs) is the importer's job.
"""

from __future__ import annotations

import csv
import enum
import io
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from itertools import chain, islice
from pathlib import Path
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from python_calamine import CalamineError, CalamineWorkbook, SheetVisibleEnum

from domain.vocab import match_key

__all__ = [
    "DATA_SHEET",
    "GUIDE_SHEET",
    "Column",
    "SheetError",
    "SheetErrorCode",
    "Table",
    "read_table",
    "write_rows_xlsx",
    "write_template",
]

DATA_SHEET = "Dữ liệu"
GUIDE_SHEET = "Hướng dẫn"
REQUIRED_MARK = " (*)"
HEADER_SCAN_ROWS = 10
SPREADSHEET_SUFFIXES = frozenset({".xlsx", ".xlsm", ".xlsb", ".xls", ".ods"})
CSV_SUFFIXES = frozenset({".csv", ".tsv", ".txt"})

# Key words that mark a column whose cells must stay exactly as typed: IDs and phone numbers
# lose leading zeros as numbers, and dates typed as dd/mm/yyyy are misread by an Excel set to
# a US locale.
_TEXT_KEY_WORDS = frozenset({"id", "cccd", "phone", "tel", "mobile", "code", "number", "date",
                             "dob", "birthday"})  # fmt: skip
# Sequence-number columns are in nearly every Vietnamese list; they are neither data nor news.
_IGNORED_HEADERS = frozenset({"stt", "tt", "so tt", "so thu tu", "no"})


@dataclass(frozen=True)
class Column:
    """One column of an import: its key, headers in both languages and notes for the template.

    `as_text` keeps the column's cells as text in templates; None decides from the key
    (keys with id, cccd, phone, code, number, date … are text).
    """

    key: str
    vi: str
    en: str
    required: bool
    note_vi: str
    note_en: str
    aliases: tuple[str, ...] = ()
    as_text: bool | None = None

    @property
    def is_text(self) -> bool:
        if self.as_text is not None:
            return self.as_text
        return bool(_TEXT_KEY_WORDS & set(self.key.lower().split("_")))

    def spellings(self) -> tuple[str, ...]:
        return (self.vi, self.en, self.key, *self.aliases)


class SheetErrorCode(enum.StrEnum):
    UNSUPPORTED_FORMAT = "unsupported_format"  # detail: the file suffix
    UNREADABLE = "unreadable"  # detail: the reader's message, for logs
    NO_HEADER = "no_header"  # detail: how many rows were searched
    MISSING_COLUMNS = "missing_columns"  # detail: the missing keys, comma-separated


class SheetError(Exception):
    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


@dataclass
class Table:
    """Rows as (spreadsheet row number, {column key: cell text}).

    Only columns present in the file appear in a row's dict, so an importer can tell a column
    left out (keep the stored value) from a blank cell (clear it): see `columns`.
    """

    rows: list[tuple[int, dict[str, str]]]
    unknown_headers: list[str]
    columns: list[str] = field(default_factory=list)  # keys found, in file order
    header_row: int = 1
    sheet: str = ""


_CellValue = str | int | float | bool | date | datetime | time | timedelta | None


def read_table(path: Path, columns: Sequence[Column]) -> Table:
    """Read the first sheet (or the one named "data"/"dữ liệu") of an XLSX/XLSM/XLS/ODS file,
    or a CSV file, into a Table keyed by `columns`. Raises SheetError."""
    suffix = path.suffix.lower()
    if suffix in SPREADSHEET_SUFFIXES:
        sheet, grid = _read_workbook(path)
    elif suffix in CSV_SUFFIXES:
        sheet, grid = "", _read_csv(path)
    else:
        raise SheetError(SheetErrorCode.UNSUPPORTED_FORMAT, suffix or path.name)
    table = _to_table(grid, columns)
    table.sheet = sheet
    return table


# --- reading -------------------------------------------------------------------------------


def _read_workbook(path: Path) -> tuple[str, list[list[str]]]:
    try:
        with CalamineWorkbook.from_path(str(path)) as wb:
            name = _pick_sheet(wb)
            # skip_empty_area=False keeps leading empty rows, so index + 1 is Excel's row number.
            values = wb.get_sheet_by_name(name).to_python(skip_empty_area=False)
    except (CalamineError, OSError, ValueError) as exc:
        raise SheetError(SheetErrorCode.UNREADABLE, f"{type(exc).__name__}: {exc}") from exc
    return name, [[_cell_text(v) for v in row] for row in values]


def _pick_sheet(wb: CalamineWorkbook) -> str:
    names = wb.sheet_names
    if not names:
        raise SheetError(SheetErrorCode.UNREADABLE, "no sheets")
    for name in names:
        if match_key(name) in ("data", "du lieu"):
            return name
    visible = [m.name for m in wb.sheets_metadata if m.visible == SheetVisibleEnum.Visible]
    return visible[0] if visible else names[0]


def _cell_text(v: _CellValue) -> str:
    # Render a typed cell the way Excel shows it to a Vietnamese user.
    if v is None:
        return ""
    if isinstance(v, str):
        return unicodedata.normalize("NFC", v).strip()
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isfinite(v) and v.is_integer():
            return str(int(v))  # 912345678.0 -> "912345678"
        return repr(v)
    if isinstance(v, datetime):
        if v.time() == time(0):
            return v.strftime("%d/%m/%Y")
        return v.strftime("%d/%m/%Y %H:%M")  # keep a real time of day rather than drop it
    if isinstance(v, date):
        return v.strftime("%d/%m/%Y")
    if isinstance(v, time):
        return v.strftime("%H:%M:%S" if v.second else "%H:%M")
    if isinstance(v, timedelta):
        minutes = int(v.total_seconds() // 60)
        return f"{minutes // 60}:{minutes % 60:02d}"
    return str(v)  # pragma: no cover - calamine returns only the types above


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")  # Excel's "Unicode text" export
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    # Vietnamese Windows code page of older Excel "CSV" exports; it decodes Western (cp1252)
    # letters the same way except a few rare accented capitals. TCVN3/VNI font encodings
    # cannot be told apart from it and are not supported.
    try:
        return unicodedata.normalize("NFC", data.decode("cp1258"))
    except UnicodeDecodeError as exc:
        raise SheetError(SheetErrorCode.UNREADABLE, "unknown text encoding") from exc


_SEP_LINE = re.compile(r"sep=(.)\r?\n?")
_DELIMITERS = (",", ";", "\t")


def _read_csv(path: Path) -> list[list[str]]:
    try:
        text = _decode(path.read_bytes())
    except OSError as exc:
        raise SheetError(SheetErrorCode.UNREADABLE, f"{type(exc).__name__}: {exc}") from exc
    first_line = text.split("\n", 1)[0]
    sep = _SEP_LINE.fullmatch(first_line + "\n")
    if sep:
        # Excel's "sep=;" directive; Excel hides the line, so row numbers start after it.
        delimiter = sep.group(1)
        text = text.split("\n", 1)[1] if "\n" in text else ""
    else:
        delimiter = _sniff(text)
    try:
        return [
            [unicodedata.normalize("NFC", c).strip() for c in row]
            for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        ]
    except csv.Error as exc:
        raise SheetError(SheetErrorCode.UNREADABLE, f"csv: {exc}") from exc


def _sniff(text: str) -> str:
    """The delimiter that splits the first lines most consistently into several fields."""
    sample = "\n".join(text.splitlines()[:50])
    best, best_score = ",", (0, 0)
    for d in _DELIMITERS:
        try:
            rows = list(csv.reader(io.StringIO(sample, newline=""), delimiter=d))
        except csv.Error:
            continue
        widths = Counter(len(r) for r in rows if len(r) > 1 and any(c.strip() for c in r))
        if not widths:
            continue
        width, count = widths.most_common(1)[0]
        if (count, width) > best_score:
            best, best_score = d, (count, width)
    return best


def _to_table(grid: list[list[str]], columns: Sequence[Column]) -> Table:
    lookup: dict[str, str] = {}
    for col in columns:
        for spelling in col.spellings():
            lookup.setdefault(match_key(spelling), col.key)
    required = {c.key for c in columns if c.required}
    # With no required columns, any one known header is enough.
    threshold = math.ceil(len(required) / 2) if required else 1

    header_index = None
    for i, row in enumerate(grid[:HEADER_SCAN_ROWS]):
        found = {lookup.get(match_key(cell)) for cell in row}
        hits = len(found & required) if required else len(found - {None})
        if hits >= threshold:
            header_index = i
            break
    if header_index is None:
        raise SheetError(SheetErrorCode.NO_HEADER, str(min(len(grid), HEADER_SCAN_ROWS)))

    positions: dict[int, str] = {}
    unknown: list[str] = []
    for j, cell in enumerate(grid[header_index]):
        key = match_key(cell)
        if not key:
            continue
        col_key = lookup.get(key)
        if col_key is None or col_key in positions.values():
            # A second column with the same meaning is reported, never silently merged.
            if key not in _IGNORED_HEADERS or col_key is not None:
                unknown.append(" ".join(cell.split()))
            continue
        positions[j] = col_key
    missing = [c.key for c in columns if c.required and c.key not in positions.values()]
    if missing:
        raise SheetError(SheetErrorCode.MISSING_COLUMNS, ", ".join(missing))

    rows: list[tuple[int, dict[str, str]]] = []
    first_data = header_index + 1
    for i in range(first_data, len(grid)):
        cells = grid[i]
        record = {key: (cells[j] if j < len(cells) else "") for j, key in positions.items()}
        if not any(record.values()):
            continue
        if i == first_data and _is_numbering_row(cells):
            continue
        rows.append((i + 1, record))
    return Table(
        rows=rows,
        unknown_headers=unknown,
        columns=list(positions.values()),
        header_row=header_index + 1,
    )


_NUMBER_LABEL = re.compile(r"\(?(\d{1,3})\)?")


def _is_numbering_row(cells: Sequence[str]) -> bool:
    """Whether a row is the "(1) (2) (3) …" column numbering printed under official headers."""
    numbers = []
    for cell in cells:
        if not cell:
            continue
        m = _NUMBER_LABEL.fullmatch(cell)
        if m is None:
            return False
        numbers.append(int(m.group(1)))
    return len(numbers) >= 3 and numbers == list(range(numbers[0], numbers[0] + len(numbers)))


# --- writing -------------------------------------------------------------------------------

# The fixed words of the guide sheet's table. They are part of the file format shipped to
# organizers (bilingual, like the headers), not chat messages.
GUIDE_HEADERS = ("Cột (tiếng Việt)", "Column (English)", "Bắt buộc / Required", "Ghi chú",
                 "Notes")  # fmt: skip
REQUIRED_VI = ("Bắt buộc", "Không bắt buộc")

_BOLD = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
_WRAP_TOP = Alignment(wrap_text=True, vertical="top")
_TEXT_FORMAT = "@"
_DATE_FORMAT = "DD/MM/YYYY"
_DATETIME_FORMAT = "DD/MM/YYYY HH:MM"
_MIN_WIDTH, _MAX_WIDTH = 10, 50
_ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
_SHEET_TITLE_BAD = re.compile(r"[\[\]:*?/\\]")


def write_template(
    path: Path,
    title: str,
    columns: Sequence[Column],
    notes_title: str,
    example_rows: Sequence[dict[str, str]] = (),
) -> None:
    """An XLSX template: a "Dữ liệu" sheet with the headers (required ones marked " (*)") and
    optional example rows, and a "Hướng dẫn" sheet explaining each column."""
    wb = Workbook()
    wb.properties.title = title
    ws = wb.active
    assert ws is not None  # a new Workbook always has one sheet
    ws.title = DATA_SHEET
    for j, col in enumerate(columns, start=1):
        header = ws.cell(row=1, column=j, value=col.vi + (REQUIRED_MARK if col.required else ""))
        header.font = _BOLD
        header.fill = _HEADER_FILL
        header.alignment = Alignment(wrap_text=True, vertical="center")
        letter = get_column_letter(j)
        examples = [r.get(col.key, "") for r in example_rows]
        width = max([len(header.value or ""), *(len(e) for e in examples)]) + 2
        ws.column_dimensions[letter].width = min(max(width, _MIN_WIDTH), _MAX_WIDTH)
        if col.is_text:
            # A column style applies to cells typed later, so Excel keeps "0912…" as text.
            ws.column_dimensions[letter].number_format = _TEXT_FORMAT
        for i, value in enumerate(examples, start=2):
            cell = ws.cell(row=i, column=j)
            _set_text(cell, value)
            if col.is_text:
                cell.number_format = _TEXT_FORMAT
    ws.freeze_panes = "A2"

    guide = wb.create_sheet(GUIDE_SHEET)
    guide.cell(row=1, column=1, value=_clean(title)).font = Font(bold=True, size=14)
    guide.cell(row=2, column=1, value=_clean(notes_title)).font = _BOLD
    for j, text in enumerate(GUIDE_HEADERS, start=1):
        cell = guide.cell(row=4, column=j, value=text)
        cell.font = _BOLD
        cell.fill = _HEADER_FILL
    for i, col in enumerate(columns, start=5):
        values = (
            col.vi,
            col.en,
            REQUIRED_VI[0] if col.required else REQUIRED_VI[1],
            col.note_vi,
            col.note_en,
        )
        for j, value in enumerate(values, start=1):
            cell = guide.cell(row=i, column=j)
            _set_text(cell, value)
            cell.alignment = _WRAP_TOP
    for letter, width in zip("ABCDE", (28, 28, 18, 60, 60), strict=True):
        guide.column_dimensions[letter].width = width
    guide.freeze_panes = "A5"
    wb.save(path)


def write_rows_xlsx(
    path: Path, headers: Sequence[str], rows: Iterable[Sequence[object]], sheet_title: str
) -> None:
    """Export rows to a one-sheet XLSX with a bold frozen header; streams, so large exports
    stay small in memory. Dates are written as dates (dd/mm/yyyy), text as text."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(_sheet_title(sheet_title))
    rows_iter = iter(rows)
    head = list(islice(rows_iter, 200))  # enough rows to size the columns
    for j, header in enumerate(headers, start=1):
        lengths = [len(_clean(header))]
        lengths += [len(_display(r[j - 1])) for r in head if j - 1 < len(r)]
        ws.column_dimensions[get_column_letter(j)].width = min(
            max(max(lengths) + 2, _MIN_WIDTH), _MAX_WIDTH
        )
    ws.freeze_panes = "A2"
    header_cells = []
    for header in headers:
        cell = WriteOnlyCell(ws)
        _set_text(cell, header)
        cell.font = _BOLD
        cell.fill = _HEADER_FILL
        header_cells.append(cell)
    ws.append(header_cells)
    for row in chain(head, rows_iter):
        ws.append([_export_cell(ws, v) for v in row])
    wb.save(path)


def _sheet_title(title: str) -> str:
    # Excel refuses some characters and more than 31 of them in a sheet name.
    cleaned = " ".join(_SHEET_TITLE_BAD.sub(" ", _clean(title)).split()).strip("'")
    return cleaned[:31] or "Sheet1"


def _clean(s: str) -> str:
    return ILLEGAL_CHARACTERS_RE.sub("", s)


def _set_text(cell: Cell | WriteOnlyCell, value: str) -> None:
    cell.value = _clean(value)
    # A string starting with "=" would otherwise be stored as a formula: data typed by users
    # must never run in the organizer's Excel.
    cell.data_type = "s"


def _display(v: object) -> str:
    if isinstance(v, datetime):
        return "00/00/0000 00:00"
    if isinstance(v, date):
        return "00/00/0000"
    return "" if v is None else str(v)


def _export_cell(ws: object, v: object) -> WriteOnlyCell | object:
    if v is None or isinstance(v, bool | int | float | Decimal):
        return v
    if isinstance(v, str):
        cell = WriteOnlyCell(ws)
        _set_text(cell, v)
        return cell
    if isinstance(v, datetime):
        cell = WriteOnlyCell(ws)
        # XLSX has no time zones: aware times are shown in Vietnam's zone.
        cell.value = v.astimezone(_ZONE).replace(tzinfo=None) if v.tzinfo else v
        cell.number_format = _DATETIME_FORMAT
        return cell
    if isinstance(v, date):
        cell = WriteOnlyCell(ws)
        cell.value = v
        cell.number_format = _DATE_FORMAT
        return cell
    cell = WriteOnlyCell(ws)
    _set_text(cell, str(v))
    return cell
