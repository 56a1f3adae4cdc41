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
import zipfile
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
    "check_limits",
    "read_table",
    "set_text",
    "write_rows_xlsx",
    "write_template",
]

DATA_SHEET = "Dữ liệu"
GUIDE_SHEET = "Hướng dẫn"
REQUIRED_MARK = " (*)"
HEADER_SCAN_ROWS = 10
# XLSB is left out: it is binary inside the zip, so its cells cannot be counted before the
# reader allocates them (and Excel saves XLSX unless told otherwise).
SPREADSHEET_SUFFIXES = frozenset({".xlsx", ".xlsm", ".xls", ".ods"})
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


# Limits of every file read: an import is a roster or a course list, never a data dump, and
# the reader (calamine) allocates rows × columns of the used range at once, so a file must be
# refused from what it declares and holds *before* it is handed over. 50,000 rows is twice
# the largest provincial roster in the seeds (Điện Biên: 24,088 people); 100 columns is three
# times the widest template. At those bounds a read takes a few seconds and ~0.3 GB at most.
MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_ROWS = 50_000
MAX_COLUMNS = 100
# A zip member inflated beyond this is a zip bomb, whatever its cells.
MAX_XML_BYTES = 256 * 1024 * 1024


class SheetErrorCode(enum.StrEnum):
    UNSUPPORTED_FORMAT = "unsupported_format"  # detail: the file suffix
    UNREADABLE = "unreadable"  # detail: the reader's message, for logs
    NO_HEADER = "no_header"  # detail: how many rows were searched
    MISSING_COLUMNS = "missing_columns"  # detail: the missing keys, comma-separated
    # The limits: detail is the limit itself (MB for the file, a count otherwise).
    FILE_TOO_LARGE = "file_too_large"
    TOO_MANY_ROWS = "too_many_rows"
    TOO_MANY_COLUMNS = "too_many_columns"
    NOT_UTF8 = "not_utf8"  # a CSV in a legacy code page that cannot be told apart safely


class SheetError(Exception):
    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


def _too_many(code: SheetErrorCode, limit: int) -> SheetError:
    return SheetError(code, str(limit))


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
    if suffix not in SPREADSHEET_SUFFIXES | CSV_SUFFIXES:
        raise SheetError(SheetErrorCode.UNSUPPORTED_FORMAT, suffix or path.name)
    check_file_size(path)
    if suffix in SPREADSHEET_SUFFIXES:
        sheet, grid = _read_workbook(path)
    else:
        sheet, grid = "", _read_csv(path)
    table = _to_table(grid, columns)
    table.sheet = sheet
    return table


# --- reading -------------------------------------------------------------------------------


def check_file_size(path: Path) -> None:
    """Refuse a file over MAX_FILE_BYTES (or a missing one) before anything reads it."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise SheetError(SheetErrorCode.UNREADABLE, f"{type(exc).__name__}: {exc}") from exc
    if size > MAX_FILE_BYTES:
        raise _too_many(SheetErrorCode.FILE_TOO_LARGE, MAX_FILE_BYTES // (1024 * 1024))


def check_limits(path: Path, *, max_rows: int = MAX_ROWS) -> None:
    """Refuse a file over the limits, `max_rows` being stricter than MAX_ROWS where a use
    needs it: its size, the rows and columns the XML of an XLSX/XLSM/ODS declares and holds,
    the rows of a CSV or an XLS. Callers that read a file inside a database transaction run
    this first (in a worker thread), so a bomb never holds a lock. Raises SheetError."""
    suffix = path.suffix.lower()
    if suffix not in SPREADSHEET_SUFFIXES | CSV_SUFFIXES:
        raise SheetError(SheetErrorCode.UNSUPPORTED_FORMAT, suffix or path.name)
    check_file_size(path)
    try:
        if suffix in CSV_SUFFIXES:
            _read_csv(path, max_rows)
        elif zipfile.is_zipfile(path):
            _check_zipped_sheets(path, max_rows)
        else:  # XLS: bounded by the format (65,536 rows); its used range is what counts
            with CalamineWorkbook.from_path(str(path)) as wb:
                for name in wb.sheet_names:
                    if wb.get_sheet_by_name(name).total_height > max_rows:
                        raise _too_many(SheetErrorCode.TOO_MANY_ROWS, max_rows)
    except (CalamineError, OSError, ValueError, zipfile.BadZipFile) as exc:
        raise SheetError(SheetErrorCode.UNREADABLE, f"{type(exc).__name__}: {exc}") from exc


def open_workbook(path: Path) -> CalamineWorkbook:
    """Open a workbook for calamine once its sheets are known to fit the limits.

    Raises SheetError; CalamineError/OSError/ValueError of the open itself pass through."""
    check_file_size(path)
    if path.suffix.lower() == ".xlsb":
        raise SheetError(SheetErrorCode.UNSUPPORTED_FORMAT, ".xlsb")
    if zipfile.is_zipfile(path):
        _check_zipped_sheets(path)
    return CalamineWorkbook.from_path(str(path))


def sheet_rows(wb: CalamineWorkbook, name: str) -> list[list[str]]:
    """A sheet's cells as text, refusing a used range over the limits before converting it."""
    sheet = wb.get_sheet_by_name(name)
    # XLS (BIFF) is bounded by the format itself (65,536 × 256 cells); this keeps its
    # conversion, and any format the zip scan does not know, within the limits too.
    if sheet.total_height > MAX_ROWS:
        raise _too_many(SheetErrorCode.TOO_MANY_ROWS, MAX_ROWS)
    if sheet.total_width > MAX_COLUMNS:
        raise _too_many(SheetErrorCode.TOO_MANY_COLUMNS, MAX_COLUMNS)
    # skip_empty_area=False keeps leading empty rows, so index + 1 is Excel's row number.
    values = sheet.to_python(skip_empty_area=False)
    return [[_cell_text(v) for v in row] for row in values]


def _read_workbook(path: Path) -> tuple[str, list[list[str]]]:
    try:
        with open_workbook(path) as wb:
            name = _pick_sheet(wb)
            grid = sheet_rows(wb, name)
    except (CalamineError, OSError, ValueError, zipfile.BadZipFile) as exc:
        raise SheetError(SheetErrorCode.UNREADABLE, f"{type(exc).__name__}: {exc}") from exc
    return name, grid


# XLSX/XLSM: a cell's reference ("XFD1048576") or a row's number; ODS: repeat counts. Matched
# on the inflated XML in chunks, so a sheet is scanned at tens of MB/s without building a tree.
_XLSX_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(row|c|dimension)\b([^>]*)>")
_XLSX_REF = re.compile(rb"""(?:^|\s)(?:r|ref)\s*=\s*["']([A-Za-z]*)(\d*)(?::([A-Za-z]*)(\d*))?""")
# The name must end where the tag's name ends: table:table-row-group is not a row.
_ODS_TAG = re.compile(
    rb"<(/?)table:(table-row|table-cell|covered-table-cell|table)(?=[\s/>])([^>]*?)(/?)>"
)
_ODS_REPEAT = re.compile(rb"""number-(?:rows|columns)-repeated\s*=\s*["'](\d+)""")
_PREFIX = rb"<(?:[A-Za-z_][\w.-]*:)?"
_XLSX_ROW_TAG = re.compile(_PREFIX + rb"row\b")
_XLSX_CELL_TAG = re.compile(_PREFIX + rb"c\b")
_XLSX_ROW_REF = re.compile(_PREFIX + rb"""row\b[^>]*?\sr\s*=\s*["'](\d+)""")
_XLSX_CELL_REF = re.compile(_PREFIX + rb"""c\b[^>]*?\sr\s*=\s*["']([A-Za-z]+)(\d+)""")
_CHUNK = 1024 * 1024


def _column_number(letters: bytes) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ch - 64
    return n


def _check_zipped_sheets(path: Path, max_rows: int = MAX_ROWS) -> None:
    """Count the rows and columns every sheet of an XLSX/XLSM/ODS declares and holds, reading
    the XML as a stream; refuse the file at the first row or column over a limit."""
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            name = info.filename
            if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                _scan(zf, info, _XlsxCounter(max_rows))
            elif name == "content.xml":
                _scan(zf, info, _OdsCounter(max_rows))
            elif name == "xl/sharedStrings.xml":
                _scan(zf, info, None)  # only its inflated size matters


def _scan(zf: zipfile.ZipFile, info: zipfile.ZipInfo, counter: _Counter | None) -> None:
    if info.file_size > MAX_XML_BYTES:
        raise _too_many(SheetErrorCode.FILE_TOO_LARGE, MAX_FILE_BYTES // (1024 * 1024))
    inflated, tail = 0, b""
    with zf.open(info) as fh:
        while chunk := fh.read(_CHUNK):
            inflated += len(chunk)
            if inflated > MAX_XML_BYTES:  # the directory lied about the size
                raise _too_many(SheetErrorCode.FILE_TOO_LARGE, MAX_FILE_BYTES // (1024 * 1024))
            if counter is None:
                continue
            data = tail + chunk
            cut = data.rfind(b"<")  # a tag may be split between chunks: keep its start
            counter.feed(data[:cut] if cut > 0 else b"")
            tail = data[cut:] if cut >= 0 else b""
    if counter is not None:
        counter.feed(tail)


class _Counter:
    def __init__(self, max_rows: int) -> None:
        self.max_rows = max_rows

    def feed(self, data: bytes) -> None:
        raise NotImplementedError

    def _check(self, row: int, col: int) -> None:
        if row > self.max_rows:
            raise _too_many(SheetErrorCode.TOO_MANY_ROWS, self.max_rows)
        if col > MAX_COLUMNS:
            raise _too_many(SheetErrorCode.TOO_MANY_COLUMNS, MAX_COLUMNS)


class _XlsxCounter(_Counter):
    """Rows and columns of <row r=…> and <c r=…> (or their positions when `r` is left out,
    as the format allows), and the <dimension ref=…> the writer declared."""

    def __init__(self, max_rows: int) -> None:
        super().__init__(max_rows)
        self.row = 0
        self.col = 0

    def feed(self, data: bytes) -> None:
        # Fast path, all in C: every row and cell of the chunk names its reference (as Excel
        # and LibreOffice write them), so the largest ones are the extent.
        rows = _XLSX_ROW_REF.findall(data)
        cells = _XLSX_CELL_REF.findall(data)
        if (
            b"dimension" not in data
            and len(rows) == len(_XLSX_ROW_TAG.findall(data))
            and len(cells) == len(_XLSX_CELL_TAG.findall(data))
        ):
            if cells:
                letters = {c for c, _r in cells}
                self._check(
                    max(int(r) for _c, r in cells),
                    max(_column_number(c) for c in letters),
                )
                self.col = _column_number(cells[-1][0])
            if rows:
                self._check(max(map(int, rows)), 0)
                self.row = int(rows[-1])
            return
        self._feed_tags(data)

    def _feed_tags(self, data: bytes) -> None:
        for m in _XLSX_TAG.finditer(data):
            tag, attrs = m.group(1), m.group(2)
            ref = _XLSX_REF.search(attrs)
            if tag == b"dimension":
                if ref:  # "A1:XFD1048576", or "A1" for a one-cell sheet
                    last = (ref.group(3), ref.group(4)) if ref.group(4) else ref.group(1, 2)
                    self._check(int(last[1] or 0), _column_number(last[0] or b""))
                continue
            if tag == b"row":
                self.row = int(ref.group(2)) if ref and ref.group(2) else self.row + 1
                self.col = 0
            else:
                if ref and ref.group(1):
                    self.col = _column_number(ref.group(1))
                    if ref.group(2):
                        self.row = max(self.row, int(ref.group(2)))
                else:
                    self.col += 1
            self._check(self.row, self.col)


class _OdsCounter(_Counter):
    """Rows and columns of each ODS table, repeats included, that hold a value. LibreOffice
    ends every sheet with a million repeated *empty* rows, so only cells with content (or
    rows with such cells) count; calamine skips the empty ones too."""

    def __init__(self, max_rows: int) -> None:
        super().__init__(max_rows)
        self.row = 0  # rows so far in this table, repeats included
        self.col = 0
        self.row_repeat = 1
        self.row_has_value = False

    def feed(self, data: bytes) -> None:
        for m in _ODS_TAG.finditer(data):
            closing, tag, attrs, empty = m.group(1), m.group(2), m.group(3), m.group(4)
            repeat_m = _ODS_REPEAT.search(attrs)
            repeat = int(repeat_m.group(1)) if repeat_m else 1
            if tag == b"table":
                if not closing:
                    self.row = 0
            elif tag == b"table-row":
                if closing or empty:
                    if self.row_has_value:
                        self._check(self.row + self.row_repeat, 0)
                    self.row += self.row_repeat
                else:
                    self.col, self.row_repeat, self.row_has_value = 0, repeat, False
            elif not closing:
                # A cell with a value type or content (not self-closing) holds something.
                has_value = b"value-type" in attrs or not empty
                self.col += repeat
                if has_value:
                    self.row_has_value = True
                    self._check(self.row + 1, self.col)


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


# Letters of Western European languages that Vietnamese never uses: in a file that is not
# UTF-8 they mean a Western code page (Latin-1/cp1252), not the Vietnamese one.
_NOT_VIETNAMESE = frozenset("ÄÅÆÇËÎÏÑÖ×ØÛÜßäåæçëîïñö÷øûüÿ")
# cp1258 writes Vietnamese tones as combining marks after the letter (bytes that are Ì Ò Þ ì ò
# in cp1252); Vietnamese text without a single one is unlikely.
_TONE_MARKS = frozenset("\u0300\u0301\u0303\u0309\u0323")


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")  # Excel's "Unicode text" export
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    # The Vietnamese Windows code page of older Excel "CSV" exports. It shares most bytes with
    # Latin-1/cp1252 but reads others as Vietnamese letters (Ã→Ă, õ→ơ, ð→đ …), so a Western
    # file would be stored as garbage without a word: it is read as cp1258 only when it looks
    # Vietnamese, or when both readings agree, and refused otherwise. TCVN3/VNI font
    # encodings cannot be told apart and are not supported.
    try:
        vietnamese = data.decode("cp1258")
    except UnicodeDecodeError as exc:
        raise SheetError(SheetErrorCode.NOT_UTF8, "unknown text encoding") from exc
    western = data.decode("cp1252", errors="replace")
    looks_vietnamese = not _NOT_VIETNAMESE & set(vietnamese) and (
        vietnamese == western or bool(_TONE_MARKS & set(vietnamese))
    )
    if not looks_vietnamese:
        raise SheetError(SheetErrorCode.NOT_UTF8, "not UTF-8, not Vietnamese cp1258")
    return unicodedata.normalize("NFC", vietnamese)


_SEP_LINE = re.compile(r"sep=(.)\r?\n?")
_DELIMITERS = (",", ";", "\t")


def _read_csv(path: Path, max_rows: int = MAX_ROWS) -> list[list[str]]:
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
    grid: list[list[str]] = []
    try:
        for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter):
            # Counted while reading: a 10 MB file of one-letter lines is 5 million rows.
            if len(grid) >= max_rows:
                raise _too_many(SheetErrorCode.TOO_MANY_ROWS, max_rows)
            if len(row) > MAX_COLUMNS:
                raise _too_many(SheetErrorCode.TOO_MANY_COLUMNS, MAX_COLUMNS)
            grid.append([unicodedata.normalize("NFC", c).strip() for c in row])
    except csv.Error as exc:
        raise SheetError(SheetErrorCode.UNREADABLE, f"csv: {exc}") from exc
    return grid


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
            set_text(cell, value)
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
            set_text(cell, value)
            cell.alignment = _WRAP_TOP
    for letter, width in zip("ABCDE", (28, 28, 18, 60, 60), strict=True):
        guide.column_dimensions[letter].width = width
    guide.freeze_panes = "A5"
    wb.save(path)


def write_rows_xlsx(
    path: Path,
    headers: Sequence[str],
    rows: Iterable[Sequence[object]],
    sheet_title: str,
    *,
    tz: ZoneInfo | None = None,
) -> None:
    """Export rows to a one-sheet XLSX with a bold frozen header; streams, so large exports
    stay small in memory. Dates are written as dates (dd/mm/yyyy), text as text, aware times
    as the clock in `tz` (the settings' zone; required once a row holds one)."""
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
        set_text(cell, header)
        cell.font = _BOLD
        cell.fill = _HEADER_FILL
        header_cells.append(cell)
    ws.append(header_cells)
    for row in chain(head, rows_iter):
        ws.append([_export_cell(ws, v, tz) for v in row])
    wb.save(path)


def _sheet_title(title: str) -> str:
    # Excel refuses some characters and more than 31 of them in a sheet name.
    cleaned = " ".join(_SHEET_TITLE_BAD.sub(" ", _clean(title)).split()).strip("'")
    return cleaned[:31] or "Sheet1"


def _clean(s: str) -> str:
    return ILLEGAL_CHARACTERS_RE.sub("", s)


def set_text(cell: Cell | WriteOnlyCell, value: str) -> None:
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


def _export_cell(ws: object, v: object, tz: ZoneInfo | None) -> WriteOnlyCell | object:
    if v is None or isinstance(v, bool | int | float | Decimal):
        return v
    if isinstance(v, str):
        cell = WriteOnlyCell(ws)
        set_text(cell, v)
        return cell
    if isinstance(v, datetime):
        cell = WriteOnlyCell(ws)
        # XLSX has no time zones: aware times are written as the local clock.
        if v.tzinfo and tz is None:
            raise ValueError("an aware time needs the zone to show it in (tz=)")
        cell.value = v.astimezone(tz).replace(tzinfo=None) if v.tzinfo else v
        cell.number_format = _DATETIME_FORMAT
        return cell
    if isinstance(v, date):
        cell = WriteOnlyCell(ws)
        cell.value = v
        cell.number_format = _DATE_FORMAT
        return cell
    cell = WriteOnlyCell(ws)
    set_text(cell, str(v))
    return cell
