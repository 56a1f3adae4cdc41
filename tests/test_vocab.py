import pytest

from domain.vocab import (
    COURSE_CATEGORY,
    COURSE_MODE,
    EDUCATION,
    GENDER,
    POLITICAL_THEORY,
    QUALIFICATION_KIND,
    STATE_MANAGEMENT,
    UNIT_KIND,
    VOCABULARIES,
    Term,
    Vocab,
    VocabError,
    level_vocab,
    meets,
    rank,
)


@pytest.mark.parametrize("vocab", list(VOCABULARIES.values()), ids=lambda v: v.name)
def test_every_code_and_label_parses_to_itself(vocab: Vocab) -> None:
    for term in vocab:
        for spelling in (term.code, term.vi, term.en, term.vi.upper(), term.en.lower(),
                         *term.aliases):  # fmt: skip
            assert vocab.parse(spelling) == term.code, spelling


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("Trung cấp", "trung_cap"),
        ("trung cap", "trung_cap"),
        ("TRUNG CẤP", "trung_cap"),
        ("Vocational", "trung_cap"),
        ("Cao đẳng", "cao_dang"),
        ("college", "cao_dang"),
        ("Đại học", "dai_hoc"),
        ("dai hoc", "dai_hoc"),
        ("Đại học Luật", "dai_hoc"),  # level followed by the field, as rosters write it
        ("Đại học trở lên", "dai_hoc"),
        ("ĐH", "dai_hoc"),
        ("Cử nhân Kinh tế", "dai_hoc"),
        ("Kỹ sư nông nghiệp", "dai_hoc"),
        ("Kĩ sư", "dai_hoc"),
        ("Engineer", "dai_hoc"),
        ("University", "dai_hoc"),
        ("Thạc sĩ", "thac_si"),
        ("Thạc sỹ", "thac_si"),
        ("ThS. Quản lý công", "thac_si"),
        ("Master", "thac_si"),
        ("Tiến sĩ", "tien_si"),
        ("tien sy", "tien_si"),
        ("PhD", "tien_si"),
        ("Doctor", "tien_si"),
        ("Trình độ: Cao đẳng", "cao_dang"),  # a leading filler word is skipped
        ("Bằng thạc sĩ", "thac_si"),
        ("thac_si", "thac_si"),
        ("THAC_SI", "thac_si"),
    ],
)
def test_education(raw: str, code: str) -> None:
    assert EDUCATION.parse(raw) == code


@pytest.mark.parametrize("raw", [None, "", "   ", "-", "—", "Chưa qua đào tạo", "không", "N/A"])
def test_blank_and_none_parse_to_none(raw: str | None) -> None:
    assert EDUCATION.parse(raw) is None
    assert POLITICAL_THEORY.parse(raw) is None
    assert STATE_MANAGEMENT.parse(raw) is None


@pytest.mark.parametrize("raw", ["Đang học đại học", "Trên đại học", "xyz", "12", "Trình độ"])
def test_unknown_education(raw: str) -> None:
    with pytest.raises(VocabError) as info:
        EDUCATION.parse(raw)
    err = info.value
    assert err.vocab_name == "education"
    assert err.raw == raw
    assert err.allowed == ["so_cap", "trung_cap", "cao_dang", "dai_hoc", "thac_si", "tien_si"]
    assert isinstance(err, ValueError)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("Sơ cấp", "so_cap"),
        ("elementary", "so_cap"),
        ("Basic", "so_cap"),
        ("Trung cấp", "trung_cap"),
        ("Trung cấp lý luận chính trị", "trung_cap"),
        ("Lý luận chính trị trung cấp", "trung_cap"),
        ("TC LLCT", "trung_cap"),
        ("intermediate", "trung_cap"),
        ("Cao cấp", "cao_cap"),
        ("Cao cấp lý luận chính trị - hành chính", "cao_cap"),
        ("Advanced", "cao_cap"),
        ("senior", "cao_cap"),
        ("Cử nhân", "cu_nhan"),
        ("Cử nhân chính trị", "cu_nhan"),
        ("cu nhan chinh tri", "cu_nhan"),
        ("Bachelor", "cu_nhan"),
    ],
)
def test_political_theory(raw: str, code: str) -> None:
    assert POLITICAL_THEORY.parse(raw) == code


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("Chuyên viên", "chuyen_vien"),
        ("chuyen vien", "chuyen_vien"),
        ("Specialist", "chuyen_vien"),
        ("Officer", "chuyen_vien"),
        ("Chuyên viên chính", "chuyen_vien_chinh"),  # longest match wins
        ("CHUYEN VIEN CHINH", "chuyen_vien_chinh"),
        ("chuyên viên chính và tương đương", "chuyen_vien_chinh"),
        ("Principal", "chuyen_vien_chinh"),
        ("main specialist", "chuyen_vien_chinh"),
        ("Chuyên viên cao cấp", "chuyen_vien_cao_cap"),
        ("Senior specialist", "chuyen_vien_cao_cap"),
        ("Ngạch chuyên viên", "chuyen_vien"),
        ("QLNN chương trình chuyên viên chính", "chuyen_vien_chinh"),
        ("CVCC", "chuyen_vien_cao_cap"),
    ],
)
def test_state_management(raw: str, code: str) -> None:
    assert STATE_MANAGEMENT.parse(raw) == code


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("Nam", "nam"),
        ("nam", "nam"),
        ("Male", "nam"),
        ("M", "nam"),
        ("Nữ", "nu"),
        ("nu", "nu"),
        ("NỮ", "nu"),
        ("female", "nu"),
        ("F", "nu"),
        ("Khác", "khac"),
        ("other", "khac"),
        ("Giới tính: nữ", "nu"),
    ],
)
def test_gender(raw: str, code: str) -> None:
    assert GENDER.parse(raw) == code


def test_gender_rejects_words_that_only_start_like_an_alias() -> None:
    # Prefixes are matched word by word: "ma" is not "m", "no" is not "nu".
    for raw in ("ma", "mr", "không rõ"):
        with pytest.raises(VocabError):
            GENDER.parse(raw)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("Lý luận chính trị", "political_theory"),
        ("ly luan chinh tri", "political_theory"),
        ("Bồi dưỡng lý luận chính trị", "political_theory"),
        ("Quốc phòng an ninh", "defence_security"),
        ("Bồi dưỡng kiến thức quốc phòng và an ninh", "defence_security"),
        ("Defence and security", "defence_security"),
        ("Quản lý nhà nước", "state_management"),
        ("Lớp bồi dưỡng quản lý nhà nước", "state_management"),
        ("Kiến thức, kỹ năng vị trí việc làm", "job_skills"),
        ("Chuyên môn nghiệp vụ", "job_skills"),
        ("Kỹ năng số", "digital_skills"),
        ("Chuyển đổi số", "digital_skills"),
        ("Tin học", "it"),
        ("Công nghệ thông tin", "it"),
        ("IT", "it"),
        ("Ngoại ngữ", "foreign_language"),
        ("Tiếng Anh", "foreign_language"),
        ("Tiếng dân tộc", "ethnic_language"),
        ("Tiếng Mông", "ethnic_language"),
        ("Văn hóa", "culture"),
        ("Quản lý văn hóa", "culture"),  # not state management: longest prefix
        ("Văn hóa gia đình", "culture"),
        ("Du lịch", "culture"),
        ("Tourism", "culture"),
    ],
)
def test_course_category(raw: str, code: str) -> None:
    assert COURSE_CATEGORY.parse(raw) == code


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("Trực tiếp", "in_person"),
        ("Tập trung", "in_person"),
        ("offline", "in_person"),
        ("Trực tuyến", "online"),
        ("Học trực tuyến", "online"),
        ("online", "online"),
        ("Kết hợp", "blended"),
        ("Trực tiếp kết hợp trực tuyến", "blended"),
        ("Hình thức: kết hợp", "blended"),
    ],
)
def test_course_mode(raw: str, code: str) -> None:
    assert COURSE_MODE.parse(raw) == code


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("Tỉnh", "province"),
        ("Thành phố trực thuộc trung ương", "central_city"),
        ("Tỉnh Lạng Sơn", "province"),
        ("Huyện", "district"),
        ("Quận", "urban_district"),
        ("Thị xã", "district_town"),
        ("Thành phố thuộc tỉnh", "provincial_city"),
        ("Xã", "commune"),
        ("Phường", "ward"),
        ("Thị trấn", "township"),
        ("Đặc khu", "special_zone"),
        ("Xã Tân Thanh", "commune"),
        ("ward", "ward"),
        ("Phòng", "division"),
        ("Ban", "division"),
        ("Bộ phận", "division"),
        ("Phòng Nội vụ", "division"),
    ],
)
def test_unit_kind(raw: str, code: str) -> None:
    assert UNIT_KIND.parse(raw) == code


def test_qualification_kind_and_level_vocab() -> None:
    assert QUALIFICATION_KIND.codes == [
        "education",
        "political_theory",
        "state_management",
        "it",
        "foreign_language",
        "digital_skills",
        "refresher_hours",
    ]
    assert QUALIFICATION_KIND.parse("Lý luận chính trị") == "political_theory"
    assert QUALIFICATION_KIND.parse("Trình độ chuyên môn") == "education"
    assert level_vocab("education") is EDUCATION
    assert level_vocab("political_theory") is POLITICAL_THEORY
    assert level_vocab("state_management") is STATE_MANAGEMENT
    for kind in ("it", "foreign_language", "digital_skills", "refresher_hours", "nonsense"):
        assert level_vocab(kind) is None


def test_ranks() -> None:
    assert [rank(EDUCATION, c) for c in EDUCATION.codes] == [0, 1, 2, 3, 4, 5]
    assert rank(POLITICAL_THEORY, "so_cap") < rank(POLITICAL_THEORY, "trung_cap")
    assert rank(POLITICAL_THEORY, "cu_nhan") == rank(POLITICAL_THEORY, "cao_cap")
    assert [rank(STATE_MANAGEMENT, c) for c in STATE_MANAGEMENT.codes] == [1, 2, 3]
    with pytest.raises(VocabError):
        rank(EDUCATION, "sau_dai_hoc")


def test_meets() -> None:
    assert meets(EDUCATION, "dai_hoc", "dai_hoc")
    assert meets(EDUCATION, "thac_si", "dai_hoc")
    assert not meets(EDUCATION, "cao_dang", "dai_hoc")
    assert not meets(EDUCATION, None, "trung_cap")
    assert not meets(EDUCATION, "retired_code", "trung_cap")
    assert meets(POLITICAL_THEORY, "cu_nhan", "cao_cap")
    assert meets(POLITICAL_THEORY, "cao_cap", "cu_nhan")
    assert meets(POLITICAL_THEORY, "cu_nhan", "trung_cap")
    assert not meets(POLITICAL_THEORY, "so_cap", "trung_cap")
    assert meets(STATE_MANAGEMENT, "chuyen_vien_cao_cap", "chuyen_vien_chinh")
    assert not meets(STATE_MANAGEMENT, "chuyen_vien", "chuyen_vien_chinh")
    # Unordered vocabularies need the same code.
    assert meets(GENDER, "nu", "nu")
    assert not meets(GENDER, "nam", "nu")
    # A rule naming an unknown level is a configuration error, not a quiet "no".
    with pytest.raises(VocabError):
        meets(EDUCATION, "dai_hoc", "cu_nhan")


def test_labels_and_lookup() -> None:
    assert EDUCATION.label("dai_hoc") == "Đại học"
    assert EDUCATION.label("dai_hoc", "en") == "University"
    assert EDUCATION.term("thac_si").rank == 4
    assert "dai_hoc" in EDUCATION
    assert "so_cap" in EDUCATION and "sau_dai_hoc" not in EDUCATION
    assert len(GENDER) == 3
    assert VOCABULARIES["course_mode"] is COURSE_MODE
    with pytest.raises(VocabError):
        EDUCATION.label("nope")


def test_vocab_refuses_an_alias_naming_two_codes() -> None:
    with pytest.raises(ValueError, match="two codes"):
        Vocab("x", [Term("a", "Một", "One", aliases=("mot",)), Term("b", "Mốt", "Two")])
    with pytest.raises(ValueError, match="duplicate"):
        Vocab("x", [Term("a", "A", "A"), Term("a", "B", "B")])
