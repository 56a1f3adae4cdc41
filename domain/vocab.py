"""Controlled vocabularies: the codes stored in the database and the words people use for them.

Each vocabulary maps a canonical code to a Vietnamese label, an English label, a rank (for
ordered levels) and aliases. Parsing accepts any of those, with or without diacritics, in any
case, and also the longer cell texts found in personnel spreadsheets ("Đại học Luật",
"Trình độ trung cấp", "Chuyên viên chính"): the longest alias that starts the text wins.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from domain.text import fold

__all__ = [
    "CIVIL_SERVICE_RANK",
    "COURSE_CATEGORY",
    "COURSE_MODE",
    "EDUCATION",
    "GENDER",
    "PERSON_TYPE",
    "POLITICAL_THEORY",
    "QUALIFICATION_KIND",
    "RANK_STATE_MANAGEMENT",
    "STATE_MANAGEMENT",
    "UNIT_KIND",
    "UNIT_TIER",
    "VOCABULARIES",
    "Term",
    "Vocab",
    "VocabError",
    "level_vocab",
    "meets",
    "rank",
]

_NON_WORD = re.compile(r"[\W_]+")


# Spreadsheet columns repeat the same few values thousands of times (a 25,000-row roster has
# a few hundred distinct level cells): remembering the comparison form halves its parsing.
@functools.lru_cache(maxsize=8192)
def match_key(s: str) -> str:
    """Comparison form: folded, punctuation as spaces, y spelled i (lý/lí, sỹ/sĩ vary freely)."""
    return " ".join(_NON_WORD.sub(" ", fold(s)).replace("y", "i").split())


_PARSED_MAX = 4096  # distinct texts remembered per vocabulary; bounded for a long-lived bot


class VocabError(ValueError):
    """A value outside a vocabulary; `allowed` lists the codes, for the caller to present."""

    def __init__(self, vocab_name: str, raw: str, allowed: list[str]) -> None:
        super().__init__(f"{vocab_name}: {raw!r} not in {allowed}")
        self.vocab_name = vocab_name
        self.raw = raw
        self.allowed = allowed


@dataclass(frozen=True)
class Term:
    code: str
    vi: str
    en: str
    rank: int = 0
    aliases: tuple[str, ...] = ()


class Vocab:
    """An ordered (ranked) or unordered set of terms with alias-aware parsing."""

    def __init__(
        self,
        name: str,
        terms: Sequence[Term],
        *,
        ordered: bool = False,
        fillers: Iterable[str] = (),
        none_words: Iterable[str] = (),
    ) -> None:
        """`fillers` are leading words skipped when nothing matches ("trình độ", "ngạch");
        `none_words` mean "has none" and parse like a blank cell ("chưa qua đào tạo")."""
        self.name = name
        self.terms = tuple(terms)
        self.ordered = ordered
        self._by_code = {t.code: t for t in self.terms}
        if len(self._by_code) != len(self.terms):
            raise ValueError(f"{name}: duplicate code")
        self._fillers = tuple(tuple(match_key(f).split()) for f in fillers)
        self._none = frozenset(match_key(w) for w in none_words)
        self._index: dict[tuple[str, ...], str] = {}
        for t in self.terms:
            for spelling in (t.code, t.code.replace("_", " "), t.vi, t.en, *t.aliases):
                key = tuple(match_key(spelling).split())
                if not key:
                    continue
                # Aliases are data typed by hand: a clash would make parsing depend on order.
                if self._index.setdefault(key, t.code) != t.code:
                    raise ValueError(f"{name}: {spelling!r} names two codes")
        self._longest = max(len(k) for k in self._index)
        self._parsed: dict[str, str | VocabError | None] = {}

    def __iter__(self) -> Iterator[Term]:
        return iter(self.terms)

    def __len__(self) -> int:
        return len(self.terms)

    def __contains__(self, code: object) -> bool:
        return code in self._by_code

    def __repr__(self) -> str:
        return f"Vocab({self.name!r}, {self.codes})"

    @property
    def codes(self) -> list[str]:
        return [t.code for t in self.terms]

    def term(self, code: str) -> Term:
        try:
            return self._by_code[code]
        except KeyError:
            raise VocabError(self.name, code, self.codes) from None

    def label(self, code: str, lang: str = "vi") -> str:
        """The term's label in "vi" or "en" (labels are data, like the codes)."""
        t = self.term(code)
        return t.en if lang == "en" else t.vi

    def parse(self, raw: str | None) -> str | None:
        """The code for a cell or typed value; None when blank; VocabError when unknown."""
        if raw is None:
            return None
        # A roster column holds a few hundred distinct values in 25,000 cells: parse each once.
        if raw in self._parsed:
            known = self._parsed[raw]
            if isinstance(known, VocabError):
                raise VocabError(self.name, raw, self.codes)
            return known
        try:
            code = self._parse(raw)
        except VocabError as exc:
            self._remember(raw, exc)
            raise
        self._remember(raw, code)
        return code

    def _remember(self, raw: str, value: str | VocabError | None) -> None:
        if len(self._parsed) < _PARSED_MAX:
            self._parsed[raw] = value

    def _parse(self, raw: str) -> str | None:
        key = match_key(raw)
        if not key or key in self._none:
            return None
        words = tuple(key.split())
        while True:
            code = self._longest_prefix(words)
            if code is not None:
                return code
            rest = self._strip_filler(words)
            if rest is None or not rest:
                raise VocabError(self.name, raw, self.codes)
            if " ".join(rest) in self._none:
                return None
            words = rest

    def parse_exact(self, raw: str | None) -> tuple[str | None, str]:
        """Like `parse`, and also what follows the level, fillers removed ("" when nothing
        does): "Đại học Luật" -> ("dai_hoc", "luat"), "Cao cấp lý luận chính trị" ->
        ("cao_cap", ""). An importer refuses a leftover it cannot place ("Tiến sỹ học")."""
        code = self.parse(raw)
        if code is None or raw is None:
            return code, ""
        words = tuple(match_key(raw).split())
        while self._longest_prefix(words) is None:
            rest = self._strip_filler(words)
            if not rest:
                return code, ""
            words = rest
        n = next(n for n in range(min(len(words), self._longest), 0, -1)
                 if self._index.get(words[:n]) is not None)  # fmt: skip
        rest = words[n:]
        while rest and (stripped := self._strip_filler(rest)) is not None:
            rest = stripped
        return code, " ".join(rest)

    def _longest_prefix(self, words: tuple[str, ...]) -> str | None:
        for n in range(min(len(words), self._longest), 0, -1):
            code = self._index.get(words[:n])
            if code is not None:
                return code
        return None

    def _strip_filler(self, words: tuple[str, ...]) -> tuple[str, ...] | None:
        for filler in sorted(self._fillers, key=len, reverse=True):
            if words[: len(filler)] == filler:
                return words[len(filler) :]
        return None


def rank(vocab: Vocab, code: str) -> int:
    """The level's rank in an ordered vocabulary (VocabError for an unknown code)."""
    return vocab.term(code).rank


def meets(vocab: Vocab, have: str | None, need: str) -> bool:
    """Whether level `have` satisfies requirement `need`.

    Ordered vocabularies compare ranks (higher satisfies lower); others need the same code.
    A missing or unknown `have` (a code retired from the vocabulary) does not meet anything;
    an unknown `need` is a misconfigured rule and raises VocabError.
    """
    required = vocab.term(need)
    if have is None or have not in vocab:
        return False
    if not vocab.ordered:
        return have == need
    return vocab.term(have).rank >= required.rank


# Words that say "none" in the level columns of a personnel record.
_NONE_WORDS = (
    "không", "không có", "chưa", "chưa có", "chưa qua đào tạo", "chưa đào tạo",
    "none", "no", "n/a", "na", "nil",
)  # fmt: skip
# Leading words of level cells: "Trình độ đại học", "Bằng thạc sĩ", "Ngạch chuyên viên".
_LEVEL_FILLERS = ("trình độ", "bằng", "bằng cấp", "chứng chỉ", "ngạch", "tương đương", "level")

EDUCATION = Vocab(
    "education",
    [
        # Official statistics count "sơ cấp" with the untrained ("elementary and the rest").
        Term("so_cap", "Sơ cấp", "Elementary (vocational)", 0,
             ("elementary", "sơ cấp nghề", "sc")),
        Term("trung_cap", "Trung cấp", "Intermediate (vocational)", 1,
             ("intermediate", "vocational", "tc", "tccn", "trung cấp chuyên nghiệp",
              "trung học chuyên nghiệp", "trung cấp nghề")),
        Term("cao_dang", "Cao đẳng", "College", 2, ("college", "cđ", "cao đẳng nghề")),
        # Cử nhân (bachelor) and kỹ sư (engineer) are the titles of a university degree.
        Term("dai_hoc", "Đại học", "University", 3,
             ("university", "bachelor", "đh", "cử nhân", "cn", "kỹ sư", "ks", "engineer",
              "bác sĩ", "dược sĩ", "kiến trúc sư", "university degree")),
        Term("thac_si", "Thạc sĩ", "Master", 4, ("thạc sỹ", "master", "masters", "ths", "msc",
                                                  "mba")),
        Term("tien_si", "Tiến sĩ", "Doctorate", 5, ("tiến sỹ", "doctor", "doctorate", "phd",
                                                     "ts", "tiến sĩ khoa học", "tskh")),
    ],
    ordered=True,
    fillers=_LEVEL_FILLERS,
    none_words=_NONE_WORDS,
)  # fmt: skip

POLITICAL_THEORY = Vocab(
    "political_theory",
    [
        Term("so_cap", "Sơ cấp", "Elementary", 1, ("elementary", "basic", "sc")),
        Term("trung_cap", "Trung cấp", "Intermediate", 2, ("intermediate", "tc")),
        Term("cao_cap", "Cao cấp", "Advanced", 3, ("advanced", "senior", "cc")),
        # Rank equal to cao cấp: regulations treat a bachelor's degree in political science
        # (cử nhân chính trị) as equivalent to advanced political theory when a standard asks
        # for "cao cấp lý luận chính trị".
        Term("cu_nhan", "Cử nhân", "Bachelor (political science)", 3,
             ("cử nhân chính trị", "bachelor", "cn", "cử nhân lý luận chính trị")),
    ],
    ordered=True,
    fillers=(*_LEVEL_FILLERS, "lý luận chính trị", "llct", "chính trị"),
    none_words=_NONE_WORDS,
)  # fmt: skip

STATE_MANAGEMENT = Vocab(
    "state_management",
    [
        Term("chuyen_vien", "Chuyên viên", "Specialist", 1, ("specialist", "officer", "cv")),
        Term("chuyen_vien_chinh", "Chuyên viên chính", "Principal specialist", 2,
             ("principal", "principal specialist", "main specialist", "cvc")),
        Term("chuyen_vien_cao_cap", "Chuyên viên cao cấp", "Senior specialist", 3,
             ("senior specialist", "cvcc")),
    ],
    ordered=True,
    fillers=(*_LEVEL_FILLERS, "quản lý nhà nước", "qlnn", "bồi dưỡng", "chương trình"),
    none_words=_NONE_WORDS,
)  # fmt: skip

GENDER = Vocab(
    "gender",
    [
        Term("nam", "Nam", "Male", 0, ("male", "m", "man")),
        Term("nu", "Nữ", "Female", 0, ("female", "f", "woman")),
        Term("khac", "Khác", "Other", 0, ("other",)),
    ],
    fillers=("giới tính",),
)

COURSE_CATEGORY = Vocab(
    "course_category",
    [
        Term("political_theory", "Lý luận chính trị", "Political theory", 0,
             ("llct", "chính trị", "political", "politics")),
        Term("defence_security", "Quốc phòng và an ninh", "Defence and security", 0,
             ("quốc phòng an ninh", "quốc phòng", "an ninh", "qpan", "qp an", "qp-an",
              "kiến thức quốc phòng", "giáo dục quốc phòng", "defence", "defense",
              "security", "national defence", "defense and security")),
        Term("state_management", "Quản lý nhà nước", "State management", 0,
             ("qlnn", "public administration", "management")),
        Term("job_skills", "Kiến thức, kỹ năng vị trí việc làm",
             "Job-position knowledge and skills", 0,
             ("kiến thức kỹ năng vị trí việc làm", "kỹ năng vị trí việc làm", "vị trí việc làm",
              "chuyên môn nghiệp vụ", "chuyên môn", "nghiệp vụ", "job skills",
              "professional skills", "job position")),
        Term("digital_skills", "Kỹ năng số", "Digital skills", 0,
             ("chuyển đổi số", "cđs", "digital", "digital transformation")),
        Term("it", "Tin học", "IT", 0,
             ("công nghệ thông tin", "cntt", "ứng dụng công nghệ thông tin",
              "information technology", "computer", "computing")),
        Term("foreign_language", "Ngoại ngữ", "Foreign language", 0,
             ("tiếng anh", "tiếng pháp", "tiếng trung", "tiếng nga", "tiếng nhật", "tiếng hàn",
              "english", "language")),
        Term("ethnic_language", "Tiếng dân tộc thiểu số", "Ethnic minority language", 0,
             ("tiếng dân tộc", "ngôn ngữ dân tộc", "tiếng mông", "tiếng hmông", "tiếng tày",
              "tiếng nùng", "tiếng dao", "tiếng khmer", "tiếng ê đê", "tiếng gia rai",
              "tiếng jrai", "tiếng ba na", "tiếng chăm", "ethnic language", "minority language")),
        Term("culture", "Văn hóa", "Culture", 0,
             ("quản lý văn hóa", "văn hóa gia đình", "du lịch", "văn hóa du lịch", "thể thao",
              "văn hóa thể thao", "văn hóa thể thao và du lịch", "di sản", "culture",
              "cultural management", "family culture", "tourism")),
    ],
    fillers=("bồi dưỡng", "đào tạo", "tập huấn", "lớp", "khóa học", "khóa", "kiến thức",
             "training"),
)  # fmt: skip

COURSE_MODE = Vocab(
    "course_mode",
    [
        Term("in_person", "Trực tiếp", "In person", 0,
             ("tập trung", "offline", "in person", "face to face", "on site")),
        Term("online", "Trực tuyến", "Online", 0, ("online", "e learning", "từ xa", "remote")),
        Term("blended", "Kết hợp", "Blended", 0,
             ("kết hợp trực tiếp và trực tuyến", "trực tiếp và trực tuyến",
              "trực tiếp kết hợp trực tuyến", "hybrid", "mixed")),
    ],
    fillers=("hình thức", "học"),
)  # fmt: skip

QUALIFICATION_KIND = Vocab(
    "qualification_kind",
    [
        Term("education", "Trình độ chuyên môn", "Professional qualification", 0,
             ("chuyên môn", "trình độ chuyên môn nghiệp vụ", "học vấn", "bằng cấp", "degree",
              "qualification")),
        Term("political_theory", "Lý luận chính trị", "Political theory", 0,
             ("llct", "trình độ lý luận chính trị", "chính trị")),
        Term("state_management", "Quản lý nhà nước", "State management", 0,
             ("qlnn", "trình độ quản lý nhà nước")),
        Term("it", "Tin học", "IT", 0,
             ("công nghệ thông tin", "cntt", "ứng dụng công nghệ thông tin", "trình độ tin học",
              "information technology")),
        Term("foreign_language", "Ngoại ngữ", "Foreign language", 0,
             ("trình độ ngoại ngữ", "language")),
        Term("digital_skills", "Kỹ năng số", "Digital skills", 0, ("chuyển đổi số", "digital")),
        Term("refresher_hours", "Bồi dưỡng hằng năm (số giờ)", "Annual refresher training hours",
             0, ("bồi dưỡng hằng năm", "bồi dưỡng hàng năm", "số giờ bồi dưỡng", "refresher",
                 "refresher hours")),
    ],
)  # fmt: skip

# Kinds of units as people write them in a unit list (Decree 08/2025 names since the
# two-tier reform, and the district-level names older data still carries). A bare
# "Thành phố" is ambiguous (centrally run or of a province): the unit import decides by the
# parent, see domain.units.
UNIT_KIND = Vocab(
    "unit_kind",
    [
        Term("province", "Tỉnh", "Province", 0, ("tỉnh", "province")),
        Term("central_city", "Thành phố trực thuộc trung ương", "Centrally run city", 0,
             ("thành phố trực thuộc trung ương", "tp trực thuộc trung ương", "tp tw",
              "centrally run city", "municipality")),
        Term("agency", "Sở, ban, ngành", "Provincial agency", 0,
             ("sở", "sở ban ngành", "ban ngành", "cơ quan chuyên môn", "provincial agency",
              "agency", "department")),
        Term("district", "Huyện", "District", 0, ("huyện", "district", "rural district")),
        Term("urban_district", "Quận", "Urban district", 0, ("quận", "urban district")),
        Term("district_town", "Thị xã", "District-level town", 0,
             ("thị xã", "district level town", "district town")),
        Term("provincial_city", "Thành phố thuộc tỉnh", "Provincial city", 0,
             ("thành phố thuộc tỉnh", "tp thuộc tỉnh", "provincial city")),
        Term("division", "Phòng, ban", "Division", 0,
             ("phòng", "ban", "phòng ban", "bộ phận", "division", "office", "section")),
        Term("commune", "Xã", "Commune", 0, ("xã", "commune")),
        Term("ward", "Phường", "Ward", 0, ("phường", "ward")),
        Term("township", "Thị trấn", "Town", 0, ("thị trấn", "town", "township")),
        Term("special_zone", "Đặc khu", "Special zone", 0, ("đặc khu", "special zone")),
    ],
    fillers=("cấp", "đơn vị", "loại"),
)  # fmt: skip
# The tier of government a kind of unit sets for the people in it and in its divisions
# (reports count each person by the nearest unit of theirs whose kind has a tier).
UNIT_TIER = {
    "province": "province", "central_city": "province", "agency": "province",
    "district": "district", "urban_district": "district", "district_town": "district",
    "provincial_city": "district",
    "commune": "commune", "ward": "commune", "township": "commune", "special_zone": "commune",
}  # fmt: skip

# Who a person is under the Law on Cadres and Civil Servants 2025 and the Law on Public
# Employees: provinces report them together (Điện Biên's 24,088) and by type.
PERSON_TYPE = Vocab(
    "person_type",
    [
        Term("can_bo", "Cán bộ", "Cadre", 0, ("cadre", "cb")),
        Term("cong_chuc", "Công chức", "Civil servant", 0, ("civil servant", "cc")),
        Term("vien_chuc", "Viên chức", "Public employee", 0, ("public employee", "vc")),
        Term("khong_chuyen_trach", "Người hoạt động không chuyên trách", "Part-time official", 0,
             ("không chuyên trách", "người hoạt động không chuyên trách cấp xã", "hđkct",
              "part time official", "part time")),
    ],
)  # fmt: skip

# Civil-service ranks (ngạch) grouped by the level they share with the administrative ranks:
# the state-management standard asks for the training of the person's rank.
CIVIL_SERVICE_RANK = Vocab(
    "civil_service_rank",
    [
        Term("nhan_vien", "Nhân viên", "Staff", 1, ("staff", "nhân viên thừa hành")),
        Term("can_su", "Cán sự", "Junior officer", 2,
             ("junior officer", "kế toán viên trung cấp", "kỹ thuật viên", "cs")),
        Term("chuyen_vien", "Chuyên viên", "Officer", 3,
             ("officer", "specialist", "cv", "kế toán viên", "thanh tra viên", "kiểm soát viên",
              "kiểm tra viên", "chuyên viên và tương đương")),
        Term("chuyen_vien_chinh", "Chuyên viên chính", "Principal officer", 4,
             ("principal officer", "principal specialist", "cvc", "kế toán viên chính",
              "thanh tra viên chính", "kiểm soát viên chính", "kiểm tra viên chính")),
        Term("chuyen_vien_cao_cap", "Chuyên viên cao cấp", "Senior officer", 5,
             ("senior officer", "senior specialist", "cvcc", "kế toán viên cao cấp",
              "thanh tra viên cao cấp", "kiểm soát viên cao cấp", "kiểm tra viên cao cấp")),
    ],
    ordered=True,
    fillers=("ngạch", "ngạch công chức", "hạng", "tương đương"),
)  # fmt: skip
# The state-management training each rank needs (Decree 171/2025's programmes by rank);
# data an administrator may change with the rule book, kept here as the default.
RANK_STATE_MANAGEMENT = {
    "can_su": "chuyen_vien", "chuyen_vien": "chuyen_vien",
    "chuyen_vien_chinh": "chuyen_vien_chinh", "chuyen_vien_cao_cap": "chuyen_vien_cao_cap",
}  # fmt: skip

VOCABULARIES: dict[str, Vocab] = {
    v.name: v
    for v in (
        EDUCATION,
        POLITICAL_THEORY,
        STATE_MANAGEMENT,
        GENDER,
        COURSE_CATEGORY,
        COURSE_MODE,
        QUALIFICATION_KIND,
        UNIT_KIND,
        PERSON_TYPE,
        CIVIL_SERVICE_RANK,
    )
}

_LEVELS = {
    "education": EDUCATION,
    "political_theory": POLITICAL_THEORY,
    "state_management": STATE_MANAGEMENT,
}


def level_vocab(kind: str) -> Vocab | None:
    """The vocabulary of levels for a qualification kind; None where levels are free text
    (IT, foreign language, digital skills) or not levels at all (refresher hours)."""
    return _LEVELS.get(kind)
