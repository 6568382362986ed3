"""Normalisation of the fields record linkage compares (标准化).

Each function takes what a source system sent and returns a small frozen value that
is cheap to compare: ID numbers (身份证号), names (姓名) with a pinyin key, phones
(手机/座机), addresses (住址) with a street+number key, and birth dates (出生日期).
Nothing here raises on bad input: unusable values come back empty or flagged.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from hub.registry.idnumber import IdNumber, IdProblem, parse

# ---------------------------------------------------------------------------
# Fillers: what a clerk types when the value is unknown. Kept as received, but never
# compared: two strangers both "不详" at "000000000000000000" share nothing.

UNKNOWN_TEXT = frozenset({
    "不详", "无", "未知", "暂无", "不明", "空", "无名氏", "未填", "待定", "待补", "测试", "其他",
    "null", "none", "nan", "n/a", "na", "unknown", "test", "-", "--", "/", ".", "0",
})  # fmt: skip
# Patterns of the hot paths, compiled once (every record passes through them).
_NON_DIGIT = re.compile(r"\D")
_DIGIT_GROUP = re.compile(r"\d+")
_DIGIT_RUN = re.compile(r"(\d)\1{6,}")
_CHAR_RUN = re.compile(r"(.)\1{6,}")
_IDENTIFIER_SEPARATORS = re.compile(r"[\s\-_.·/]")
_PHONE_LIST = re.compile(r"[/,;、|]")
_EXTENSION = re.compile(r"(?:转|ext\.?|x)\s*\d+$", re.I)
_MOBILE = re.compile(r"1[3-9]\d{9}")
_LOCAL = re.compile(r"[2-9]\d{6,7}")
_ADDRESS_PUNCTUATION = re.compile(r"[\s,，。、:：;；\"'“”]")
_ROOM_SUFFIX = re.compile(r"(\d+)(?:室|房)$")
_UNIT_WORD = re.compile(r"(\d+)单元")
_TOWN_WORDS = re.compile(r"街道|镇|乡|社区|村委会?|区")
_NOT_UNIT = re.compile(r"[^\d\-栋层]")
_DATE_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})(?:\D|$)")
# Numbers callers give when they have none (China Mobile's service line among them).
_FILLER_NUMBERS = frozenset({"13800138000", "12345678901", "10086", "10010", "110", "120"})


def is_filler_number(value: str, *, sequences: bool = True) -> bool:
    """A run of one digit (0000000…), few distinct digits, or (`sequences`) a counting run
    no ID number can contain (its date part breaks any run of seven)."""
    digits = _NON_DIGIT.sub("", value)
    if not digits or digits in _FILLER_NUMBERS:
        return True
    if len(set(digits)) <= 2 or _DIGIT_RUN.search(digits):
        return True
    runs = ("1234567", "2345678", "3456789", "9876543", "7654321")
    return sequences and any(run in digits for run in runs)


# ---------------------------------------------------------------------------
# ID numbers


def normalize_id(raw: str | None) -> IdNumber:
    """Parse an ID number with `idnumber.parse` (structure, check character, birth date; no
    region-code list: codes are those of the issuing office and change over time). An
    invalid number is kept, flagged, and compared but never trusted; a filler (000000…,
    123456…) or a number of the wrong length is not an ID number at all."""
    number = parse(raw)
    if number.problem is not None and (
        not 14 <= len(number.value) <= 19 or is_filler_number(number.value)
    ):
        return IdNumber(number.raw, "", IdProblem.EMPTY)
    return number


def clean_identifier(raw: str | None) -> str | None:
    """Cards and record numbers (医保卡号, 健康档案号): half-width, no separators, upper."""
    if raw is None:
        return None
    value = _IDENTIFIER_SEPARATORS.sub("", unicodedata.normalize("NFKC", raw)).upper()
    if len(value) < 4 or len(set(value)) <= 2 or _CHAR_RUN.search(value):
        return None  # "0000", "AAAAAAAA": a filler
    if any(run in value for run in ("1234567", "2345678", "3456789", "9876543", "7654321")):
        return None
    return value


# ---------------------------------------------------------------------------
# Names

_T2S: dict[int, str] | None = None


def _t2s_table() -> dict[int, str]:
    """Traditional -> simplified, character by character (opencc's TSCharacters).

    Names are not phrases, so a per-character table is enough and ~10x cheaper than
    running the opencc converter on every record.
    """
    global _T2S
    if _T2S is None:
        import os

        import opencc

        path = os.path.join(os.path.dirname(opencc.__file__), "dictionary", "TSCharacters.txt")
        table: dict[int, str] = {}
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                parts = line.rstrip("\n").split("\t")
                if len(parts) == 2 and len(parts[0]) == 1:
                    target = parts[1].split(" ")[0]
                    if len(target) == 1:
                        table[ord(parts[0])] = target
        _T2S = table
    return _T2S


def to_simplified(text: str) -> str:
    """繁体 -> 简体 for names and addresses (錢萱怡 -> 钱萱怡)."""
    return text.translate(_t2s_table())


# Surnames whose reading differs from the character's everyday reading (多音字姓氏).
_SURNAME_READINGS: dict[str, str] = {
    "曾": "zeng", "单": "shan", "解": "xie", "仇": "qiu", "区": "ou", "朴": "piao",
    "查": "zha", "盖": "ge", "缪": "miao", "乐": "yue", "覃": "qin", "尉": "yu",
    "翟": "zhai", "召": "shao", "宿": "su", "柏": "bai", "阚": "kan", "句": "gou",
    "能": "nai", "殷": "yin", "隗": "wei", "冼": "xian", "折": "she", "都": "du",
    "藏": "zang", "臧": "zang", "牟": "mu", "沈": "shen", "石": "shi", "叶": "ye",
    "种": "chong", "秘": "bi", "员": "yun", "长": "chang", "重": "chong", "万": "wan",
    "繁": "po", "过": "guo", "燕": "yan", "华": "hua", "任": "ren", "纪": "ji",
    "祭": "zhai", "郇": "huan", "洗": "xian", "谌": "chen", "薄": "bo", "贲": "ben",
    "相": "xiang", "朝": "chao", "校": "xiao", "雍": "yong", "应": "ying", "粘": "nian",
    "蕃": "pi", "瞿": "qu", "便": "pian", "晟": "cheng", "弓": "gong", "车": "che",
}  # fmt: skip

_COMPOUND_SURNAMES: dict[str, str] = {
    "欧阳": "ou yang", "司马": "si ma", "上官": "shang guan", "诸葛": "zhu ge",
    "东方": "dong fang", "皇甫": "huang fu", "尉迟": "yu chi", "公孙": "gong sun",
    "慕容": "mu rong", "令狐": "ling hu", "宇文": "yu wen", "长孙": "zhang sun",
    "司徒": "si tu", "夏侯": "xia hou", "轩辕": "xuan yuan", "端木": "duan mu",
    "西门": "xi men", "独孤": "du gu", "南宫": "nan gong", "万俟": "mo qi",
    "闻人": "wen ren", "澹台": "tan tai", "公冶": "gong ye", "申屠": "shen tu",
    "太叔": "tai shu", "钟离": "zhong li", "百里": "bai li", "呼延": "hu yan",
    "赫连": "he lian", "拓跋": "tuo ba", "第五": "di wu", "左丘": "zuo qiu",
    "濮阳": "pu yang", "宗政": "zong zheng", "单于": "chan yu", "司空": "si kong",
}  # fmt: skip

# Southern/dialect confusions typists make (平翘舌, 前后鼻音, n/l, f/h): a looser key.
_LOOSE = [
    (re.compile(r"\b(z|c|s)h"), r"\1"),
    (re.compile(r"\bl"), "n"),
    (re.compile(r"\bhu(?=[aeiou]|n\b)"), "f"),
    (re.compile(r"ng\b"), "n"),
]

_NAME_DROP = re.compile(r"[\s·•・‧.．,，'\"`“”‘’_\-]")
_NAME_REMARK = re.compile(r"[(（\[【].*?[)）\]】]|[(（\[【].*$")
# 李娜之子 / 李娜之女 / 李娜婴儿 / 李娜之子2: a newborn registered before naming.
_PLACEHOLDER = re.compile(
    r"^(?P<parent>[\u3400-\u9fff]{2,4}?)"
    r"(?:之(?P<kind1>长子|次子|儿子|子|长女|次女|女儿|女|儿|婴|婴儿|男婴|女婴|大宝|二宝|小宝|宝宝|孩)"
    r"|(?P<kind2>儿子|女儿|男婴|女婴|婴儿|新生儿|宝宝))"
    r"(?:[0-9一二三]|[甲乙丙])?$"
)


_NAMELESS = frozenset({"男婴", "女婴", "婴儿", "新生儿", "宝宝", "男孩", "女孩", "之子", "之女",
                       "婴", "男", "女", "患者", "病人"})  # fmt: skip


@dataclass(frozen=True, slots=True)
class Name:
    """A person's name, normalised.

    text: NFKC, simplified characters, no spaces, dots (·) or remarks in brackets.
    pinyin: tone-less, space-separated, surname read as a surname (曾 zeng, 单 shan),
        so homophones (张伟/章伟) share it. loose: pinyin with dialect confusions folded.
    placeholder_parent / placeholder_sex: for a newborn's stand-in name (李娜之子) the
        parent's name and the sex the suffix implies ('1' 子, '2' 女, None unknown).
    """

    text: str
    pinyin: str
    loose: str
    initials: str
    placeholder_parent: str | None = None
    placeholder_sex: str | None = None

    @property
    def is_placeholder(self) -> bool:
        return self.placeholder_parent is not None

    @property
    def surname(self) -> str:
        return self.pinyin.split(" ", 1)[0] if self.pinyin else ""


EMPTY_NAME = Name("", "", "", "")


def normalize_name(raw: str | None) -> Name:
    """Normalise a Chinese (or Latin-script) personal name; never raises."""
    if not raw:
        return EMPTY_NAME
    return _normalize_name(raw)


@lru_cache(maxsize=65536)
def _normalize_name(raw: str) -> Name:
    text = unicodedata.normalize("NFKC", raw)
    text = _NAME_REMARK.sub("", text)
    text = to_simplified(_NAME_DROP.sub("", text)).lower()
    if not text or text in UNKNOWN_TEXT:
        return EMPTY_NAME
    sex: str | None = None
    if text in _NAMELESS:  # 男婴: a newborn with neither name nor parent named
        sex = "1" if "男" in text else "2" if "女" in text else None
        return Name("", "", "", "", placeholder_sex=sex)
    parent: str | None = None
    m = _PLACEHOLDER.match(text)
    if m:
        parent = m.group("parent")
        kind = m.group("kind1") or m.group("kind2") or ""
        sex = "1" if ("子" in kind or "男" in kind) else "2" if "女" in kind else None
    py = name_pinyin(text)
    return Name(
        text=text,
        pinyin=py,
        loose=loose_pinyin(py),
        initials="".join(s[0] for s in py.split(" ") if s),
        placeholder_parent=parent,
        placeholder_sex=sex,
    )


@lru_cache(maxsize=8192)
def _char_pinyin(ch: str) -> str:
    table = _pinyin_table()
    if ch in table:
        return table[ch]
    from pypinyin import lazy_pinyin

    return lazy_pinyin(ch)[0].lower()


_PINYIN: dict[str, str] | None = None


def _pinyin_table() -> dict[str, str]:
    """CJK character -> its first reading, tone-less (what `lazy_pinyin(ch)` returns).

    Importing pypinyin costs ~0.3 s, most of a short `hub link` run's start-up, so the
    table is derived once and kept in var/cache (marshal, ~5 ms to load), keyed by the
    installed dictionary file."""
    global _PINYIN
    if _PINYIN is not None:
        return _PINYIN
    import importlib.util
    import marshal
    import os
    from pathlib import Path

    spec = importlib.util.find_spec("pypinyin")
    where = list(spec.submodule_search_locations or [""]) if spec is not None else [""]
    source = Path(where[0]) / "pinyin_dict.py"
    try:
        st = source.stat()
        cache = (Path(__file__).resolve().parents[2] / "var" / "cache"
                 / f"pinyin-{st.st_size}-{int(st.st_mtime)}.marshal")  # fmt: skip
        _PINYIN = marshal.loads(cache.read_bytes())
        return _PINYIN
    except (OSError, ValueError, EOFError, TypeError):
        pass
    from pypinyin.pinyin_dict import pinyin_dict

    table: dict[str, str] = {}
    for cp, readings in pinyin_dict.items():
        if 0x3400 <= cp <= 0x9FFF:
            first = unicodedata.normalize("NFD", readings.split(",")[0])
            plain = "".join(c for c in first if not unicodedata.combining(c) or c == "\u0308")
            table[chr(cp)] = unicodedata.normalize("NFC", plain).replace("ü", "v").lower()
    _PINYIN = table
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(marshal.dumps(table))
        os.replace(tmp, cache)
    except (OSError, NameError):
        pass  # a read-only checkout: derive it each time
    return table


def name_pinyin(text: str) -> str:
    """Tone-less pinyin of a (simplified) name, reading the surname as a surname."""
    if not text:
        return ""
    head = _COMPOUND_SURNAMES.get(text[:2])
    if head is not None:
        rest = text[2:]
    else:
        head = _SURNAME_READINGS.get(text[0]) or _char_pinyin(text[0])
        rest = text[1:]
    # Latin letters come back from pypinyin as one run; keep them per character.
    return " ".join([head, *(_char_pinyin(c) for c in rest)])


def loose_pinyin(pinyin: str) -> str:
    for pattern, repl in _LOOSE:
        pinyin = pattern.sub(repl, pinyin)
    return pinyin


# ---------------------------------------------------------------------------
# Phones


class PhoneKind(StrEnum):
    MOBILE = "MOBILE"  # 手机
    LANDLINE = "LANDLINE"  # 座机, with area code (区号)
    LOCAL = "LOCAL"  # 座机 without area code
    INVALID = "INVALID"


@dataclass(frozen=True, slots=True)
class Phone:
    """value: digits only; mobile 11 digits, landline area code + number (02034019378)."""

    value: str
    kind: PhoneKind

    @property
    def usable(self) -> bool:
        return self.kind is not PhoneKind.INVALID

    @property
    def local(self) -> str:
        """The subscriber number without area code, to compare a LOCAL with a LANDLINE."""
        if self.kind is PhoneKind.LANDLINE:
            return self.value[3:] if self.value[1] in "12" else self.value[4:]
        return self.value


_LANDLINE = re.compile(r"0(?:[12]\d{9}|[3-9]\d{9,10})")


def normalize_phone(raw: str | None) -> Phone | None:
    """Mobile 1[3-9]xxxxxxxxx with optional +86/0086; landline 020-34019378,
    (020)34019378, 020 3401 9378, 02034019378; an extension (转123, -123) is dropped."""
    if not raw:
        return None
    text = unicodedata.normalize("NFKC", raw).strip()
    if _PHONE_LIST.search(text):  # "138..../020-...": the first usable one
        for part in _PHONE_LIST.split(text):
            phone = normalize_phone(part)
            if phone is not None and phone.usable:
                return phone
    text = _EXTENSION.split(text)[0]
    digits = _NON_DIGIT.sub("", text)
    if not digits:
        return None
    if text.startswith("+86") or digits.startswith("0086"):
        digits = digits[2:] if text.startswith("+") else digits[4:]
        if not digits.startswith("1"):
            digits = "0" + digits  # +86 20 3401 9378: the trunk 0 is dropped abroad
    elif len(digits) == 13 and digits.startswith("861"):
        digits = digits[2:]
    if is_filler_number(digits, sequences=False):
        return Phone(digits, PhoneKind.INVALID)
    if _MOBILE.fullmatch(digits):
        return Phone(digits, PhoneKind.MOBILE)
    # Landline with an extension written as a dash suffix: 020-34019378-123.
    if _LANDLINE.fullmatch(digits):
        return Phone(digits, PhoneKind.LANDLINE)
    parts = _DIGIT_GROUP.findall(text)
    if len(parts) >= 3 and parts[0].startswith("0") and len(parts[-1]) <= 4:
        without_extension = "".join(parts[:-1])
        if _LANDLINE.fullmatch(without_extension):
            return Phone(without_extension, PhoneKind.LANDLINE)
    if _LOCAL.fullmatch(digits):
        return Phone(digits, PhoneKind.LOCAL)
    return Phone(digits, PhoneKind.INVALID)


# ---------------------------------------------------------------------------
# Addresses

_ADMIN_SUFFIXES = (
    "自治区",
    "自治州",
    "自治县",
    "特别行政区",
    "地区",
    "省",
    "市",
    "区",
    "县",
    "盟",
    "旗",
)
# After a short form (温州, 番禺) these mean the short form was part of a longer name.
_NOT_AFTER_SHORT = ("街道", "镇", "乡", "路", "街", "道", "村", "巷", "里", "大道", "社区")


@lru_cache(maxsize=1)
def _admin_names() -> tuple[frozenset[str], frozenset[str], int]:
    """Province/city/county names (GB/T 2260) from python-stdnum's table, full and short."""
    import os

    import stdnum

    path = os.path.join(os.path.dirname(stdnum.__file__), "cn", "loc.dat")
    full: set[str] = set()
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            for value in re.findall(r'(?:province|county)="([^"]*)"', line):
                for name in value.split(","):
                    name = re.sub(r"^\[[^\]]*\]", "", name).strip()
                    if len(name) >= 2 and not name.startswith(("市辖", "省直辖", "县")):
                        full.add(name)
    short: set[str] = set()
    for name in full:
        for suffix in _ADMIN_SUFFIXES:
            if name.endswith(suffix) and len(name) - len(suffix) >= 2:
                stem = name[: -len(suffix)]
                # 广西壮族自治区 -> 广西; 恩施土家族苗族自治州 -> 恩施
                stem = re.sub(r"(?:[\u4e00-\u9fff]{1,2}族)+$", "", stem) or stem
                if len(stem) >= 2:
                    short.add(stem)
                break
    return frozenset(full), frozenset(short), max(map(len, full))


_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
              "六": 6, "七": 7, "八": 8, "九": 9}  # fmt: skip


def _cn_number(text: str) -> str:
    """一 .. 九十九 -> digits (三十二 -> 32), for building/number positions."""
    if "十" not in text:
        return "".join(str(_CN_DIGITS[c]) for c in text)
    tens, _, ones = text.partition("十")
    return str((_CN_DIGITS[tens] if tens else 1) * 10 + (_CN_DIGITS[ones] if ones else 0))


_CN_NUM = re.compile(r"([零〇一二两三四五六七八九十]{1,3})(?=号|栋|幢|座|单元|层|楼|室)")
_BUILDING = re.compile(r"(\d+)(?:号楼|栋|幢|座|#楼|#)")
_STREET = re.compile(
    r"(?P<road>[\u4e00-\u9fffA-Za-z0-9]{1,12}?(?:大道|大街|路|街|巷|弄|道|里|村))"
    r"(?P<no>\d+(?:-\d+)?)号"
)
_TOWNSHIP = re.compile(r"^(?P<town>.{2,8}?(?:街道|镇|乡))")
_STUNTED_TOWN = re.compile(r"^[\u4e00-\u9fff](?:街道|镇|乡)")


@dataclass(frozen=True, slots=True)
class Address:
    """A home address, normalised.

    text: without province/city/district prefixes, half-width, no spaces, 幢/座/号楼 as 栋.
    township: 乡镇(街道) when recognisable. street: road + number (市桥路61号).
    unit: building and room (5栋1110). key: street + unit, the household's address.
    """

    text: str
    township: str | None = None
    street: str | None = None
    unit: str | None = None

    @property
    def key(self) -> str | None:
        if self.street is None:
            return None
        return self.street + (self.unit or "")


def strip_admin_prefix(text: str) -> str:
    """Drop leading 省/市/区/县 names, with or without suffix (广东省广州市番禺区, 温州)."""
    full, short, _ = _admin_names()
    sizes_by_head = _admin_sizes()
    stop = _NOT_AFTER_SHORT + _ADMIN_SUFFIXES
    for _ in range(4):
        # Longest first, and only the lengths some name starting like the text has.
        for size in sizes_by_head.get(text[:2], ()):
            if size > len(text) - 2:
                continue
            head = text[:size]
            if head in full:
                # 广州市桥街道 is 广州 + 市桥街道: keep the 市 when the rest would
                # leave a one-character township.
                if _STUNTED_TOWN.match(text[size:]) and head[:-1] in short:
                    size -= 1
                text = text[size:]
                break
            if head in short and not text[size:].startswith(stop):
                text = text[size:]
                break
        else:
            return text
    return text


@lru_cache(maxsize=1)
def _admin_sizes() -> dict[str, tuple[int, ...]]:
    """First two characters -> the lengths (longest first) of the names starting so."""
    full, short, _ = _admin_names()
    sizes: dict[str, set[int]] = {}
    for name in full | short:
        sizes.setdefault(name[:2], set()).add(len(name))
    return {head: tuple(sorted(found, reverse=True)) for head, found in sizes.items()}


def normalize_address(raw: str | None) -> Address | None:
    if not raw:
        return None
    return _normalize_address(raw)


@lru_cache(maxsize=65536)  # a household's members share an address, often written alike
def _normalize_address(raw: str) -> Address | None:
    text = to_simplified(unicodedata.normalize("NFKC", raw))
    text = _ADDRESS_PUNCTUATION.sub("", text)
    text = text.replace("中国", "", 1) if text.startswith("中国") else text
    text = _CN_NUM.sub(lambda m: _cn_number(m.group(1)), text)
    text = _BUILDING.sub(r"\1栋", text)
    text = _ROOM_SUFFIX.sub(r"\1", text)
    text = _UNIT_WORD.sub(r"\1-", text)
    text = strip_admin_prefix(text)
    if len(text) < 2 or text.lower() in UNKNOWN_TEXT or text.startswith(("不详", "无固定", "未知")):
        return None
    town = _TOWNSHIP.match(text)
    township = town.group("town") if town else None
    street = unit = None
    found = list(_STREET.finditer(text))
    if found:
        m = found[-1]
        road = m.group("road")
        # The road match may swallow the township; keep only what follows it.
        road = _TOWN_WORDS.split(road)[-1] or road
        street = f"{road}{m.group('no')}号"
        unit = _NOT_UNIT.sub("", text[m.end() :]) or None
    return Address(text=text, township=township, street=street, unit=unit)


# ---------------------------------------------------------------------------
# Birth dates


def _safe_date(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


_DATE_YMD = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")
_DATE_DMY = re.compile(r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})$")


def parse_date(raw: str | dt.date | None) -> dt.date | None:
    """1990-03-05, 1990/3/5, 1990.03.05, 19900305, 1990年3月5日, 05/03/1990 (day first,
    the Chinese-systems export habit); a time part is ignored. None when unusable."""
    if raw is None:
        return None
    if isinstance(raw, dt.datetime):
        return raw.date()
    if isinstance(raw, dt.date):
        return raw
    text = unicodedata.normalize("NFKC", raw).strip()
    if not text:
        return None
    if m := _DATE_YMD.match(text):
        return _safe_date(int(m[1]), int(m[2]), int(m[3]))
    if m := _DATE_COMPACT.match(text):
        return _safe_date(int(m[1]), int(m[2]), int(m[3]))
    if m := _DATE_DMY.match(text):
        return _safe_date(int(m[3]), int(m[2]), int(m[1])) or _safe_date(
            int(m[3]), int(m[1]), int(m[2])
        )
    return None


class DateRelation(StrEnum):
    EXACT = "EXACT"
    SWAP = "SWAP"  # day and month exchanged (03-05 vs 05-03)
    TYPO = "TYPO"  # one digit wrong, two adjacent digits exchanged, or a day apart
    DIFFERENT = "DIFFERENT"


def ymd(d: dt.date) -> str:
    """YYYYMMDD, zero-padded even for a mistyped year like 0985 (strftime is not)."""
    return f"{d.year:04d}{d.month:02d}{d.day:02d}"


def is_day_month_swap(a: dt.date, b: dt.date) -> bool:
    return a != b and a.year == b.year and a.month == b.day and a.day == b.month


def is_one_digit_typo(a: dt.date, b: dt.date) -> bool:
    """YYYYMMDD differ in exactly one digit, or by one adjacent transposition."""
    x, y = ymd(a), ymd(b)
    diff = [i for i in range(8) if x[i] != y[i]]
    if len(diff) == 1:
        return True
    return (
        len(diff) == 2 and diff[1] == diff[0] + 1 and x[diff[0]] == y[diff[1]]
        and x[diff[1]] == y[diff[0]]
    )  # fmt: skip


def date_relation(a: dt.date, b: dt.date) -> DateRelation:
    if a == b:
        return DateRelation.EXACT
    if is_day_month_swap(a, b):
        return DateRelation.SWAP
    if is_one_digit_typo(a, b) or abs((a - b).days) == 1:
        # A day apart: midnight local time exported as UTC lands on the day before.
        return DateRelation.TYPO
    return DateRelation.DIFFERENT


def normalize_sex(raw: str | int | None) -> str | None:
    """GB/T 2261.1: '1' male, '2' female; 0/9/anything else -> None (unknown)."""
    if raw is None:
        return None
    text = unicodedata.normalize("NFKC", str(raw)).strip().upper()
    if text in ("1", "M", "男"):
        return "1"
    if text in ("2", "F", "女"):
        return "2"
    return None
