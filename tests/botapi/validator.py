"""Check Bot API calls against the published spec, refusing them the way Telegram does.

Everything that can be read from the spec is: methods, parameter and field names, which are
required, their types (recursively through nested objects), "N-M characters/bytes" limits,
"At most N" list sizes and "exactly/at most one of the fields other than ..." rules. What the
spec only states in prose elsewhere (HTML parse mode, BotCommand's alphabet, Telegram's exact
error texts) is hard-coded here.

Two deliberate differences from Telegram: unknown parameters are refused (Telegram ignores them;
we want our own typos caught), and in HTML a bare "&" is refused (Telegram keeps it literally, but
its documentation says to escape it, and a bare "&" usually means user data went unescaped).
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

from bot.offline import BotAPIError, utf16_len

SPEC_PATH = Path(__file__).with_name("telegram-bot-api-10.1.json")
PRIMITIVES = frozenset({"Integer", "Float", "Boolean", "String", "InputFile"})

_LENGTH = re.compile(r"(\d+)-(\d+) (characters|bytes)")
_MAX_ITEMS = re.compile(r"At most (\d+) [\w ]+ can be specified|up to (\d+) items")
_ONE_OF = re.compile(r"(Exactly|At most) one of the fields other than (.+?) must be used")
_DISCRIMINATOR = re.compile(r"(?:must be|always) \"?([a-z_]+)\"?")
# Telegram's own wording for limits its spec states only as numbers: (owner, field) -> texts for
# (too short or empty, too long).
_LIMIT_ERRORS = {
    ("sendMessage", "text"): ("message text is empty", "message is too long"),
    ("editMessageText", "text"): ("message text is empty", "message is too long"),
    ("InlineKeyboardButton", "callback_data"): ("BUTTON_DATA_INVALID", "BUTTON_DATA_INVALID"),
    ("BotCommand", "command"): ("BOT_COMMAND_INVALID", "BOT_COMMAND_INVALID"),
    ("BotCommand", "description"): (
        "BOT_COMMAND_DESCRIPTION_INVALID",
        "BOT_COMMAND_DESCRIPTION_INVALID",
    ),
    ("answerCallbackQuery", "text"): ("MESSAGE_TOO_LONG", "MESSAGE_TOO_LONG"),
}
_TOO_MANY_ERRORS = {("setMyCommands", "commands"): "BOT_COMMANDS_TOO_MUCH"}
# "Can contain only lowercase English letters, digits and underscores" (BotCommand.command).
_BOT_COMMAND = re.compile(r"[a-z0-9_]+")

# HTML parse mode, from the Bot API's "HTML style" section (not part of the JSON spec).
_HTML_TAGS = frozenset(
    "b strong i em u ins s strike del span tg-spoiler a code pre blockquote tg-emoji".split()
)
_ENTITY = re.compile(r"&(?:#([0-9]{1,7})|#[xX]([0-9a-fA-F]{1,6})|(lt|gt|amp|quot));")
_ENTITY_CHARS = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)([^<>]*)>")
_ATTR = re.compile(
    r"""\s*([a-zA-Z][a-zA-Z0-9-]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?\s*"""
)
_ATTRS = re.compile(rf"(?:{_ATTR.pattern})*\s*")
_TIME_FORMAT = re.compile(r"r|w?[dD]?[tT]?")  # date-time entity formatting


def _bad(description: str) -> BotAPIError:
    return BotAPIError(400, f"Bad Request: {description}")


def _is_upload(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("content"), bytes)


@functools.cache
def load_spec(path: Path = SPEC_PATH) -> dict[str, Any]:
    spec: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return spec


class SpecValidator:
    """`validator(method, params)` raises BotAPIError for a call Telegram would refuse."""

    def __init__(self, spec_path: Path = SPEC_PATH) -> None:
        spec = load_spec(spec_path)
        self.version: str = spec.get("version", "")
        self.methods: dict[str, dict[str, Any]] = {n.lower(): m for n, m in spec["methods"].items()}
        self.types: dict[str, dict[str, Any]] = spec["types"]
        entity_kinds = " ".join(
            f["description"] for f in self.types["MessageEntity"]["fields"] if f["name"] == "type"
        )
        # <tg-time> is the HTML form of date_time entities: allowed once the spec has them.
        self.html_tags = _HTML_TAGS | ({"tg-time"} if '"date_time"' in entity_kinds else set())

    def canonical(self, method: str) -> str | None:
        spec = self.methods.get(method.lower())
        return spec["name"] if spec else None

    # -- decoding form values, as the Bot API server does by field type --------------------------

    def decode(self, method: str, raw: dict[str, Any]) -> dict[str, Any]:
        spec = self.methods.get(method.lower())
        fields = {f["name"]: f["types"] for f in spec.get("fields", [])} if spec else {}
        return {
            name: self._decode_one(name, value, fields[name])
            if isinstance(value, str) and name in fields
            else value
            for name, value in raw.items()
        }

    @staticmethod
    def _decode_one(name: str, value: str, types: list[str]) -> Any:
        if types == ["Boolean"] and value.lower() in ("true", "false", "1", "0"):
            return value.lower() in ("true", "1")
        if "Integer" in types and re.fullmatch(r"-?\d+", value):
            return int(value)
        if "Float" in types and re.fullmatch(r"-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?", value):
            return float(value)
        if "String" in types or all(t in PRIMITIVES for t in types):
            return value
        try:
            return json.loads(value)
        except ValueError:
            raise _bad(f"can't parse {name} JSON object") from None

    # -- checking a call -------------------------------------------------------------------------

    def __call__(self, method: str, params: dict[str, Any]) -> None:
        spec = self.methods.get(method.lower())
        if spec is None:
            raise BotAPIError(404, "Not Found")
        self._check_object(spec["name"], spec.get("fields", []), params, "", is_method=True)

    def _check_object(
        self,
        owner: str,
        fields: list[dict[str, Any]],
        value: dict[str, Any],
        where: str,
        *,
        is_method: bool = False,
    ) -> None:
        known = {f["name"]: f for f in fields}
        for name in value:
            if name not in known:
                what = "parameter" if is_method else f"field of {owner}"
                raise _bad(f"unknown {what} {where}{name}")
        for field in fields:
            if field["required"] and value.get(field["name"]) is None:
                if (owner, field["name"]) in _LIMIT_ERRORS:
                    raise _bad(_LIMIT_ERRORS[owner, field["name"]][0])
                raise _bad(f"{where}{field['name']} is required")
        for name, item in value.items():
            if item is not None:
                self._check_field(owner, known[name], item, value, f"{where}{name}")

    def _check_field(
        self, owner: str, field: dict[str, Any], value: Any, siblings: dict[str, Any], where: str
    ) -> None:
        types: list[str] = field["types"]
        description: str = field["description"]
        if _is_upload(value) and "attach://" in description:
            return  # InputMedia.media and friends: a file uploaded in the same request
        self._check_union(value, types, where)
        if field["name"] == "parse_mode" and value:
            self._parse_mode(value)
        if isinstance(value, str) and (limit := _LENGTH.search(description)):
            low, high, unit = int(limit[1]), int(limit[2]), limit[3]
            if "after entit" in description:
                text = self.plain_text(value, siblings.get("parse_mode"))
                size = 0 if not text.strip() else utf16_len(text)
            else:
                size = len(value.encode()) if unit == "bytes" else utf16_len(value)
            if not low <= size <= high:
                texts = _LIMIT_ERRORS.get((owner, field["name"]))
                if texts is None and size > high and field["name"] == "caption":
                    texts = ("", "message caption is too long")
                if texts is None:
                    raise _bad(f"{where} must be {low}-{high} {unit} long, not {size}")
                raise _bad(texts[0] if size < low else texts[1])
        if isinstance(value, list) and (most := _MAX_ITEMS.search(description)):
            limit_items = int(most[1] or most[2])
            if len(value) > limit_items:
                default = f"too many items in {where} (at most {limit_items})"
                raise _bad(_TOO_MANY_ERRORS.get((owner, field["name"]), default))

    def _check_union(self, value: Any, types: list[str], where: str) -> None:
        fitting = [t for t in types if self._fits(value, t)]
        if not fitting:
            raise _bad(f"{where} must be {' or '.join(types)}, not {type(value).__name__}")
        objects = [t for t in fitting if t not in PRIMITIVES and not t.startswith("Array of ")]
        if len(objects) < 2:
            self._check_type(value, fitting[0], where)
            return
        # Several object types fit (reply_markup): the one whose required fields are all present.
        complete = [t for t in objects if self._required(t) <= set(value)]
        errors: list[BotAPIError] = []
        for candidate in complete or objects:
            try:
                self._check_type(value, candidate, where)
                return
            except BotAPIError as exc:
                errors.append(exc)
        raise errors[0]

    @staticmethod
    def _fits(value: Any, type_name: str) -> bool:
        if type_name == "Integer":
            return isinstance(value, int) and not isinstance(value, bool)
        if type_name == "Float":
            return isinstance(value, int | float) and not isinstance(value, bool)
        if type_name == "Boolean":
            return isinstance(value, bool)
        if type_name == "String":
            return isinstance(value, str)
        if type_name == "InputFile":
            return _is_upload(value)
        if type_name.startswith("Array of "):
            return isinstance(value, list)
        return isinstance(value, dict) and not _is_upload(value)

    def _required(self, type_name: str) -> set[str]:
        return {f["name"] for f in self.types[type_name].get("fields", []) if f["required"]}

    def _check_type(self, value: Any, type_name: str, where: str) -> None:
        if type_name.startswith("Array of "):
            inner = type_name.removeprefix("Array of ")
            for i, item in enumerate(value):
                if isinstance(item, str) and self._string_allowed(inner):
                    continue
                self._check_union(item, [inner], f"{where}[{i}]")
            return
        if type_name in PRIMITIVES:
            return
        spec = self.types[type_name]
        if "subtypes" in spec:
            self._check_type(value, self._subtype(spec, value, where), where)
            return
        self._check_object(type_name, spec.get("fields", []), value, f"{where}.")
        self._check_one_of(spec, value, where)
        if type_name == "BotCommand" and not _BOT_COMMAND.fullmatch(value["command"]):
            raise _bad("BOT_COMMAND_INVALID")
        # Not in the spec's text: Telegram refuses an inline keyboard without buttons (or with
        # an empty row) instead of showing the message without one.
        if type_name == "InlineKeyboardMarkup" and (
            not value["inline_keyboard"] or not all(value["inline_keyboard"])
        ):
            raise _bad("REPLY_MARKUP_INVALID")

    def _string_allowed(self, type_name: str) -> bool:
        """KeyboardButton: 'For simple text buttons, String can be used instead of this object'."""
        spec = self.types.get(type_name, {})
        return "String can be used instead" in " ".join(spec.get("description", []))

    def _subtype(self, spec: dict[str, Any], value: dict[str, Any], where: str) -> str:
        for name in spec["subtypes"]:
            fields = self.types.get(name, {}).get("fields", [])
            if not fields:
                continue
            key = fields[0]["name"]
            expected = _DISCRIMINATOR.search(fields[0]["description"])
            if expected and value.get(key) == expected[1]:
                return str(name)
        raise _bad(f"{where} is not any of {', '.join(spec['subtypes'])}")

    @staticmethod
    def _check_one_of(spec: dict[str, Any], value: dict[str, Any], where: str) -> None:
        rule = _ONE_OF.search(" ".join(spec.get("description", [])))
        if rule is None:
            return
        passive = set(re.split(r",\s*(?:and\s+)?|\s+and\s+", rule[2]))
        actions = sorted(set(value) - passive)
        if rule[1] == "Exactly" and not actions:
            raise _bad(f"can't parse {spec['name']} {where}: Text buttons are unallowed here")
        if len(actions) > 1:
            raise _bad(f"can't parse {spec['name']} {where}: more than one of {actions}")

    # -- text ------------------------------------------------------------------------------------

    @staticmethod
    def _parse_mode(mode: str) -> None:
        if mode.lower() in ("markdown", "markdownv2"):
            raise _bad(f"parse_mode {mode} is not implemented by the stand-in; use HTML")
        if mode.lower() != "html":
            raise _bad(f"unsupported parse_mode {mode}")

    def plain_text(self, text: str, parse_mode: str | None) -> str:
        """The message text after entity parsing (HTML is checked strictly on the way)."""
        if not parse_mode:
            return text
        self._parse_mode(parse_mode)
        return self.parse_html(text)

    def parse_html(self, text: str) -> str:
        out: list[str] = []
        stack: list[str] = []
        i = 0
        while i < len(text):
            char = text[i]
            if char == "&":
                entity = _ENTITY.match(text, i)
                if entity is None:
                    raise _html_error('Character "&" must be escaped as "&amp;"', text, i)
                out.append(_decode_entity(entity, text, i))
                i = entity.end()
            elif char != "<":
                out.append(char)
                i += 1
            else:
                tag = _TAG.match(text, i)
                if tag is None:
                    raise _html_error('Unsupported start tag ""', text, i)
                closing, name, attributes = tag[1], tag[2].lower(), tag[3]
                if closing:
                    _close_tag(stack, name, attributes, text, i)
                else:
                    self._open_tag(stack, name, attributes, text, i)
                i = tag.end()
        if stack:
            raise _bad(
                f"can't parse entities: Can't find end tag corresponding to start tag "
                f'"{stack[-1]}"'
            )
        return "".join(out)

    def _open_tag(self, stack: list[str], name: str, raw: str, text: str, at: int) -> None:
        if name not in self.html_tags or raw.rstrip().endswith("/"):
            raise _html_error(f'Unsupported start tag "{name}"', text, at)
        attrs: dict[str, str] = {}
        for attr in _ATTR.finditer(raw):
            value = next((v for v in attr.groups()[1:] if v is not None), "")
            attrs[attr[1].lower()] = _ENTITY.sub(lambda m: _decode_entity(m, text, at), value)
        if not _ATTRS.fullmatch(raw):
            raise _html_error(f'Can\'t parse attributes of tag "{name}"', text, at)
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise _html_error('Tag "span" must have class "tg-spoiler"', text, at)
        if name == "a" and not attrs.get("href"):
            raise _html_error('Tag "a" must have attribute "href"', text, at)
        if name == "tg-emoji" and not attrs.get("emoji-id", "").isdigit():
            raise _html_error("Invalid custom emoji identifier specified", text, at)
        if name == "tg-time" and (
            not re.fullmatch(r"\d+", attrs.get("unix", ""))
            or not _TIME_FORMAT.fullmatch(attrs.get("format", ""))
        ):
            raise _html_error('Tag "tg-time" needs a valid "unix" time and "format"', text, at)
        stack.append(name)


def _close_tag(stack: list[str], name: str, raw: str, text: str, at: int) -> None:
    if raw.strip():
        raise _html_error(f'Unexpected attributes in end tag "{name}"', text, at)
    if not stack:
        raise _html_error(f'Unexpected end tag "{name}"', text, at)
    if stack[-1] != name:
        raise _html_error(
            f'Unmatched end tag, expected "</{stack[-1]}>", found "</{name}>"', text, at
        )
    stack.pop()


def _decode_entity(entity: re.Match[str], text: str, at: int) -> str:
    decimal, hexadecimal, named = entity.groups()
    if named:
        return _ENTITY_CHARS[named]
    code = int(decimal) if decimal else int(hexadecimal, 16)
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        raise _html_error(f"Invalid character reference {entity[0]}", text, at)
    return chr(code)


def _html_error(what: str, text: str, at: int) -> BotAPIError:
    offset = len(text[:at].encode())
    return _bad(f"can't parse entities: {what} at byte offset {offset}")
