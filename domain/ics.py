"""An iCalendar file for a course, so a phone's calendar can remind the person too."""

from __future__ import annotations

from datetime import UTC, datetime

from storage.models import Course


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _fold(line: str) -> str:
    # RFC 5545: lines longer than 75 octets continue on the next line after a space.
    out, current = [], b""
    for ch in line:
        encoded = ch.encode()
        if len(current) + len(encoded) > 73:
            out.append(current.decode())
            current = b""
        current += encoded
    out.append(current.decode())
    return "\r\n ".join(out)


def course_ics(course: Course, *, now: datetime, domain: str = "boiduong.bot") -> bytes:
    spans = [(s.starts_at, s.ends_at) for s in course.sessions] or [
        (course.starts_at, course.ends_at)
    ]
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//boiduong//training bot//VI"]
    for index, (start, end) in enumerate(spans, 1):
        lines += [
            "BEGIN:VEVENT",
            f"UID:course-{course.id}-{index}@{domain}",
            f"DTSTAMP:{_stamp(now)}",
            f"DTSTART:{_stamp(start)}",
            f"DTEND:{_stamp(end)}",
            f"SUMMARY:{_escape(course.title)}",
        ]
        where = course.place or course.link
        if where:
            lines.append(f"LOCATION:{_escape(where)}")
        if course.link:
            lines.append(f"URL:{course.link}")
        lines.append("END:VEVENT")
    lines.append("END:VCALENDAR")
    return ("\r\n".join(_fold(line) for line in lines) + "\r\n").encode()
