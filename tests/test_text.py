import unicodedata

import pytest

from domain.text import fold, is_syllable, matches, search_tokens, telex_variant, vn_sort_key


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("Bồi dưỡng LÝ LUẬN  chính trị", "boi duong ly luan chinh tri"),
        ("  Đặng   Thị\tĐào\n", "dang thi dao"),
        ("ĐƯỜNG ĐỜI", "duong doi"),
        ("Nghiêng ngả ướt sũng", "nghieng nga uot sung"),
        ("Ðinh Văn Ðạt", "dinh van dat"),  # eth typed for Đ
        ("Quản lý nhà nước (QLNN)", "quan ly nha nuoc (qlnn)"),
        ("", ""),
        ("   ", ""),
        ("ABC 123", "abc 123"),
    ],
)
def test_fold(raw: str, folded: str) -> None:
    assert fold(raw) == folded


def test_fold_accepts_decomposed_input() -> None:
    assert fold(unicodedata.normalize("NFD", "Bồi dưỡng")) == "boi duong"


def test_search_tokens_drop_punctuation() -> None:
    assert search_tokens("Bồi dưỡng, chính-trị (LLCT)!") == ["boi", "duong", "chinh", "tri", "llct"]
    assert search_tokens("  ") == []
    assert search_tokens("kỹ_năng số") == ["ky", "nang", "so"]


@pytest.mark.parametrize(
    ("typed", "syllable"),
    [
        ("booif", "boi"),
        ("duwowngx", "duong"),
        ("dduwowngf", "duong"),
        ("chinhs", "chinh"),
        ("trij", "tri"),
        ("tieengs", "tieng"),
        ("tiesng", "tieng"),  # tone key typed before the final consonant
        ("quoocs", "quoc"),
        ("giuwowngf", "giuong"),
        ("nguyeenx", "nguyen"),
        ("nhw", "nhu"),
        ("twowngf", "tuong"),
        ("awn", "an"),
        ("ddaij", "dai"),
    ],
)
def test_telex_variant(typed: str, syllable: str) -> None:
    assert telex_variant(typed) == syllable
    assert search_tokens(typed) == [syllable]


@pytest.mark.parametrize(
    "token",
    [
        # Vietnamese syllables, codes and English words stay as typed.
        "xoong", "boi", "chinh", "cntt", "llct", "qlnn", "online", "excel", "zoom", "english",
        "word", "teams", "powerpoint", "it", "w", "ww", "dd", "tri", "b2", "123",
        "chinhss",  # two tone keys: not Telex
        "as",  # would be a single letter
    ],
)  # fmt: skip
def test_telex_variant_leaves_non_telex_alone(token: str) -> None:
    assert telex_variant(token) is None
    assert search_tokens(token) == [token]


def test_search_tokens_without_telex() -> None:
    assert search_tokens("booif duwowngx", telex=False) == ["booif", "duwowngx"]


@pytest.mark.parametrize(
    "syllable",
    ["a", "boi", "duong", "nghieng", "quoc", "quy", "gi", "giang", "giuong", "khuya", "xoong"],
)
def test_is_syllable(syllable: str) -> None:
    assert is_syllable(syllable)


@pytest.mark.parametrize("token", ["", "cntt", "online", "english", "boif", "tour", "shop", "qa"])
def test_is_not_syllable(token: str) -> None:
    assert not is_syllable(token)


@pytest.mark.parametrize(
    ("query", "text"),
    [
        ("boi duong chinh tri", "Bồi dưỡng lý luận chính trị"),
        ("BỒI DƯỠNG", "boi duong ly luan chinh tri"),  # both ways
        ("chinh tri boi", "Bồi dưỡng lý luận chính trị"),  # any order
        ("chính trị,", "Bồi dưỡng lý luận chính trị"),
        ("ki nang so", "Kỹ năng số cho công chức"),  # i/y spellings
        ("ky nang so", "Kĩ năng số cho công chức"),
        ("ly luan", "Lí luận chính trị"),
        ("booif duwowngx", "Bồi dưỡng kỹ năng số"),  # raw Telex
        ("chinhs trij", "Lý luận chính trị"),
        ("tieengs anh b2", "Tiếng Anh bậc B2"),
        ("ddaof taoj", "Đào tạo"),
        ("", "anything"),
        ("boi", "Bồi dưỡng"),  # prefix of a word
        ("duong", "Đường"),
    ],
)
def test_matches(query: str, text: str) -> None:
    assert matches(query, text)


@pytest.mark.parametrize(
    ("query", "text"),
    [
        ("boi duong quoc phong", "Bồi dưỡng lý luận chính trị"),
        ("tieng anh", "Tiếng dân tộc Mông"),
        ("chinh tri", ""),
        ("xyz", "Bồi dưỡng"),
    ],
)
def test_does_not_match(query: str, text: str) -> None:
    assert not matches(query, text)


def test_matches_without_telex() -> None:
    assert not matches("booif", "Bồi dưỡng", telex=False)
    assert matches("booif", "Bồi dưỡng")


def _sorted(names: list[str]) -> list[str]:
    return sorted(names, key=vn_sort_key)


def test_vn_sort_by_given_name_then_surname_in_vietnamese_alphabet() -> None:
    expected = [
        "Đỗ Văn An",  # an: a prefix of anh
        "Nguyễn Thị Ánh",  # anh = anh in letters; surname nguyễn < phạm decides before tones
        "Phạm Thị Anh",
        "Lê Ăn",  # a < ă < â
        "Trần Văn Ân",
        "Hoàng Văn Bình",
        "Lê Văn Dũng",  # d < đ
        "Nguyễn Văn Đức",
        "Vũ Thị Oanh",  # o < ô < ơ
        "Lương Văn Ổn",
        "Trần Thị Ơn",
        "Lò Văn Út",  # u < ư
        "Tòng Thị Ưng",
    ]
    shuffled = expected[::3] + expected[1::3] + expected[2::3]
    assert _sorted(shuffled) == expected
    assert _sorted(list(reversed(expected))) == expected


def test_vn_sort_tones_in_dictionary_order() -> None:
    # none, huyền, hỏi, ngã, sắc, nặng
    expected = [f"Nguyễn Văn {g}" for g in ("Ha", "Hà", "Hả", "Hã", "Há", "Hạ")]
    assert _sorted(list(reversed(expected))) == expected


def test_vn_sort_compares_all_letters_before_any_tone() -> None:
    # Given names tie on letters; the surname's letters decide before the given name's tone.
    assert _sorted(["Lê Văn Ha", "Đỗ Văn Hà"]) == ["Đỗ Văn Hà", "Lê Văn Ha"]
    # With letters tied everywhere, the first differing tone decides.
    # The tone key follows the same word order: given name first.
    assert _sorted(["Lê Văn Hà", "Lễ Văn Ha"]) == ["Lễ Văn Ha", "Lê Văn Hà"]


def test_vn_sort_surnames_and_middle_names() -> None:
    assert _sorted(["Đặng Thị Lan", "Đào Thị Lan", "Dương Thị Lan", "Bùi Thị Lan"]) == [
        "Bùi Thị Lan",
        "Dương Thị Lan",
        "Đào Thị Lan",  # a < ă
        "Đặng Thị Lan",
    ]
    assert _sorted(["Nguyễn Văn Nam", "Nguyễn Thị Nam", "Nguyễn Nam"]) == [
        "Nguyễn Nam",
        "Nguyễn Thị Nam",
        "Nguyễn Văn Nam",
    ]


def test_vn_sort_foreign_letters_after_y() -> None:
    assert _sorted(["Lê Văn Wang", "Lê Văn Yên", "Lê Văn Xuân", "Lê Fan", "Lê Giang"]) == [
        "Lê Giang",
        "Lê Văn Xuân",
        "Lê Văn Yên",
        "Lê Fan",
        "Lê Văn Wang",
    ]


def test_vn_sort_key_is_case_and_normalization_insensitive() -> None:
    a = vn_sort_key("NGUYỄN VĂN ÂN")
    b = vn_sort_key("nguyễn văn ân")
    c = vn_sort_key(unicodedata.normalize("NFD", "Nguyễn  Văn Ân"))
    assert a[:3] == b[:3] == c[:3]
    # Still a total order: ties are broken by the exact spelling.
    assert _sorted(["nguyễn văn ân", "NGUYỄN VĂN ÂN"]) == ["NGUYỄN VĂN ÂN", "nguyễn văn ân"]


def test_vn_sort_key_odd_input() -> None:
    assert vn_sort_key("") < vn_sort_key("An")
    assert _sorted(["An 2", "An 1", "An"]) == ["An", "An 1", "An 2"]
    assert _sorted(["Lê Văn Ðạt", "Lê Văn Dũng"]) == ["Lê Văn Dũng", "Lê Văn Ðạt"]
