import pytest

from domain.phones import normalize_phone, valid_personal_id


@pytest.mark.parametrize(
    "raw",
    [
        "0912345678",
        "0912 345 678",
        "0912.345.678",
        "0912-345-678",
        "+84912345678",
        "+84 912 345 678",
        "84912345678",  # Telegram's contact.phone_number has no "+"
        "(+84) 912-345-678",
        "(+84) 0912 345 678",  # a stray trunk 0 after the country code
        "0084912345678",
        "912345678",  # a spreadsheet dropped the leading 0
        "912345678.0",  # ... and added ".0"
        " 0912345678 ",
        "0912\u00a0345\u00a0678",  # non-breaking spaces from a web page
    ],
)
def test_mobile_forms(raw: str) -> None:
    assert normalize_phone(raw) == "0912345678"


@pytest.mark.parametrize(
    ("raw", "national"),
    [
        ("0362 123 456", "0362123456"),
        ("0523456789", "0523456789"),
        ("0701234567", "0701234567"),
        ("0849123456", "0849123456"),  # VinaPhone 084: a national number starting 08 4
        ("849123456", "0849123456"),
        ("84849123456", "0849123456"),
        ("02438123456", "02438123456"),  # Hà Nội landline, 11 digits
        ("024 3812 3456", "02438123456"),
        ("+84 24 3812 3456", "02438123456"),
        ("842438123456", "02438123456"),
        ("2053870123", "02053870123"),  # Lạng Sơn landline without its 0
        ("01662345678", "0362345678"),  # pre-2018 Viettel 0166 -> 036
        ("0123 456 7890", "0834567890"),  # pre-2018 VinaPhone 0123 -> 083
        ("+84 1662345678", "0362345678"),
    ],
)
def test_other_numbers(raw: str, national: str) -> None:
    assert normalize_phone(raw) == national


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "abc",
        "0912345678 / 0987654321",  # two numbers in one cell
        "0912345678, 0987654321",
        "091234567",  # too short
        "09123456789",  # too long for a mobile
        "0112345678",  # no such prefix
        "0412345678",
        "1900123456",  # hotline, not a person's phone
        "+1 202 555 0100",  # another country
        "+8491234567",
        "+0912345678",
        "0912345678x",
        "12345",
        "0912 345 678 ext 12",
        "０９１２３４５６７８",  # full-width digits are not accepted silently
    ],
)
def test_not_a_vietnamese_phone(raw: str) -> None:
    assert normalize_phone(raw) is None


@pytest.mark.parametrize(
    "raw",
    [
        "001234567890",
        " 001 234 567 890 ",
        "001234567890.0",  # read as a float then printed
        "1234567890.0",
        "'001234567890",  # Excel's text prefix, copied along
        "1234567890",  # two leading zeros lost by a number format (provinces 001-009)
    ],
)
def test_personal_id_forms(raw: str) -> None:
    assert valid_personal_id(raw) == "001234567890"


@pytest.mark.parametrize(
    ("raw", "cccd"),
    [
        ("020190012345", "020190012345"),  # Lạng Sơn
        ("20190012345", "020190012345"),
        ("96012345678", "096012345678"),  # Cà Mau, the highest province code
        ("9.6012345678E+10", "096012345678"),  # exact scientific notation
        ("2.0190012345e10", "020190012345"),
    ],
)
def test_personal_id_other(raw: str, cccd: str) -> None:
    assert valid_personal_id(raw) == cccd


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "abc",
        "123456789",  # 9-digit old CMND
        "0012345678901",  # 13 digits
        "123456789012",  # 12 digits but province 123 does not exist
        "000123456789",  # province 000 does not exist
        "097123456789",
        "0912345678",  # a phone number (province 000 after padding)
        "02008500123",  # 11-digit text starting with 0: a digit is missing, not a lost zero
        "01234567890",
        "9.60123E+10",  # Excel's display form: digits were cut off
        "1.5e3",
        "00123456789.5",
        "001-234-567-890",
        "001234567890 001234567891",
    ],
)
def test_invalid_personal_id(raw: str) -> None:
    assert valid_personal_id(raw) is None
