import time
import unicodedata
import zipfile
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from domain.sheets import (
    DATA_SHEET,
    GUIDE_SHEET,
    Column,
    SheetError,
    SheetErrorCode,
    read_table,
    write_rows_xlsx,
    write_template,
)

COLUMNS = (
    Column("full_name", "Họ và tên", "Full name", True, "Họ tên đầy đủ", "Full name",
           aliases=("Họ tên",)),
    Column("personal_id", "Số CCCD", "Personal ID", True, "12 chữ số", "12 digits",
           aliases=("CCCD", "Căn cước công dân")),
    Column("birth_date", "Ngày sinh", "Date of birth", False, "dd/mm/yyyy", "dd/mm/yyyy"),
    Column("phone", "Số điện thoại", "Phone", False, "", ""),
    Column("education", "Trình độ chuyên môn", "Professional qualification", False,
           "Trung cấp, Cao đẳng, Đại học, Thạc sĩ, Tiến sĩ",
           "Intermediate, College, University, Master, Doctorate"),
    Column("hours", "Số giờ", "Hours", False, "", "", as_text=False),
)  # fmt: skip


def _xlsx(path: Path, rows: Sequence[Sequence[object]], title: str = "Sheet1") -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = title
    for row in rows:
        ws.append(list(row))
    wb.save(path)
    return path


def _csv(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(_cp1258(text) if encoding == "cp1258" else text.encode(encoding))
    return path


def _cp1258(text: str) -> bytes:
    """Encode like Windows-1258 Vietnamese: precomposed ă â ê ô ơ ư đ, tones as combining marks
    (Python's codec only maps single characters)."""
    out = bytearray()
    for ch in text:
        try:
            out += ch.encode("cp1258")
        except UnicodeEncodeError:
            decomposed = unicodedata.normalize("NFD", ch)
            base, marks = decomposed[0], decomposed[1:]
            letter = "".join(m for m in marks if m in "\u0306\u0302\u031b")
            tones = "".join(m for m in marks if m not in letter)
            out += (unicodedata.normalize("NFC", base + letter) + tones).encode("cp1258")
    return bytes(out)


def _code(info: pytest.ExceptionInfo[SheetError]) -> str:
    return info.value.code


# --- xlsx --------------------------------------------------------------------------------


def test_xlsx_with_title_rows_keeps_excel_row_numbers(tmp_path: Path) -> None:
    path = _xlsx(
        tmp_path / "ds.xlsx",
        [
            ["DANH SÁCH CÔNG CHỨC XÃ"],  # row 1: title
            [],  # row 2
            ["STT", "Họ và tên (*)", "Số CCCD (*)", "Số điện thoại", "Ghi chú"],  # row 3
            [1, "Nguyễn Văn An", "001234567890", "0912345678", "x"],  # row 4
            [],  # row 5: skipped
            [2, "  Lê Thị Bình  ", "020190012345", None, None],  # row 6
            [3, None, None, None, "only an unknown column"],  # row 7: nothing for us
        ],
    )
    table = read_table(path, COLUMNS)
    assert table.header_row == 3
    assert table.columns == ["full_name", "personal_id", "phone"]
    assert table.unknown_headers == ["Ghi chú"]  # STT is expected everywhere, not reported
    assert table.rows == [
        (4, {"full_name": "Nguyễn Văn An", "personal_id": "001234567890", "phone": "0912345678"}),
        (6, {"full_name": "Lê Thị Bình", "personal_id": "020190012345", "phone": ""}),
    ]
    assert table.sheet == "Sheet1"


def test_xlsx_header_on_first_row_and_leading_empty_rows(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws["C5"] = "Họ và tên"
    ws["D5"] = "CCCD"
    ws["C6"] = "Lò Văn Út"
    ws["D6"] = "011190012345"
    wb.save(tmp_path / "a.xlsx")
    table = read_table(tmp_path / "a.xlsx", COLUMNS)
    assert table.header_row == 5
    assert table.rows == [(6, {"full_name": "Lò Văn Út", "personal_id": "011190012345"})]


def test_xlsx_values_rendered_as_excel_shows_them(tmp_path: Path) -> None:
    path = _xlsx(
        tmp_path / "v.xlsx",
        [
            ["Họ và tên", "Số CCCD", "Ngày sinh", "Số điện thoại", "Số giờ"],
            ["A", "001234567890", date(1985, 3, 2), 912345678, 40],
            ["B", 1234567890, datetime(1990, 12, 31), "0912345678", 3.5],
            ["C", 20190012345.0, datetime(1990, 12, 31, 8, 30), "'0912", True],
        ],
    )
    rows = dict(read_table(path, COLUMNS).rows)
    assert rows[2] == {
        "full_name": "A",
        "personal_id": "001234567890",  # text cell: leading zeros kept
        "birth_date": "02/03/1985",
        "phone": "912345678",  # a number: no ".0"; normalize_phone restores the 0
        "hours": "40",
    }
    assert rows[3]["personal_id"] == "1234567890"
    assert rows[3]["birth_date"] == "31/12/1990"
    assert rows[3]["phone"] == "0912345678"
    assert rows[3]["hours"] == "3.5"
    assert rows[4]["personal_id"] == "20190012345"
    assert rows[4]["birth_date"] == "31/12/1990 08:30"  # a real time of day is not dropped
    assert rows[4]["hours"] == "TRUE"


def test_english_and_unaccented_headers(tmp_path: Path) -> None:
    path = _xlsx(
        tmp_path / "en.xlsx",
        [
            ["Full name", "PERSONAL ID", "date of birth", "trinh do chuyen mon", "so dien thoai"],
            ["Tran Van C", "001234567890", "01/02/1980", "Dai hoc", "0912 345 678"],
        ],
    )
    table = read_table(path, COLUMNS)
    assert table.columns == ["full_name", "personal_id", "birth_date", "education", "phone"]
    assert table.rows[0][1]["education"] == "Dai hoc"


@pytest.mark.parametrize(
    "headers",
    [
        ["Họ và tên (*)", "Số CCCD (*)"],
        ["HỌ VÀ TÊN", "SỐ CCCD"],
        ["Họ tên:", "Căn cước công dân"],  # aliases, punctuation
        ["Họ và\ntên", "  số  cccd  "],  # wrapped text, spacing
        ["full_name", "personal_id"],  # the keys themselves
        ["Ho va ten", "So CCCD"],
    ],
)
def test_header_spellings(tmp_path: Path, headers: list[str]) -> None:
    path = _xlsx(tmp_path / "h.xlsx", [headers, ["A", "001234567890"]])
    assert read_table(path, COLUMNS).rows == [
        (2, {"full_name": "A", "personal_id": "001234567890"})
    ]


def test_missing_required_column(tmp_path: Path) -> None:
    path = _xlsx(tmp_path / "m.xlsx", [["Họ và tên", "Số điện thoại"], ["A", "0912345678"]])
    with pytest.raises(SheetError) as info:
        read_table(path, COLUMNS)
    assert _code(info) == SheetErrorCode.MISSING_COLUMNS == "missing_columns"
    assert info.value.detail == "personal_id"


def test_missing_required_columns_are_all_listed(tmp_path: Path) -> None:
    columns = (
        *COLUMNS,
        Column("unit", "Đơn vị", "Unit", True, "", ""),
        Column("position", "Chức vụ", "Position", True, "", ""),
    )
    # Half of the required columns make the header row; the others are then missing.
    path = _xlsx(tmp_path / "m.xlsx", [["Họ và tên", "Chức vụ"], ["A", "Chủ tịch"]])
    with pytest.raises(SheetError) as info:
        read_table(path, columns)
    assert _code(info) == "missing_columns"
    assert info.value.detail == "personal_id, unit"
    # Fewer than half: this is not the header row at all.
    path = _xlsx(tmp_path / "m2.xlsx", [["Họ và tên", "Ngày sinh"], ["A", "01/01/1990"]])
    with pytest.raises(SheetError) as info:
        read_table(path, columns)
    assert _code(info) == "no_header"


def test_no_header_row(tmp_path: Path) -> None:
    path = _xlsx(tmp_path / "n.xlsx", [["Tên", "Tuổi"], ["A", 30]])
    with pytest.raises(SheetError) as info:
        read_table(path, COLUMNS)
    assert _code(info) == SheetErrorCode.NO_HEADER


def test_header_after_row_ten_is_not_found(tmp_path: Path) -> None:
    path = _xlsx(tmp_path / "late.xlsx", [["tiêu đề"]] * 10 + [["Họ và tên", "Số CCCD"]])
    with pytest.raises(SheetError) as info:
        read_table(path, COLUMNS)
    assert _code(info) == "no_header"
    path = _xlsx(tmp_path / "ok.xlsx", [["tiêu đề"]] * 9 + [["Họ và tên", "Số CCCD"], ["A", "1"]])
    assert read_table(path, COLUMNS).rows == [(11, {"full_name": "A", "personal_id": "1"})]


def test_empty_workbook(tmp_path: Path) -> None:
    path = _xlsx(tmp_path / "e.xlsx", [])
    with pytest.raises(SheetError) as info:
        read_table(path, COLUMNS)
    assert _code(info) == "no_header"


def test_unreadable_and_unsupported_files(tmp_path: Path) -> None:
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"this is not a zip file")
    with pytest.raises(SheetError) as info:
        read_table(broken, COLUMNS)
    assert _code(info) == SheetErrorCode.UNREADABLE
    with pytest.raises(SheetError) as info:
        read_table(tmp_path / "absent.xlsx", COLUMNS)
    assert _code(info) == "unreadable"
    with pytest.raises(SheetError) as info:
        read_table(tmp_path / "absent.csv", COLUMNS)
    assert _code(info) == "unreadable"
    pdf = tmp_path / "list.pdf"
    pdf.write_bytes(b"%PDF-1.4")
    with pytest.raises(SheetError) as info:
        read_table(pdf, COLUMNS)
    assert _code(info) == SheetErrorCode.UNSUPPORTED_FORMAT
    assert info.value.detail == ".pdf"


def test_data_sheet_is_preferred_and_hidden_sheets_skipped(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    notes = wb.active
    assert notes is not None
    notes.title = "Ghi chú"
    notes.append(["Họ và tên", "Số CCCD"])
    notes.append(["wrong sheet", "000000000000"])
    data = wb.create_sheet("DU LIEU")
    data.append(["Họ và tên", "Số CCCD"])
    data.append(["right sheet", "001234567890"])
    wb.save(tmp_path / "two.xlsx")
    table = read_table(tmp_path / "two.xlsx", COLUMNS)
    assert table.sheet == "DU LIEU"
    assert table.rows[0][1]["full_name"] == "right sheet"

    data.title = "Danh sách"
    notes.sheet_state = "hidden"
    wb.active = 1
    wb.save(tmp_path / "hidden.xlsx")
    table = read_table(tmp_path / "hidden.xlsx", COLUMNS)
    assert table.sheet == "Danh sách"


def test_duplicate_column_is_reported_not_merged(tmp_path: Path) -> None:
    path = _xlsx(
        tmp_path / "d.xlsx",
        [["Họ và tên", "Số CCCD", "Họ tên"], ["A", "001234567890", "B"]],
    )
    table = read_table(path, COLUMNS)
    assert table.unknown_headers == ["Họ tên"]
    assert table.rows[0][1]["full_name"] == "A"


def test_column_numbering_row_under_the_header_is_skipped(tmp_path: Path) -> None:
    path = _xlsx(
        tmp_path / "n.xlsx",
        [
            ["STT", "Họ và tên", "Số CCCD", "Số giờ"],
            ["(1)", "(2)", "(3)", "(4)"],
            [1, "A", "001234567890", 4],
        ],
    )
    assert read_table(path, COLUMNS).rows == [
        (3, {"full_name": "A", "personal_id": "001234567890", "hours": "4"})
    ]
    # A real first row that happens to be numeric is kept.
    path = _xlsx(tmp_path / "k.xlsx", [["Họ và tên", "Số CCCD", "Số giờ"], ["1", "2", "4"]])
    assert len(read_table(path, COLUMNS).rows) == 1


def test_ods(tmp_path: Path) -> None:
    content = (
        '<?xml version="1.0" encoding="UTF-8"?><office:document-content'
        ' xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"'
        ' xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"'
        ' xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        '<office:body><office:spreadsheet><table:table table:name="Trang tính1">'
        "<table:table-row>"
        '<table:table-cell office:value-type="string"><text:p>Họ và tên</text:p></table:table-cell>'
        '<table:table-cell office:value-type="string"><text:p>CCCD</text:p></table:table-cell>'
        '<table:table-cell office:value-type="string"><text:p>Ngày sinh</text:p></table:table-cell>'
        "</table:table-row><table:table-row>"
        '<table:table-cell office:value-type="string"><text:p>Lê Ăn</text:p></table:table-cell>'
        '<table:table-cell office:value-type="float" office:value="20190012345">'
        "<text:p>20190012345</text:p></table:table-cell>"
        '<table:table-cell office:value-type="date" office:date-value="1985-03-02">'
        "<text:p>02/03/1985</text:p></table:table-cell>"
        "</table:table-row></table:table></office:spreadsheet></office:body>"
        "</office:document-content>"
    )
    path = tmp_path / "ds.ods"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        z.writestr(
            "META-INF/manifest.xml",
            '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest'
            ' xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"'
            ' manifest:version="1.2"><manifest:file-entry manifest:full-path="/"'
            ' manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
            '<manifest:file-entry manifest:full-path="content.xml"'
            ' manifest:media-type="text/xml"/></manifest:manifest>',
        )
        z.writestr("content.xml", content)
    assert read_table(path, COLUMNS).rows == [
        (2, {"full_name": "Lê Ăn", "personal_id": "20190012345", "birth_date": "02/03/1985"})
    ]


# --- csv ---------------------------------------------------------------------------------

CSV_TEXT = "Họ và tên,Số CCCD,Số điện thoại\r\nNguyễn Văn An,001234567890,0912345678\r\n"
EXPECTED = [
    (2, {"full_name": "Nguyễn Văn An", "personal_id": "001234567890", "phone": "0912345678"})
]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "cp1258"])
def test_csv_encodings(tmp_path: Path, encoding: str) -> None:
    path = _csv(tmp_path / "ds.csv", CSV_TEXT, encoding)
    assert read_table(path, COLUMNS).rows == EXPECTED


def test_csv_bom_is_not_part_of_the_first_header(tmp_path: Path) -> None:
    path = _csv(tmp_path / "ds.csv", "Số CCCD,Họ và tên\n001234567890,A\n", "utf-8-sig")
    table = read_table(path, COLUMNS)
    assert table.columns == ["personal_id", "full_name"]
    assert table.unknown_headers == []


def test_csv_semicolon_with_commas_in_values(tmp_path: Path) -> None:
    text = (
        "Họ và tên;Số CCCD;Trình độ chuyên môn\n"
        "Nguyễn Văn An;001234567890;Đại học, chuyên ngành Luật\n"
        "Lê Thị Bình;020190012345;Cao đẳng, Kế toán\n"
    )
    table = read_table(_csv(tmp_path / "ds.csv", text), COLUMNS)
    assert table.rows[0] == (
        2,
        {
            "full_name": "Nguyễn Văn An",
            "personal_id": "001234567890",
            "education": "Đại học, chuyên ngành Luật",
        },
    )
    assert table.rows[1][1]["education"] == "Cao đẳng, Kế toán"


def test_csv_tab_delimited(tmp_path: Path) -> None:
    text = "Full name\tPersonal ID\nA\t001234567890\n"
    assert read_table(_csv(tmp_path / "ds.csv", text), COLUMNS).rows == [
        (2, {"full_name": "A", "personal_id": "001234567890"})
    ]


def test_csv_excel_sep_line(tmp_path: Path) -> None:
    text = "sep=;\nHọ và tên;Số CCCD\nA;001234567890\n"
    assert read_table(_csv(tmp_path / "ds.csv", text), COLUMNS).rows == [
        (2, {"full_name": "A", "personal_id": "001234567890"})
    ]


def test_csv_title_rows_quoted_newlines_and_empty_lines(tmp_path: Path) -> None:
    text = (
        "DANH SÁCH,,\n"  # row 1
        ",,\n"  # row 2
        "Họ và tên,Số CCCD,Trình độ chuyên môn\n"  # row 3
        '"Nguyễn Văn An",001234567890,"Đại học\nLuật"\n'  # row 4 spans two lines
        "\n"  # row 5 empty
        "Lê Thị Bình,020190012345,\n"  # row 6
    )
    table = read_table(_csv(tmp_path / "ds.csv", text), COLUMNS)
    assert [n for n, _ in table.rows] == [4, 6]
    assert table.rows[0][1]["education"] == "Đại học\nLuật"


def test_csv_short_rows_and_headers_without_diacritics(tmp_path: Path) -> None:
    text = "ho va ten,so cccd,so dien thoai\nA,001234567890\n"
    assert read_table(_csv(tmp_path / "ds.csv", text), COLUMNS).rows == [
        (2, {"full_name": "A", "personal_id": "001234567890", "phone": ""})
    ]


def test_csv_missing_required_column(tmp_path: Path) -> None:
    with pytest.raises(SheetError) as info:
        read_table(_csv(tmp_path / "ds.csv", "Họ và tên,Ngày sinh\nA,01/01/1990\n"), COLUMNS)
    assert _code(info) == "missing_columns"
    assert info.value.detail == "personal_id"


def test_empty_csv(tmp_path: Path) -> None:
    with pytest.raises(SheetError) as info:
        read_table(_csv(tmp_path / "ds.csv", ""), COLUMNS)
    assert _code(info) == "no_header"


# --- templates and exports ---------------------------------------------------------------


def test_column_text_inference() -> None:
    by_key = {c.key: c.is_text for c in COLUMNS}
    assert by_key == {
        "full_name": False,
        "personal_id": True,
        "birth_date": True,
        "phone": True,
        "education": False,
        "hours": False,
    }
    assert Column("unit_code", "Mã đơn vị", "Unit code", True, "", "").is_text
    assert not Column("phone", "Điện thoại", "Phone", True, "", "", as_text=False).is_text


def test_template_layout(tmp_path: Path) -> None:
    path = tmp_path / "mau.xlsx"
    write_template(path, "Danh sách công chức", COLUMNS, "Hướng dẫn điền")
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == [DATA_SHEET, GUIDE_SHEET] == ["Dữ liệu", "Hướng dẫn"]
    ws = wb[DATA_SHEET]
    headers = [c.value for c in ws[1]]
    assert headers == [
        "Họ và tên (*)",
        "Số CCCD (*)",
        "Ngày sinh",
        "Số điện thoại",
        "Trình độ chuyên môn",
        "Số giờ",
    ]
    assert all(c.font.bold for c in ws[1])
    assert ws.freeze_panes == "A2"
    assert ws.max_row == 1
    assert ws.column_dimensions["B"].number_format == "@"  # personal ID stays text
    assert ws.column_dimensions["D"].number_format == "@"  # phone
    assert ws.column_dimensions["A"].number_format != "@"
    assert all(10 <= (ws.column_dimensions[x].width or 0) <= 50 for x in "ABCDEF")

    guide = wb[GUIDE_SHEET]
    assert guide["A1"].value == "Danh sách công chức"
    assert guide["A2"].value == "Hướng dẫn điền"
    rows = [[c.value for c in row] for row in guide.iter_rows(min_row=5, values_only=False)]
    assert rows[0] == ["Họ và tên", "Full name", "Bắt buộc", "Họ tên đầy đủ", "Full name"]
    assert rows[2][:3] == ["Ngày sinh", "Date of birth", "Không bắt buộc"]
    assert rows[4][3] == "Trung cấp, Cao đẳng, Đại học, Thạc sĩ, Tiến sĩ"
    assert len(rows) == len(COLUMNS)


def test_template_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "mau.xlsx"
    write_template(
        path,
        "Danh sách",
        COLUMNS,
        "Hướng dẫn",
        example_rows=[{"full_name": "Nguyễn Văn Mẫu", "personal_id": "001234567890",
                       "phone": "0912345678", "education": "Đại học"}],
    )  # fmt: skip
    wb = openpyxl.load_workbook(path)
    ws = wb[DATA_SHEET]
    assert ws["B2"].value == "001234567890"
    assert ws["B2"].number_format == "@"
    # What an organizer types into the text columns stays text, leading zeros included.
    ws.append(["Lê Thị Bình", "020190012345", "02/03/1985", "0987654321", "Thạc sĩ", 40])
    ws.append([])
    ws.append(["Trần Ơn", "011190012345", date(1990, 1, 31), "", "", 12.5])
    wb.save(path)

    table = read_table(path, COLUMNS)
    assert table.sheet == DATA_SHEET
    assert table.unknown_headers == []
    assert table.rows == [
        (2, {"full_name": "Nguyễn Văn Mẫu", "personal_id": "001234567890", "birth_date": "",
             "phone": "0912345678", "education": "Đại học", "hours": ""}),
        (3, {"full_name": "Lê Thị Bình", "personal_id": "020190012345",
             "birth_date": "02/03/1985", "phone": "0987654321", "education": "Thạc sĩ",
             "hours": "40"}),
        (5, {"full_name": "Trần Ơn", "personal_id": "011190012345", "birth_date": "31/01/1990",
             "phone": "", "education": "", "hours": "12.5"}),
    ]  # fmt: skip


def test_template_example_that_looks_like_a_formula_stays_text(tmp_path: Path) -> None:
    path = tmp_path / "mau.xlsx"
    write_template(path, "T", COLUMNS, "N", [{"full_name": '=HYPERLINK("x")'}])
    cell = openpyxl.load_workbook(path)[DATA_SHEET]["A2"]
    assert cell.data_type == "s"
    assert cell.value == '=HYPERLINK("x")'


def test_write_rows_xlsx(tmp_path: Path) -> None:
    path = tmp_path / "export.xlsx"

    def rows() -> Iterator[list[object]]:
        yield ["Nguyễn Văn An", "001234567890", date(2025, 7, 1), 40, "=1+1"]
        yield ["Lê Ăn", None, datetime(2025, 7, 1, 1, 30, tzinfo=UTC), 2.5, "\x07bell"]
        for i in range(300):
            yield [f"Người {i}", f"{i:012d}", None, i, True]

    write_rows_xlsx(
        path,
        ["Họ và tên", "Số CCCD", "Ngày", "Số giờ", "Ghi chú"],
        rows(),
        "Báo cáo: quý 3/2025 [xã]",
        tz=ZoneInfo("Asia/Ho_Chi_Minh"),
    )
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["Báo cáo quý 3 2025 xã"]
    ws = wb.active
    assert ws is not None
    assert [c.value for c in ws[1]] == ["Họ và tên", "Số CCCD", "Ngày", "Số giờ", "Ghi chú"]
    assert all(c.font.bold for c in ws[1])
    assert ws.freeze_panes == "A2"
    assert ws["B2"].value == "001234567890"
    assert ws["C2"].value == datetime(2025, 7, 1)
    assert ws["C2"].number_format == "DD/MM/YYYY"
    assert ws["C3"].value == datetime(2025, 7, 1, 8, 30)  # shown in the zone handed down
    assert ws["D3"].value == 2.5
    assert ws["E2"].value == "=1+1"
    assert ws["E2"].data_type == "s"  # never a formula
    assert ws["E3"].value == "bell"
    assert ws.max_row == 1 + 2 + 300
    assert ws["E4"].value is True


def test_an_aware_time_needs_the_zone_it_is_shown_in(tmp_path: Path) -> None:
    moment = datetime(2025, 7, 1, 1, 30, tzinfo=UTC)
    with pytest.raises(ValueError):
        write_rows_xlsx(tmp_path / "a.xlsx", ["Lúc"], [[moment]], "T")
    write_rows_xlsx(tmp_path / "b.xlsx", ["Lúc"], [[moment]], "T", tz=ZoneInfo("Asia/Tokyo"))
    ws = openpyxl.load_workbook(tmp_path / "b.xlsx").active
    assert ws is not None and ws["A2"].value == datetime(2025, 7, 1, 10, 30)


def test_write_rows_xlsx_long_or_empty_title(tmp_path: Path) -> None:
    write_rows_xlsx(tmp_path / "a.xlsx", ["A"], [], "x" * 40)
    assert openpyxl.load_workbook(tmp_path / "a.xlsx").sheetnames == ["x" * 31]
    write_rows_xlsx(tmp_path / "b.xlsx", ["A"], [["1"]], "[]")
    assert openpyxl.load_workbook(tmp_path / "b.xlsx").sheetnames == ["Sheet1"]


def test_reads_ten_thousand_rows_quickly(tmp_path: Path) -> None:
    columns = [Column(f"c{i}", f"Cột {i}", f"Column {i}", i < 4, "", "") for i in range(20)]
    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet(DATA_SHEET)
    ws.append([c.vi for c in columns])
    for r in range(10_000):
        ws.append([f"Nguyễn Văn {r}", f"{r:012d}", date(1980, 1, 1 + r % 28), r * 1.0]
                  + [f"giá trị {r}-{j}" for j in range(16)])  # fmt: skip
    path = tmp_path / "big.xlsx"
    wb.save(path)
    started = time.perf_counter()
    table = read_table(path, columns)
    elapsed = time.perf_counter() - started
    assert len(table.rows) == 10_000
    assert table.rows[-1] == (10_001, table.rows[-1][1])
    assert table.rows[-1][1]["c2"] == "04/01/1980"
    assert table.rows[-1][1]["c3"] == "9999"
    print(f"10,000-row XLSX read in {elapsed:.2f} s")  # a figure, not a pass/fail limit
