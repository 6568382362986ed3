"""HL7 v2 wire level for the HIS adapter: decoding (MSH-18), splitting, escaping,
timestamps, typed errors and ACKs. Message meaning lives in `translate.py`.

Parsing splits on the delimiters declared in MSH-1/MSH-2 instead of building python-hl7's
object tree: python-hl7 costs ~170 µs per ADT message on this machine, the split ~10 µs,
and the ingest budget is 1 ms per message end to end. The tests cross-check every sample
against python-hl7 and validate the messages we build with hl7apy.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import time
from dataclasses import dataclass
from typing import ClassVar

CST = dt.timezone(dt.timedelta(hours=8), "CST")

# MSH-18 spellings seen in Chinese hospitals -> Python codec. GB 18030 decodes GBK and
# GB 2312 too, so all of them map to it. "ASCII" (and no MSH-18) means the default.
_CHARSETS: dict[str, str | None] = {
    "UNICODEUTF8": "utf-8",
    "UTF8": "utf-8",
    "UNICODE": "utf-8",
    "ASCII": None,
    "USASCII": None,
    "GB18030": "gb18030",
    "GB180302000": "gb18030",
    "GB180302005": "gb18030",
    "GBK": "gb18030",
    "GB2312": "gb18030",
    "GB": "gb18030",
    "CHINESE": "gb18030",
    "CP936": "gb18030",
    "EUCCN": "gb18030",
    "88591": "latin-1",
    "ISO88591": "latin-1",
    "BIG5": "big5",
}
# HL7 table 0357 (message error condition codes) used in ERR-3.
_ERROR_TEXT = {
    "0": "Message accepted",
    "100": "Segment sequence error",
    "101": "Required field missing",
    "102": "Data type error",
    "103": "Table value not found",
    "200": "Unsupported message type",
    "201": "Unsupported event code",
    "203": "Unsupported version id",
    "204": "Unknown key identifier",
    "207": "Application internal error",
}
_CHARSET_LABEL = {"utf-8": "UNICODE UTF-8", "gb18030": "GB 18030-2000", "latin-1": "8859/1"}


# ---------------------------------------------------------------------------- errors


@dataclass(frozen=True, slots=True)
class Issue:
    """Something wrong with a message: a stable `code`, where (`PID-3`), and human text."""

    code: str
    location: str
    text: str
    hl7_code: str = "207"  # HL7 table 0357


class HL7Error(Exception):
    """A message the hub cannot take; `ack_code` says how to answer it. Permanent: resending
    the same bytes gives the same error."""

    ack_code: ClassVar[str] = "AE"

    def __init__(self, code: str, text: str, *, location: str = "", hl7_code: str = "207"):
        super().__init__(f"{code}: {text}")
        self.issue = Issue(code, location, text, hl7_code)

    @property
    def code(self) -> str:
        return self.issue.code


class HL7ParseError(HL7Error):
    """Cannot even be read (no MSH, bad delimiters, undecodable bytes) -> AR."""

    ack_code = "AR"


class HL7ContentError(HL7Error):
    """Readable but not usable (unsupported type, missing patient id) -> AE."""

    ack_code = "AE"


# ------------------------------------------------------------------------ wire level


@dataclass(frozen=True, slots=True)
class Message:
    """A split message. `segments[i][n]` is field n of segment i (MSH too: MSH-1 at 1)."""

    segments: tuple[list[str], ...]
    codec: str
    comp: str = "^"
    rep: str = "~"
    esc: str = "\\"
    sub: str = "&"

    def first(self, seg_id: str) -> list[str] | None:
        return next((s for s in self.segments if s[0] == seg_id), None)

    def all(self, seg_id: str) -> list[list[str]]:
        return [s for s in self.segments if s[0] == seg_id]

    def reps(self, value: str) -> list[str]:
        return value.split(self.rep) if value else []

    def comps(self, value: str) -> list[str]:
        return value.split(self.comp)

    def text(self, value: str) -> str:
        """Unescape a leaf value (\\F\\, \\S\\, \\X..\\ ...)."""
        if self.esc not in value:
            return value.strip()
        return _unescape(value, self).strip()


def fld(seg: list[str] | None, n: int) -> str:
    return seg[n] if seg is not None and n < len(seg) else ""


def part(values: list[str], n: int) -> str:
    """Component n (1-based) of an already split value, '' when absent."""
    return values[n - 1] if n <= len(values) else ""


def _unescape(value: str, m: Message) -> str:
    e = re.escape(m.esc)
    simple = {"F": "|", "S": m.comp, "T": m.sub, "R": m.rep, "E": m.esc, ".br": "\n"}

    def one(match: re.Match[str]) -> str:
        seq = match.group(1)
        if seq in simple:
            return simple[seq]
        if seq[:1] == "X" and len(seq) % 2 == 1:
            try:
                return bytes.fromhex(seq[1:]).decode(m.codec)
            except (ValueError, UnicodeDecodeError):
                return ""
        return ""  # highlighting (\H\, \N\) and unknown sequences carry no text

    return re.sub(f"{e}([^{e}]*){e}", one, value)


def escape(value: str) -> str:
    """Escape a value for the default delimiters |^~\\&."""
    if not any(c in value for c in "|^~\\&\r\n"):
        return value
    value = value.replace("\\", "\\E\\").replace("|", "\\F\\").replace("^", "\\S\\")
    value = value.replace("&", "\\T\\").replace("~", "\\R\\")
    return value.replace("\r\n", " ").replace("\r", " ").replace("\n", " ")


def _msh_fields(raw: bytes) -> list[str] | None:
    """The MSH segment split into fields, read leniently (never raises)."""
    start = raw.find(b"MSH")
    if start < 0 or len(raw) < start + 8:
        return None
    end = len(raw)
    for stop in (b"\r", b"\n"):
        i = raw.find(stop, start)
        if 0 <= i < end:
            end = i
    line_b = raw[start:end]
    try:
        line = line_b.decode("utf-8")
    except UnicodeDecodeError:
        line = line_b.decode("gb18030", "replace")
    if len(line) < 5 or line[3] in "\r\n":
        return None
    fs = line[3]
    fields = line.split(fs)
    return [fields[0], fs, *fields[1:]]


def peek_control_id(raw: bytes) -> str:
    """MSH-10 of anything, '' when it cannot be read: the ACK must echo it even for junk."""
    msh = _msh_fields(raw)
    if msh is None or len(msh) <= 10:
        return ""
    return msh[10].split(msh[2][:1] or "^")[0].strip()


def codec_for(charset: str, default: str) -> str:
    """Python codec for an MSH-18 value; unknown or empty -> `default`."""
    key = re.sub(r"[^0-9A-Z]", "", charset.upper())
    return _CHARSETS.get(key) or default


def split(raw: bytes, *, default_encoding: str = "utf-8") -> Message:
    """Decode per MSH-18 and split. Accepts \\r, \\n or \\r\\n between segments."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    raw = raw.strip()
    if not raw:
        raise HL7ParseError("EMPTY_MESSAGE", "the message is empty", hl7_code="100")
    if not raw.startswith(b"MSH") or len(raw) < 8:
        raise HL7ParseError("NO_MSH", "the message does not start with MSH", hl7_code="100")
    msh = _msh_fields(raw)
    if msh is None:
        raise HL7ParseError("BAD_DELIMITERS", "MSH-1/MSH-2 delimiters are missing",
                            location="MSH-1", hl7_code="102")  # fmt: skip
    charset = msh[18].split(msh[2][1:2] or "~")[0] if len(msh) > 18 else ""
    codec = codec_for(charset, default_encoding)
    try:
        text = raw.decode(codec)
    except (UnicodeDecodeError, LookupError) as err:
        label = charset.strip() or f"default {default_encoding}"
        raise HL7ParseError(
            "BAD_ENCODING",
            f"the bytes are not valid {label} ({err.__class__.__name__})",
            location="MSH-18",
            hl7_code="102",
        ) from None
    fs, enc = text[3], msh[2]
    if fs.isalnum() or fs.isspace() or len(enc) < 2 or fs in enc:
        raise HL7ParseError(
            "BAD_DELIMITERS", "MSH-1/MSH-2 delimiters are invalid", location="MSH-2", hl7_code="102"
        )
    segs: list[list[str]] = []
    for line in text.replace("\r\n", "\r").replace("\n", "\r").split("\r"):
        line = line.strip()
        if line:
            segs.append(line.split(fs))
    segs[0] = [segs[0][0], fs, *segs[0][1:]]
    esc = enc[2] if len(enc) > 2 else "\\"
    sub = enc[3] if len(enc) > 3 else "&"
    return Message(tuple(segs), codec, enc[0], enc[1], esc, sub)


_TS = re.compile(r"(\d{4})(\d\d)?(\d\d)?(\d\d)?(\d\d)?(\d\d)?(?:\.\d{1,6})?([+-]\d{4})?")


def parse_ts(value: str, tz: dt.tzinfo = CST) -> dt.datetime | None:
    """HL7 DTM/TS -> aware datetime (local hospital time when no offset is given)."""
    match = _TS.fullmatch(value.split("^")[0].strip()) if value else None
    if match is None:
        return None
    y, mo, d, h, mi, s, off = match.groups()
    if off:
        sign = -1 if off[0] == "-" else 1
        tz = dt.timezone(sign * dt.timedelta(hours=int(off[1:3]), minutes=int(off[3:])))
    try:
        return dt.datetime(
            int(y), int(mo or 1), int(d or 1), int(h or 0), int(mi or 0), int(s or 0), tzinfo=tz
        )
    except ValueError:
        return None


def format_ts(when: dt.datetime) -> str:
    return when.strftime("%Y%m%d%H%M%S") + (when.strftime("%z") if when.tzinfo else "")


_counter = itertools.count()


def new_control_id(prefix: str = "HUB") -> str:
    """Unique enough across restarts (millisecond clock) and within one (counter)."""
    return f"{prefix}{int(time.time() * 1000):x}{next(_counter) % 100000:05d}"


# ---------------------------------------------------------------------- header + ACK


@dataclass(frozen=True, slots=True)
class Header:
    control_id: str  # MSH-10
    message_type: str  # MSH-9.1, e.g. ADT
    event_type: str  # MSH-9.2 (or EVN-1), e.g. A04
    version: str  # MSH-12
    sending_application: str
    sending_facility: str
    receiving_application: str
    receiving_facility: str
    message_time: dt.datetime | None  # MSH-7
    charset: str  # MSH-18 as sent
    codec: str  # how the bytes were decoded


def header_of(m: Message) -> Header:
    msh = m.segments[0]

    def hd(n: int) -> str:
        return m.text(m.comps(fld(msh, n))[0])

    mtype = m.comps(fld(msh, 9))
    event = m.text(part(mtype, 2)) or m.text(m.comps(fld(m.first("EVN"), 1))[0])
    return Header(
        control_id=hd(10),
        message_type=m.text(mtype[0]).upper(),
        event_type=event.upper(),
        version=hd(12),
        sending_application=hd(3),
        sending_facility=hd(4),
        receiving_application=hd(5),
        receiving_facility=hd(6),
        message_time=parse_ts(fld(msh, 7)),
        charset=m.reps(fld(msh, 18))[0] if fld(msh, 18) else "",
        codec=m.codec,
    )


@dataclass(frozen=True, slots=True)
class Ack:
    code: str  # MSA-1: AA / AE / AR (or CA / CE / CR)
    control_id: str  # MSA-2: the control id of the message acknowledged
    text: str  # MSA-3 and ERR user messages
    error_codes: tuple[str, ...] = ()  # our stable codes from ERR-5


def build_ack(
    raw: bytes,
    *,
    error: HL7Error | None = None,
    warnings: tuple[Issue, ...] = (),
    default_encoding: str = "utf-8",
    control_id: str | None = None,
) -> bytes:
    """AA (no error), AE or AR (by the error's class). MSA-2 always echoes the incoming
    MSH-10, '' when even that cannot be read. Warnings ride along as ERR segments with
    severity W so the sender sees unknown codes without the message being refused."""
    msh = _msh_fields(raw) or []
    comp = msh[2][:1] if len(msh) > 2 and msh[2] else "^"
    rep = msh[2][1:2] if len(msh) > 2 and len(msh[2]) > 1 else "~"
    charset = msh[18].split(rep)[0].strip() if len(msh) > 18 else ""
    codec = codec_for(charset, default_encoding)
    # Answer in the sender's own charset and spelling of it: it understood that one.
    label = charset if charset and codec_for(charset, "") else _CHARSET_LABEL.get(codec, "")

    def hd(n: int) -> str:
        return escape(msh[n].split(comp)[0].strip()) if len(msh) > n else ""

    code = "AA" if error is None else error.ack_code
    issues = ((error.issue,) if error else ()) + warnings
    event = msh[9].split(comp)[1] if len(msh) > 9 and len(msh[9].split(comp)) > 1 else ""
    lines = [
        "|".join(
            [
                "MSH",
                "^~\\&",
                hd(5),
                hd(6),
                hd(3),
                hd(4),
                format_ts(dt.datetime.now(CST)),
                "",
                f"ACK^{escape(event.strip())}^ACK",
                control_id or new_control_id("ACK"),
                "P",
                hd(12) or "2.5",
                "",
                "",
                "",
                "",
                "",
                label,
            ]
        ),
        f"MSA|{code}|{escape(peek_control_id(raw))}|{escape(issues[0].text if issues else '')}",
    ]
    for issue in issues:
        seg, _, num = issue.location.partition("-")
        where = f"{seg}^1^{num}" if num else (f"{seg}^1" if seg else "")
        label = _ERROR_TEXT.get(issue.hl7_code, "")
        severity = "W" if issue in warnings else "E"
        # ERR-1 is the v2.3/2.4 form, ERR-2..8 the v2.5 one: receivers read either.
        lines.append(
            f"ERR|{where}^{issue.hl7_code}&{label}&HL70357|{where}|{issue.hl7_code}^{label}^"
            f"HL70357|{severity}|{issue.code}^{escape(issue.text)}|||{escape(issue.text)}"
        )
    return ("\r".join(lines) + "\r").encode(codec, "replace")


def parse_ack(raw: bytes, *, default_encoding: str = "utf-8") -> Ack:
    """Read an ACK (or any message with an MSA, such as RRI^I12)."""
    m = split(raw, default_encoding=default_encoding)
    msa = m.first("MSA")
    if msa is None:
        raise HL7ContentError("MISSING_SEGMENT", "no MSA segment", location="MSA", hl7_code="100")
    codes = tuple(m.text(m.comps(fld(err, 5))[0]) for err in m.all("ERR"))
    texts = [m.text(fld(msa, 3))] + [m.text(fld(err, 8)) for err in m.all("ERR")]
    return Ack(
        code=m.text(fld(msa, 1)).upper(),
        control_id=m.text(fld(msa, 2)),
        text="; ".join(dict.fromkeys(t for t in texts if t)),
        error_codes=tuple(c for c in codes if c),
    )
