"""Spreadsheets an adversary or a careless organizer sends: every import is refused before it
allocates more than the limits allow, with a message naming the limit; the rest is listed
briefly. (Issue 13, items 1 and 8.)"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.cli_data import cmd_import
from config.settings import Settings
from domain.roster_format import ROSTER_COLUMNS
from domain.sheets import MAX_COLUMNS, MAX_ROWS, SheetError, read_table
from tests.hostile import ROSTER_HEADER, cell, far_cell_xlsx, row, row_bomb_xlsx, xlsx

ROOT = Path(__file__).resolve().parent.parent


def _refused(path: Path) -> SheetError:
    with pytest.raises(SheetError) as caught:
        read_table(path, ROSTER_COLUMNS)
    return caught.value


def test_one_cell_at_xfd1048576_is_refused_by_the_cli_instead_of_killing_it(
    tmp_path: Path,
) -> None:
    # The old reader allocated 512 GB for this 2 KB file and aborted the process (SIGABRT):
    # run it in a process of its own, as the operator does.
    path = far_cell_xlsx(tmp_path / "ds.xlsx")
    assert path.stat().st_size < 5000
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "import", "roster", str(path), "--dry-run"],
        cwd=tmp_path,
        env={"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}", "PATH": ""},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stderr.strip().splitlines()[-1] == (
        f"{path}: quá nhiều dòng, tối đa {MAX_ROWS} dòng (too many rows, at most {MAX_ROWS})"
    )


def test_a_row_bomb_is_refused_at_the_row_limit(tmp_path: Path) -> None:
    path = row_bomb_xlsx(tmp_path / "bomb.xlsx", MAX_ROWS + 10)
    assert path.stat().st_size < 2 * 1024 * 1024
    error = _refused(path)
    assert (error.code, error.detail) == ("too_many_rows", str(MAX_ROWS))
    ok = row_bomb_xlsx(tmp_path / "ok.xlsx", 100)
    assert len(read_table(ok, ROSTER_COLUMNS).rows) == 100


def test_declared_dimensions_and_columns_past_the_limit_are_refused(tmp_path: Path) -> None:
    declared = xlsx(tmp_path / "d.xlsx", [row(1, ROSTER_HEADER)], dimension="A1:XFD1048576")
    assert _refused(declared).code == "too_many_rows"
    wide = xlsx(
        tmp_path / "w.xlsx", [row(1, ROSTER_HEADER), f'<row r="2">{cell("DA2", "x")}</row>']
    )
    assert (_refused(wide).code, _refused(wide).detail) == ("too_many_columns", str(MAX_COLUMNS))
    # Cells without a reference (the format allows it) are counted by position.
    unnamed = "".join('<c t="inlineStr"><is><t>x</t></is></c>' for _ in range(MAX_COLUMNS + 1))
    assert _refused(xlsx(tmp_path / "u.xlsx", [row(1, ROSTER_HEADER), f"<row>{unnamed}</row>"]))


def _ods(path: Path, rows: str) -> Path:
    content = (
        '<?xml version="1.0" encoding="UTF-8"?><office:document-content'
        ' xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"'
        ' xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"'
        ' xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        '<office:body><office:spreadsheet><table:table table:name="Dữ liệu">'
        "<table:table-row>"
        + "".join(
            f'<table:table-cell office:value-type="string"><text:p>{h}</text:p></table:table-cell>'
            for h in ROSTER_HEADER
        )
        + "</table:table-row>"
        + rows
        + "</table:table></office:spreadsheet></office:body></office:document-content>"
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
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
    return path


def test_ods_repeats_count_but_libreoffice_trailing_empty_rows_do_not(tmp_path: Path) -> None:
    person = (
        '<table:table-cell office:value-type="string"><text:p>Lê Ăn</text:p></table:table-cell>'
        '<table:table-cell office:value-type="string"><text:p>001234567890</text:p>'
        "</table:table-cell>"
    )
    bomb = _ods(
        tmp_path / "bomb.ods",
        f'<table:table-row table:number-rows-repeated="1048575">{person}</table:table-row>',
    )
    assert _refused(bomb).code == "too_many_rows"
    wide = _ods(
        tmp_path / "wide.ods",
        '<table:table-row><table:table-cell table:number-columns-repeated="16384"'
        ' office:value-type="string"><text:p>x</text:p></table:table-cell></table:table-row>',
    )
    assert _refused(wide).code == "too_many_columns"
    # What LibreOffice writes after the data: a million empty rows of 1,024 empty cells.
    real = _ods(
        tmp_path / "real.ods",
        f"<table:table-row>{person}"
        '<table:table-cell table:number-columns-repeated="1019"/></table:table-row>'
        '<table:table-row table:number-rows-repeated="1048574">'
        '<table:table-cell table:number-columns-repeated="1024"/></table:table-row>',
    )
    assert [r for _n, r in read_table(real, ROSTER_COLUMNS).rows] == [
        {
            "full_name": "Lê Ăn",
            "personal_id": "001234567890",
            "date_of_birth": "",
            "unit": "",
            "position": "",
        }
    ]


def test_large_files_csv_rows_and_xlsb_are_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.csv"
    big.write_bytes(b"x" * (10 * 1024 * 1024 + 1))
    assert (_refused(big).code, _refused(big).detail) == ("file_too_large", "10")
    lines = tmp_path / "lines.csv"
    lines.write_text(",".join(ROSTER_HEADER) + "\n" + "a\n" * MAX_ROWS, encoding="utf-8")
    assert _refused(lines).code == "too_many_rows"
    wide = tmp_path / "wide.csv"
    wide.write_text(",".join(ROSTER_HEADER) + ",x" * MAX_COLUMNS + "\n", encoding="utf-8")
    assert _refused(wide).code == "too_many_columns"
    binary = tmp_path / "ds.xlsb"
    binary.write_bytes(b"PK\x03\x04")
    assert _refused(binary).code == "unsupported_format"


def test_a_latin1_csv_is_refused_rather_than_read_as_vietnamese(tmp_path: Path) -> None:
    path = tmp_path / "ds.csv"
    path.write_bytes("Full name,Personal ID,Unit\nÑandú Ãõ,001234567890,LS\n".encode("latin-1"))
    assert _refused(path).code == "not_utf8"
    # Without Vietnamese tones, Ã and õ are Ă and ơ in cp1258: still not a safe guess.
    path.write_bytes("Full name,Personal ID\nGonçalves Ão,001234567890\n".encode("latin-1"))
    assert _refused(path).code == "not_utf8"
    # Western letters both code pages share are read as they are.
    path.write_bytes("Full name,Personal ID\nJosé Núñez,001234567890\n".encode("cp1252"))
    with pytest.raises(SheetError):  # ñ is not Vietnamese: refused too, never garbled
        read_table(path, ROSTER_COLUMNS)
    path.write_bytes("Full name,Personal ID,Unit\nJosé Gómez,001234567890,LS\n".encode("cp1252"))
    assert read_table(path, ROSTER_COLUMNS).rows[0][1]["full_name"] == "José Gómez"


@pytest.mark.databases("sqlite")
async def test_the_cli_prints_at_most_a_hundred_errors_then_counts_by_kind(
    db: async_sessionmaker[AsyncSession],
    db_engine: AsyncEngine,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "bad.csv"
    lines = [",".join(ROSTER_HEADER)]
    lines += [f"Nguyễn Văn {i},12,99/99/1990,LS-X,CT-X" for i in range(3000)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    settings = Settings(database_url=db_engine.url.render_as_string(hide_password=False))
    assert await cmd_import(settings, "roster", path, dry_run=True) == 1
    out = capsys.readouterr().out.splitlines()
    assert len(out) <= 110
    assert out[1].startswith("  Dòng 2, cột ")
    assert any("… và " in line and "(and " in line for line in out)
    totals = [line for line in out if line.startswith("Tổng (total) 3000 × ")]
    assert any("số CCCD không hợp lệ" in line for line in totals)
