"""Demo data shaped like the Lạng Sơn figures, for the offline console and for tests.

Everything comes from one `random.Random(seed)`, so the same seed and `now` give the same
database. Rows go in with bulk INSERTs and ids chosen here (the database must be empty),
which keeps a full build well under a second on SQLite.

Figures reproduced (DOMAIN.md, "Figures from the seeds"): 395 culture–social civil servants
in 200 communes, 280 of them (70.9%) with a university degree or higher; in Tràng Định
district 38 of them, 25 (65.78%) university+, and all of them with an IT certificate.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Exists, exists, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from domain.phones import normalize_phone
from domain.text import fold
from storage.models import (
    Course,
    CourseSession,
    CourseStatus,
    Person,
    Position,
    Qualification,
    Registration,
    RegistrationStatus,
    Secondment,
    TrainingPlan,
    TrainingRecord,
    Unit,
)

log = logging.getLogger(__name__)
DEMO_SECONDMENTS = 6

PROVINCE_CODE = "LS"
PROVINCE_NAME = "Tỉnh Lạng Sơn (dữ liệu mẫu)"
DISTRICT_CODE = "LS-TD"
DISTRICT_NAME = "Huyện Tràng Định"
CCCD_PROVINCE = "020"  # the CCCD prefix of Lạng Sơn
CULTURE_SOCIAL = "cc_van_hoa_xa_hoi"
CHAIR, DEPUTY = "chu_tich_ubnd", "pho_chu_tich_ubnd"
UNIVERSITY_LEVELS = ("dai_hoc", "thac_si", "tien_si")
# The 'meets all' person gets this many hours this year; nobody else reaches it.
ANNUAL_HOURS = 40

# The seed figures. 1–2 people per commune forces the split: Tràng Định's 20 communes hold
# 38 (18 communes with two), the other 180 communes hold 357 (177 with two).
COMMUNES = 200
DISTRICT_COMMUNES = 20
CULTURE_SOCIAL_TOTAL = 395
CULTURE_SOCIAL_UNIVERSITY = 280
DISTRICT_CULTURE_SOCIAL = 38
DISTRICT_UNIVERSITY = 25
LEADER_COMMUNES = 40
LEADER_COMMUNES_IN_DISTRICT = 6

SVHTTDL, SNV, TCT = "LS-SVHTTDL", "LS-SNV", "LS-TCT"
ORGANIZERS = {
    SVHTTDL: "Sở Văn hóa, Thể thao và Du lịch",
    SNV: "Sở Nội vụ",
    TCT: "Trường Chính trị Hoàng Văn Thụ",
}

DISTRICT_COMMUNE_NAMES = (
    "Thị trấn Thất Khê", "Xã Chi Lăng", "Xã Chí Minh", "Xã Đại Đồng", "Xã Đào Viên",
    "Xã Đề Thám", "Xã Đội Cấn", "Xã Hùng Sơn", "Xã Hùng Việt", "Xã Kim Đồng",
    "Xã Kháng Chiến", "Xã Khánh Long", "Xã Quốc Khánh", "Xã Quốc Việt", "Xã Tân Minh",
    "Xã Tân Tiến", "Xã Tân Yên", "Xã Tri Phương", "Xã Cao Minh", "Xã Trung Thành",
)  # fmt: skip
FIRST_SYLLABLES = (
    "Tân", "Hòa", "Bình", "Minh", "Quang", "Hồng", "Thanh", "Vân", "Yên", "Hữu", "Tú",
    "Bắc", "Đồng", "Khánh", "Xuân", "Hưng", "Gia", "Thiện", "Mai", "Bằng", "Lộc", "Cao",
    "Song", "Hoàng", "Vạn", "Đình", "Quý", "Hải", "Nhạc", "Văn", "Chiến", "Thụy", "Phú",
)  # fmt: skip
SECOND_SYLLABLES = (
    "Lập", "Sơn", "Thành", "Hợp", "Long", "Phong", "An", "Thịnh", "Lạc", "Hòa", "Khê",
    "Mỹ", "Tiến", "Xá", "Kỳ", "Thủy", "Quan", "Lâm", "Định", "Phúc", "Lĩnh", "Mạc",
    "Việt", "Đông", "Trung", "Vinh", "Hà", "Liên", "Linh", "Nghĩa", "Cường",
)  # fmt: skip
SURNAMES = {
    "Nguyễn": 14, "Hoàng": 10, "Nông": 8, "Hà": 6, "Trần": 6, "Lương": 5, "Vi": 5, "Lê": 5,
    "Đinh": 4, "Lý": 4, "Lăng": 3, "Triệu": 3, "Chu": 3, "Lộc": 3, "Dương": 3, "Phạm": 3,
    "Vũ": 3, "Mã": 2, "Hứa": 2, "Đoàn": 2,
}  # fmt: skip
MIDDLE = {
    "nam": ("Văn", "Văn", "Đức", "Minh", "Quang", "Hữu", "Thế", "Xuân", "Ngọc"),
    "nu": ("Thị", "Thị", "Thị", "Thu", "Ngọc", "Thanh", "Hồng", "Minh", "Kim"),
}
GIVEN = {
    "nam": (
        "An", "Bình", "Cường", "Dũng", "Đạt", "Hải", "Hiếu", "Hùng", "Khánh", "Long",
        "Mạnh", "Nam", "Phong", "Quân", "Sơn", "Thắng", "Thành", "Toàn", "Trung", "Tuấn",
        "Việt", "Vinh", "Lâm", "Hoàng", "Tùng",
    ),
    "nu": (
        "Anh", "Chi", "Dung", "Duyên", "Giang", "Hà", "Hạnh", "Hằng", "Hoa", "Hương",
        "Huyền", "Lan", "Liên", "Linh", "Mai", "Nga", "Ngân", "Nhung", "Oanh", "Phương",
        "Thảo", "Thủy", "Trang", "Uyên", "Yến",
    ),
}  # fmt: skip
CULTURE_FIELDS_UNIVERSITY = (
    "Quản lý văn hóa", "Quản lý văn hóa", "Văn hóa học", "Công tác xã hội",
    "Văn hóa các dân tộc thiểu số Việt Nam", "Quản trị dịch vụ du lịch và lữ hành",
    "Giáo dục thể chất",
)  # fmt: skip
CULTURE_FIELDS_LOWER = ("Quản lý văn hóa", "Văn hóa - Du lịch", "Công tác xã hội", "Thư viện")
LEADER_FIELDS = ("Luật", "Kinh tế", "Hành chính học", "Quản lý nhà nước", "Kinh tế nông nghiệp")
IT_FIELD = "Ứng dụng công nghệ thông tin"
# IT and digital-skills levels are free text in domain.vocab, shown to people as stored.
BASIC, ADVANCED = "Cơ bản", "Nâng cao"

TRAINING_TITLES = (
    ("Tập huấn nghiệp vụ văn hóa, thông tin cơ sở", 16),
    ("Bồi dưỡng kỹ năng tuyên truyền, phổ biến pháp luật", 8),
    ("Tập huấn triển khai Đề án 06 về dữ liệu dân cư", 8),
    ("Bồi dưỡng nghiệp vụ công tác gia đình", 16),
    ("Tập huấn chuyển đổi số trong giải quyết thủ tục hành chính", 12),
    ("Bồi dưỡng kỹ năng tổ chức phong trào văn nghệ quần chúng", 24),
)

MORNING, AFTERNOON = time(7, 30), time(13, 30)


@dataclass(frozen=True)
class DemoPerson:
    """Someone worth playing in the demo; the console describes `role` in its own words."""

    role: str  # no_degree | meets_all | chairperson
    personal_id: str
    name: str
    phone: str
    unit: str


@dataclass(frozen=True)
class DemoInfo:
    units: int
    people: int
    courses: int
    suggested: list[DemoPerson] = field(default_factory=list)


@dataclass(frozen=True)
class _CourseSpec:
    code: str
    title: str
    category: str
    organizer: str
    place: str
    offset_days: int  # from today to the first day
    days: int  # consecutive weekdays, or weekend days when `weekends`
    hours: int
    capacity: int
    grants: tuple[str | None, str | None] = (None, None)
    audience: dict[str, Any] = field(default_factory=dict)
    mode: str = "in_person"
    link: str | None = None
    starts: time = MORNING
    weekends: bool = False  # long courses run on weekend days, one session each
    weekly: bool = False  # or one afternoon a week
    full: bool = False  # exactly `capacity` demo people registered: the next one waits
    deadline_passed: bool = False


COURSES = (
    _CourseSpec(
        "LLCT-TC-01", "Bồi dưỡng lý luận chính trị trung cấp", "political_theory", TCT,
        "Trường Chính trị Hoàng Văn Thụ, TP Lạng Sơn", 20, 15, 120, 60,
        grants=("political_theory", "trung_cap"), weekends=True,
    ),
    _CourseSpec(
        "QLNN-CV-01", "Bồi dưỡng kiến thức quản lý nhà nước ngạch chuyên viên",
        "state_management", SNV, "Hội trường Sở Nội vụ, TP Lạng Sơn", 27, 10, 80, 50,
        grants=("state_management", "chuyen_vien"), weekends=True,
    ),
    _CourseSpec(
        "KNS-01", "Kỹ năng số cho công chức cấp xã", "digital_skills", SNV,
        "Trung tâm Hội nghị tỉnh Lạng Sơn", 8, 2, 16, 40,
        grants=("digital_skills", BASIC), mode="blended",
        link="https://hoctap.example.vn/ky-nang-so",
    ),
    _CourseSpec(
        "QLVH-01", "Nghiệp vụ quản lý văn hóa cơ sở", "culture", SVHTTDL,
        "Trung tâm Văn hóa, Điện ảnh và Triển lãm tỉnh Lạng Sơn", 14, 3, 24, 45,
    ),
    _CourseSpec(
        "VHGD-01", "Xây dựng văn hóa gia đình", "culture", SVHTTDL,
        "Hội trường Sở Văn hóa, Thể thao và Du lịch, TP Lạng Sơn", 17, 2, 16, 3, full=True,
    ),
    _CourseSpec(
        "DSVH-TD-01", "Bảo tồn và phát huy di sản văn hóa dân tộc Tày, Nùng", "culture",
        SVHTTDL, "Nhà văn hóa thị trấn Thất Khê, huyện Tràng Định", 23, 2, 16, 38,
        audience={"units": [DISTRICT_CODE]},
    ),
    _CourseSpec(
        "THUD-01", "Tin học ứng dụng trong quản lý hành chính", "it", SNV,
        "Trung tâm Công nghệ thông tin, Sở Nội vụ", 35, 3, 24, 30, grants=("it", BASIC),
    ),
    _CourseSpec(
        "KNCV-01", "Kỹ năng thực thi công vụ cho công chức cấp xã", "job_skills", SNV,
        "Hội trường Sở Nội vụ, TP Lạng Sơn", 42, 2, 16, 50,
    ),
    _CourseSpec(
        "TA-01", "Tiếng Anh giao tiếp cơ bản cho cán bộ, công chức", "foreign_language", SNV,
        "Trực tuyến", 45, 20, 60, 25, grants=("foreign_language", None), mode="online",
        link="https://hoctap.example.vn/tieng-anh", starts=AFTERNOON, weekly=True,
    ),
    _CourseSpec(
        "QPAN-01", "Bồi dưỡng kiến thức quốc phòng và an ninh (đối tượng 4)",
        "defence_security", TCT, "Trường Chính trị Hoàng Văn Thụ, TP Lạng Sơn", 56, 5, 40, 60,
        grants=("defence_security", None),
    ),
    _CourseSpec(
        "DLCD-01", "Phát triển du lịch cộng đồng gắn với văn hóa địa phương", "culture",
        SVHTTDL, "Khu du lịch Mẫu Sơn, huyện Lộc Bình", 10, 2, 16, 40, deadline_passed=True,
    ),
    _CourseSpec(
        "TDTT-01", "Tổ chức hoạt động thể dục thể thao quần chúng ở cơ sở", "culture", SVHTTDL,
        "Nhà thi đấu tỉnh Lạng Sơn", 63, 2, 12, 35, starts=AFTERNOON,
    ),
)  # fmt: skip


@dataclass
class _Person:
    """A person before insertion, with what the generator decided about them."""

    id: int
    unit_id: int
    position: str
    gender: str
    name: str
    born: date
    personal_id: str
    phone: str
    quals: list[tuple[str, str, str]] = field(default_factory=list)  # kind, level, field

    @property
    def degree(self) -> str:
        return next((lvl for kind, lvl, _f in self.quals if kind == "education"), "")


def _at(day: date, moment: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, moment, tz).astimezone(UTC)


class _Builder:
    """Generates rows in memory; `build_demo` inserts them."""

    def __init__(self, *, now: datetime, tz: ZoneInfo, seed: int) -> None:
        self.rng = random.Random(seed)
        self.now, self.tz = now, tz  # courses are laid out in the settings' clock
        self.today = now.astimezone(tz).date()
        self.units: list[dict[str, Any]] = []
        self.people: list[_Person] = []
        self._taken: set[str] = set()  # personal IDs, phones and names already used
        self._parents: dict[int, int | None] = {}

    def unit(self, code: str, name: str, kind: str, parent_id: int | None) -> int:
        unit_id = len(self.units) + 1
        row = {"id": unit_id, "code": code, "name": name, "kind": kind, "parent_id": parent_id}
        self.units.append(row | {"merged_into_id": None, "active": True})
        return unit_id

    def tree(self) -> tuple[list[int], list[int]]:
        """Province, organizers, Tràng Định with its communes, the other communes."""
        province = self.unit(PROVINCE_CODE, PROVINCE_NAME, "province", None)
        for code, name in ORGANIZERS.items():
            self.unit(code, name, "division", province)
        # Districts were abolished in 2025, but older rosters keep them: one shows the depth.
        district = self.unit(DISTRICT_CODE, DISTRICT_NAME, "district", province)
        in_district = [
            self.unit(f"{DISTRICT_CODE}-{i:02d}", name, "commune", district)
            for i, name in enumerate(DISTRICT_COMMUNE_NAMES, 1)
        ]
        used = {name.split(" ")[-2] + " " + name.split(" ")[-1] for name in DISTRICT_COMMUNE_NAMES}
        pairs = [f"{a} {b}" for a in FIRST_SYLLABLES for b in SECOND_SYLLABLES if a != b]
        names = self.rng.sample([p for p in pairs if p not in used], COMMUNES - DISTRICT_COMMUNES)
        others = []
        for i, bare in enumerate(sorted(names), 1):
            roll = self.rng.random()
            name = ("Phường " if roll < 0.08 else "Thị trấn " if roll < 0.12 else "Xã ") + bare
            others.append(self.unit(f"LS-X{i:03d}", name, "commune", province))
        return in_district, others

    def _unique(self, make: Callable[[], str]) -> str:
        while True:
            value = make()
            if value not in self._taken:
                self._taken.add(value)
                return value

    def person(self, unit_id: int, position: str, *, born_from: int = 1972) -> _Person:
        rng = self.rng
        gender = rng.choice(("nam", "nu"))  # codes of domain.vocab.GENDER
        surnames, weights = list(SURNAMES), list(SURNAMES.values())
        # Homonyms exist in real rosters, but in a demo they only confuse.
        name = self._unique(
            lambda: (
                f"{rng.choices(surnames, weights)[0]} {rng.choice(MIDDLE[gender])} "
                f"{rng.choice(GIVEN[gender])}"
            )
        )
        born = date(rng.randint(born_from, 1998), rng.randint(1, 12), rng.randint(1, 28))
        # CCCD: province, a century-and-gender digit, the two-digit year, six random digits.
        century = (0 if born.year < 2000 else 2) + (1 if gender == "nu" else 0)
        prefix = f"{CCCD_PROVINCE}{century}{born.year % 100:02d}"
        personal_id = self._unique(lambda: f"{prefix}{rng.randrange(10**6):06d}")
        phone = self._unique(lambda: f"09{rng.randrange(10**8):08d}")
        new = _Person(len(self.people) + 1, unit_id, position, gender, name, born, personal_id,
                      phone)  # fmt: skip
        self.people.append(new)
        return new

    def culture_social(self, in_district: list[int], others: list[int]) -> list[_Person]:
        """The 395 culture–social civil servants with exactly the seed's degree shares."""
        everyone: list[_Person] = []
        parts = (
            (in_district, DISTRICT_CULTURE_SOCIAL, DISTRICT_UNIVERSITY, True),
            (
                others,
                CULTURE_SOCIAL_TOTAL - DISTRICT_CULTURE_SOCIAL,
                CULTURE_SOCIAL_UNIVERSITY - DISTRICT_UNIVERSITY,
                False,
            ),
        )
        for communes, total, university, all_it in parts:
            doubles = set(self.rng.sample(communes, total - len(communes)))
            members = [
                self.person(unit, CULTURE_SOCIAL)
                for unit in communes
                for _ in range(2 if unit in doubles else 1)
            ]
            graduates = set(self.rng.sample(range(len(members)), university))
            for index, member in enumerate(members):
                self._education(member, university=index in graduates)
                # Tràng Định: 100% meet the IT standard (the seed says so); elsewhere most do.
                if all_it or self.rng.random() < 0.85:
                    level = ADVANCED if self.rng.random() < 0.15 else BASIC
                    member.quals.append(("it", level, IT_FIELD))
                self._training(member, state_management=0.55, digital=0.3, theory=0.35)
            everyone += members
        return everyone

    def leaders(self, communes: list[int]) -> list[_Person]:
        """Chairpersons and deputies of some communes, with a mix of political theory."""
        group = []
        for unit in communes:
            for position in (CHAIR, DEPUTY):
                leader = self.person(unit, position, born_from=1966)
                roll = self.rng.random()
                level = "thac_si" if roll < 0.1 else "dai_hoc" if roll < 0.9 else "cao_dang"
                leader.quals.append(("education", level, self.rng.choice(LEADER_FIELDS)))
                roll = self.rng.random()
                if roll < 0.15:
                    leader.quals.append(("political_theory", "cao_cap", ""))
                elif roll < 0.75:
                    leader.quals.append(("political_theory", "trung_cap", ""))
                elif roll < 0.9:
                    leader.quals.append(("political_theory", "so_cap", ""))
                self._training(leader, state_management=0.7, digital=0.35, theory=0.0)
                group.append(leader)
        return group

    def _education(self, member: _Person, *, university: bool) -> None:
        rng = self.rng
        if university:
            level = "thac_si" if rng.random() < 0.05 else "dai_hoc"
            member.quals.append(("education", level, rng.choice(CULTURE_FIELDS_UNIVERSITY)))
        else:
            level = "cao_dang" if rng.random() < 0.55 else "trung_cap"
            member.quals.append(("education", level, rng.choice(CULTURE_FIELDS_LOWER)))

    def _training(
        self, member: _Person, *, state_management: float, digital: float, theory: float
    ) -> None:
        rng = self.rng
        if rng.random() < state_management:
            level = "chuyen_vien_chinh" if rng.random() < 0.1 else "chuyen_vien"
            member.quals.append(("state_management", level, ""))
        if rng.random() < digital:
            member.quals.append(("digital_skills", BASIC, ""))
        if rng.random() < theory:
            member.quals.append(("political_theory", rng.choice(("so_cap", "trung_cap")), ""))

    def suggest(
        self, culture: list[_Person], leaders: list[_Person], district: set[int]
    ) -> dict[str, _Person]:
        """Pick the people to play (role → person) and shape their records to fit the role."""
        no_degree = next(
            p for p in culture if p.unit_id in district and p.degree in ("trung_cap", "cao_dang")
        )
        # In Tràng Định, so the district-only course appears; missing most standards.
        no_degree.quals = [q for q in no_degree.quals if q[0] in ("education", "it")]
        meets_all = next(p for p in culture if p.unit_id not in district and p.degree == "dai_hoc")
        meets_all.quals = [
            ("education", "dai_hoc", "Quản lý văn hóa"),
            ("it", BASIC, IT_FIELD),
            ("state_management", "chuyen_vien", ""),
            ("digital_skills", BASIC, ""),
        ]
        chair = next(p for p in leaders if p.position == CHAIR)
        chair.quals = [("education", "dai_hoc", "Luật"), ("political_theory", "trung_cap", "")]
        return {"no_degree": no_degree, "meets_all": meets_all, "chairperson": chair}

    def trainings(self, *, exclude: set[int], full_hours: _Person) -> list[dict[str, Any]]:
        """Training finished this year by some people; `full_hours` gets 40+ hours."""
        first = date(self.today.year, 1, 1)
        span = (self.today - first).days

        def row(person_id: int, title: str, hours: int) -> dict[str, Any]:
            ends = first + timedelta(days=self.rng.randint(0, span))
            starts = max(ends - timedelta(days=max(hours // 8 - 1, 0)), first)
            return {"person_id": person_id, "course_id": None, "title": title, "hours": hours,
                    "starts_on": starts, "ends_on": ends, "certificate_no": None}  # fmt: skip

        rows = []
        # At most 2 × 16 hours each, so only `full_hours` reaches the yearly target.
        short = [t for t in TRAINING_TITLES if t[1] <= 16]
        for member in self.people:
            if member.id in exclude or self.rng.random() > 0.3:
                continue
            for title, hours in self.rng.sample(short, self.rng.randint(1, 2)):
                rows.append(row(member.id, title, hours))
        for index in (5, 0, 3):  # 24 + 16 + 16 hours: above ANNUAL_HOURS
            rows.append(row(full_hours.id, *TRAINING_TITLES[index]))
        return rows

    def courses(
        self, unit_codes: dict[str, int], pool: list[_Person]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
        """Course, session and registration rows; registrants are drawn from `pool`."""
        pool = list(pool)
        self.rng.shuffle(pool)
        courses, sessions, registrations = [], [], []
        for course_id, spec in enumerate(COURSES, 1):
            days = self._days(spec)
            spans = [(_at(d, spec.starts, self.tz), _at(d, _end_of(spec), self.tz)) for d in days]
            if spec.weekends or spec.weekly:
                sessions += [
                    {"course_id": course_id, "starts_at": s, "ends_at": e} for s, e in spans
                ]
            starts_at = spans[0][0]
            deadline = (
                self.now - timedelta(days=1)
                if spec.deadline_passed
                else _at(days[0] - timedelta(days=3), time(17, 0), self.tz)
            )
            if spec.full:
                taken = spec.capacity
            else:
                taken = self.rng.randint(spec.capacity // 8, spec.capacity // 3)
            audience_units = {unit_codes[c] for c in spec.audience.get("units", [])}
            chosen = [p for p in pool if not audience_units or self._under(p, audience_units)]
            chosen = chosen[:taken]
            pool = [p for p in pool if p not in chosen]  # one course each: no clashes
            for seq, member in enumerate(chosen, 1):
                registrations.append({
                    "course_id": course_id,
                    "person_id": member.id,
                    "status": RegistrationStatus.REGISTERED,
                    "queue_seq": seq,
                    "created_at": self.now - timedelta(days=self.rng.randint(1, 6),
                                                       minutes=self.rng.randint(0, 600)),
                    "cancelled_at": None,
                    "promoted_at": None,
                })  # fmt: skip
            kind, level = spec.grants
            courses.append({
                "id": course_id,
                "code": spec.code,
                "title": spec.title,
                "search_text": fold(f"{spec.title} {spec.category} {spec.place}"),
                "category": spec.category,
                "organizer_unit_id": unit_codes[spec.organizer],
                "mode": spec.mode,
                "place": spec.place,
                "link": spec.link,
                "starts_at": starts_at,
                "ends_at": spans[-1][1],
                "capacity": spec.capacity,
                "registration_deadline": deadline,
                "audience": spec.audience,
                "hours": spec.hours,
                "grants_kind": kind,
                "grants_level": level,
                "requires_approval": False,
                "status": CourseStatus.OPEN,
                "queue_seq": len(chosen),
            })  # fmt: skip
        return courses, sessions, registrations

    def _days(self, spec: _CourseSpec) -> list[date]:
        """The course's days: weekdays in a row, weekend days, or one weekday a week."""
        day = self.today + timedelta(days=spec.offset_days)
        if spec.weekends:
            day += timedelta(days=(5 - day.weekday()) % 7)  # the next Saturday
            days: list[date] = []
            while len(days) < spec.days:
                if day.weekday() >= 5:
                    days.append(day)
                day += timedelta(days=1)
            return days
        if spec.weekly:
            day += timedelta(days=(2 - day.weekday()) % 7)  # Wednesdays
            return [day + timedelta(weeks=i) for i in range(spec.days)]
        # Short courses fit in one working week, starting on any day that allows it.
        latest = 5 - spec.days
        if day.weekday() > latest:
            day += timedelta(days=7 - day.weekday())
        return [day + timedelta(days=i) for i in range(spec.days)]

    def _under(self, member: _Person, roots: set[int]) -> bool:
        parents = self._parents or {u["id"]: u["parent_id"] for u in self.units}
        self._parents = parents
        current: int | None = member.unit_id
        while current is not None:
            if current in roots:
                return True
            current = parents[current]
        return False


def _end_of(spec: _CourseSpec) -> time:
    # Weekly afternoons are 3 hours (20 of them make the 60); other days run until 17:00.
    return time(16, 30) if spec.weekly else time(17, 0)


async def build_demo(
    session: AsyncSession, *, now: datetime, tz: ZoneInfo, seed: int = 2024
) -> DemoInfo:
    """Fill an empty, upgraded database with the demo province, people and courses."""
    if (await session.execute(select(func.count()).select_from(Unit))).scalar_one():
        raise ValueError("the demo needs an empty database (units already exist)")
    positions = {
        code: pid for code, pid in await session.execute(select(Position.code, Position.id))
    }
    missing = {CULTURE_SOCIAL, CHAIR, DEPUTY} - positions.keys()
    if missing:
        raise LookupError(f"positions are not seeded (run the migrations): {sorted(missing)}")
    b = _Builder(now=now, tz=tz, seed=seed)
    in_district, others = b.tree()
    culture = b.culture_social(in_district, others)
    led = b.rng.sample(in_district, LEADER_COMMUNES_IN_DISTRICT) + b.rng.sample(
        others, LEADER_COMMUNES - LEADER_COMMUNES_IN_DISTRICT
    )
    leaders = b.leaders(sorted(led))
    suggested = b.suggest(culture, leaders, set(in_district))
    played = {p.id for p in suggested.values()}
    trainings = b.trainings(exclude=played, full_hours=suggested["meets_all"])
    codes = {str(u["code"]): int(u["id"]) for u in b.units}
    courses, sessions, registrations = b.courses(codes, [p for p in b.people if p.id not in played])

    await session.execute(insert(Unit), b.units)
    await session.execute(insert(Person), [_person_row(b, p, positions) for p in b.people])
    await session.execute(
        insert(Qualification),
        [
            {"person_id": p.id, "kind": kind, "level": level, "field": fld,
             "obtained_on": None, "source": "roster"}
            for p in b.people
            for kind, level, fld in p.quals
        ],
    )  # fmt: skip
    await session.execute(insert(TrainingRecord), trainings)
    await session.execute(insert(Secondment), _secondments(b, in_district, others, played))
    await session.execute(insert(TrainingPlan), _plans(b, trainings))
    await session.execute(insert(Course), courses)
    await session.execute(insert(CourseSession), sessions)
    await session.execute(insert(Registration), registrations)
    await session.flush()

    info = DemoInfo(
        units=len(b.units),
        people=len(b.people),
        courses=len(courses),
        suggested=await demo_people(session, now=now, tz=tz),
    )
    log.info("demo built: %d units, %d people, %d courses", info.units, info.people, info.courses)
    return info


def _secondments(
    b: _Builder, in_district: list[int], others: list[int], played: set[int]
) -> list[dict[str, Any]]:
    """A few people of other communes seconded or rotated into the district (Mường Ảng's
    kind of arrangement), reviewed every 3 or 6 months; a separate generator, so the rest
    of the demo stays as it was."""
    rng = random.Random(len(b.people))
    homes = set(others)
    pool = [p for p in b.people if p.unit_id in homes and p.id not in played]
    rows = []
    for n, member in enumerate(rng.sample(pool, min(DEMO_SECONDMENTS, len(pool)))):
        starts = b.today - timedelta(days=rng.randint(60, 300))
        rows.append({
            "person_id": member.id, "from_unit_id": member.unit_id,
            "to_unit_id": rng.choice(in_district), "kind": ("rotation", "secondment")[n % 2],
            "starts_on": starts, "ends_on": starts + timedelta(days=730),
            "review_every_months": rng.choice((3, 6)), "decision_no": f"{100 + n}/QĐ-UBND",
            "field_of_work": "Văn hóa - Xã hội",
        })  # fmt: skip
    return rows


def _plans(b: _Builder, trainings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """This year's plan, a little under what the demo people did: for the whole installation
    (an administrator's report) and for the province (a report of its subtree)."""
    done = sum(1 for t in trainings if t["ends_on"].year == b.today.year)
    return [{"year": b.today.year, "unit_id": unit_id, "category": None,
             "participants": max(done * 100 // 106, 1), "courses": None}
            for unit_id in (None, 1)]  # fmt: skip


def _person_row(b: _Builder, p: _Person, positions: dict[str, int]) -> dict[str, Any]:
    joined = b.rng.randint(min(max(p.born.year + 22, 2000), 2022), 2022)
    return {
        "id": p.id,
        "personal_id": p.personal_id,
        "full_name": p.name,
        "date_of_birth": p.born,
        "gender": p.gender,
        # Stored the way linking looks it up, so a shared contact finds the person.
        "phone": normalize_phone(p.phone) or p.phone,
        "unit_id": p.unit_id,
        "position_id": positions[p.position],
        "job_position": None,
        "joined_on": date(joined, b.rng.randint(1, 12), 1),
        "general_education": "12/12",
        "active": True,
    }


async def demo_people(
    session: AsyncSession, *, now: datetime, tz: ZoneInfo
) -> list[DemoPerson]:
    """The people worth playing, found again from their records (also in an older demo file).

    The builder shapes exactly one record per role so that these queries find it.
    """
    positions = {
        code: pid for code, pid in await session.execute(select(Position.code, Position.id))
    }
    district = (
        select(Unit.id)
        .join(parent := aliased(Unit), Unit.parent_id == parent.id)
        .where(parent.code == DISTRICT_CODE)
    )

    def holds(kind: str, levels: Sequence[str] | None = None) -> Exists:
        cond = [Qualification.person_id == Person.id, Qualification.kind == kind]
        if levels is not None:
            cond.append(Qualification.level.in_(levels))
        return exists().where(*cond)

    year = now.astimezone(tz).year
    hours = (
        select(func.coalesce(func.sum(TrainingRecord.hours), 0))
        .where(
            TrainingRecord.person_id == Person.id,
            TrainingRecord.ends_on >= date(year, 1, 1),
            TrainingRecord.ends_on <= date(year, 12, 31),
        )
        .scalar_subquery()
    )
    culture = Person.position_id == positions.get(CULTURE_SOCIAL)
    wanted = {
        "no_degree": [
            culture,
            Person.unit_id.in_(district),
            ~holds("education", UNIVERSITY_LEVELS),
            ~holds("state_management"),
        ],
        "meets_all": [
            culture,
            holds("education", UNIVERSITY_LEVELS),
            holds("state_management"),
            holds("digital_skills"),
            hours >= ANNUAL_HOURS,
        ],
        "chairperson": [Person.position_id == positions.get(CHAIR)],
    }
    found = []
    for role, conditions in wanted.items():
        stmt = (
            select(Person.personal_id, Person.full_name, Person.phone, Unit.name)
            .join(Unit, Unit.id == Person.unit_id)
            .where(Person.active.is_(True), *conditions)
            .order_by(Person.id)
            .limit(1)
        )
        row = (await session.execute(stmt)).first()
        if row is not None:
            found.append(DemoPerson(role, row[0], row[1], row[2] or "", row[3]))
    return found
