"""Normalisation of linkage fields, case by case."""

from __future__ import annotations

import datetime as dt

import pytest

from hub.registry.idnumber import IdProblem
from hub.registry.normalize import (
    DateRelation,
    PhoneKind,
    clean_identifier,
    date_relation,
    is_day_month_swap,
    is_one_digit_typo,
    normalize_address,
    normalize_id,
    normalize_name,
    normalize_phone,
    normalize_sex,
    parse_date,
    strip_admin_prefix,
)

# ---------------------------------------------------------------- ID numbers


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("33038119840729490x", "33038119840729490X"),  # lower-case x
        (" 440113 20240311 3742", "440113202403113742"),  # spaces
        ("４４０１１３２０２４０３１１３７４２", "440113202403113742"),  # full-width
        ("330381451119030", "330381194511190301"),  # 15 -> 18 digits
        # region code newer than the birth year (番禺区 since 2000): still valid
        ("440113199807201939", "440113199807201939"),
    ],
)
def test_id_numbers_normalised_and_valid(raw: str, value: str) -> None:
    number = normalize_id(raw)
    assert number.valid
    assert number.value == value


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("330381918504154669", IdProblem.BAD_CHECK_DIGIT),  # transposed digits
        ("33038119850415466", IdProblem.BAD_FORMAT),  # a digit missing
        ("330381198513454660", None),  # month 13: BAD_BIRTH_DATE or BAD_FORMAT
        ("", IdProblem.EMPTY),
        (None, IdProblem.EMPTY),
    ],
)
def test_invalid_id_numbers_kept_and_flagged(raw: str | None, problem: IdProblem | None) -> None:
    number = normalize_id(raw)
    assert not number.valid
    if problem is not None:
        assert number.problem is problem
    if raw:
        assert number.value  # kept (cleaned) for comparison, never as an identifier


def test_clean_identifier() -> None:
    assert clean_identifier(" 4401-1391 8797 445 ") == "440113918797445"
    assert clean_identifier("  ") is None
    assert clean_identifier(None) is None


# ---------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ("魏 琳萱", "魏琳萱"),
        ("錢萱怡", "钱萱怡"),  # traditional -> simplified
        ("孔轩國", "孔轩国"),
        ("买买提·艾力", "买买提艾力"),
        ("阿依古丽•买买提", "阿依古丽买买提"),
        ("方静（儿童）", "方静"),  # remark in brackets
        ("ＷＡＮＧ Ｆａｎｇ", "wangfang"),  # full-width Latin
    ],
)
def test_name_text(raw: str, text: str) -> None:
    assert normalize_name(raw).text == text


def test_homophones_share_pinyin() -> None:
    assert normalize_name("张伟").pinyin == normalize_name("章伟").pinyin == "zhang wei"
    assert normalize_name("张霞").pinyin == normalize_name("张侠").pinyin
    assert normalize_name("张伟").text != normalize_name("章伟").text


@pytest.mark.parametrize(
    ("name", "pinyin"),
    [
        ("曾文", "zeng wen"),
        ("单田芳", "shan tian fang"),
        ("解晓东", "xie xiao dong"),
        ("仇英", "qiu ying"),
        ("区志强", "ou zhi qiang"),
        ("朴正", "piao zheng"),
        ("覃平鹏", "qin ping peng"),
        ("欧阳娜娜", "ou yang na na"),
        ("万俟林", "mo qi lin"),
    ],
)
def test_surname_readings(name: str, pinyin: str) -> None:
    assert normalize_name(name).pinyin == pinyin


def test_loose_pinyin_folds_dialect_confusions() -> None:
    assert normalize_name("张三").loose == normalize_name("赞三").loose
    assert normalize_name("刘宁").loose == normalize_name("牛林").loose
    assert normalize_name("张伟").initials == "zw"


@pytest.mark.parametrize(
    ("raw", "parent", "sex"),
    [
        ("李娜之子", "李娜", "1"),
        ("李娜之女", "李娜", "2"),
        ("孙瑶阳之子", "孙瑶阳", "1"),
        ("李娜之女2", "李娜", "2"),
        ("王芳婴儿", "王芳", None),
        ("王芳之男婴", "王芳", "1"),
        ("李娜儿子", "李娜", "1"),
        ("李娜之女儿", "李娜", "2"),
    ],
)
def test_newborn_placeholder_names(raw: str, parent: str, sex: str | None) -> None:
    name = normalize_name(raw)
    assert name.is_placeholder
    assert name.placeholder_parent == parent
    assert name.placeholder_sex == sex


@pytest.mark.parametrize("raw", ["王子", "李宝宝", "陈国女", "张之", "李娜", "王儿", "张女儿红"])
def test_real_names_are_not_placeholders(raw: str) -> None:
    assert not normalize_name(raw).is_placeholder


def test_empty_name() -> None:
    assert normalize_name(None).text == ""
    assert normalize_name(" · ").text == ""


# ---------------------------------------------------------------- phones


@pytest.mark.parametrize(
    ("raw", "value", "kind"),
    [
        ("13843646974", "13843646974", PhoneKind.MOBILE),
        ("+86 138 4364 6974", "13843646974", PhoneKind.MOBILE),
        ("008613843646974", "13843646974", PhoneKind.MOBILE),
        ("+86-13843646974", "13843646974", PhoneKind.MOBILE),
        ("138-4364-6974", "13843646974", PhoneKind.MOBILE),
        ("020-34019378", "02034019378", PhoneKind.LANDLINE),
        ("(020)34019378", "02034019378", PhoneKind.LANDLINE),
        ("（020）34019378", "02034019378", PhoneKind.LANDLINE),
        ("02034019378", "02034019378", PhoneKind.LANDLINE),
        ("020 3401 9378", "02034019378", PhoneKind.LANDLINE),
        ("+86 20 3401 9378", "02034019378", PhoneKind.LANDLINE),
        ("0579-87654321", "057987654321", PhoneKind.LANDLINE),
        ("020-34019378-123", "02034019378", PhoneKind.LANDLINE),
        ("020-34019378转123", "02034019378", PhoneKind.LANDLINE),
        ("34019378", "34019378", PhoneKind.LOCAL),
        ("13843646974/020-34019378", "13843646974", PhoneKind.MOBILE),
        ("无，020-34019378", "02034019378", PhoneKind.LANDLINE),
        ("12345", "12345", PhoneKind.INVALID),
        ("12843646974", "12843646974", PhoneKind.INVALID),  # no mobile starts 12
    ],
)
def test_phones(raw: str, value: str, kind: PhoneKind) -> None:
    phone = normalize_phone(raw)
    assert phone is not None
    assert (phone.value, phone.kind) == (value, kind)


def test_landline_local_part() -> None:
    phone = normalize_phone("020-34019378")
    assert phone is not None and phone.local == "34019378"
    phone = normalize_phone("0579-87654321")
    assert phone is not None and phone.local == "87654321"


def test_missing_phone() -> None:
    assert normalize_phone(None) is None
    assert normalize_phone(" - ") is None


# ---------------------------------------------------------------- addresses


@pytest.mark.parametrize(
    "raw",
    [
        "安阳街道市桥路61号5栋1110",
        "温州市瑞安市 安阳街道 市桥路61号 5栋1110",
        "温州安阳街道市桥路61号5幢1110",
        "浙江省温州市瑞安市安阳街道市桥路６１号５座１１１０室",
        "瑞安安阳街道市桥路61号5号楼1110",
        "温州市瑞安市安阳街道市桥路六十一号五栋1110",
    ],
)
def test_address_variants_normalise_alike(raw: str) -> None:
    address = normalize_address(raw)
    assert address is not None
    assert address.text == "安阳街道市桥路61号5栋1110"
    assert address.township == "安阳街道"
    assert address.street == "市桥路61号"
    assert address.unit == "5栋1110"
    assert address.key == "市桥路61号5栋1110"


def test_city_short_name_before_a_township_starting_with_shi() -> None:
    # 广州 + 市桥街道, not 广州市 + 桥街道
    address = normalize_address("广州市桥街道育才路92号1幢2254")
    assert address is not None
    assert address.text == "市桥街道育才路92号1栋2254"
    assert address.street == "育才路92号"


def test_short_names_not_stripped_from_township() -> None:
    # 西城 is also a district (北京西城区); here it is the township 西城街道
    address = normalize_address("金华西城街道大北路190号17幢559")
    assert address is not None
    assert address.text == "西城街道大北路190号17栋559"


def test_address_keys_by_road_kind() -> None:
    for raw, street in [
        ("广州市番禺区石碁镇兴业大道265号21栋1720", "兴业大道265号"),
        ("广州桥南街道新华街8号5幢1261", "新华街8号"),
        ("北京市朝阳区建国路８８号三号楼2单元301", "建国路88号"),
    ]:
        address = normalize_address(raw)
        assert address is not None and address.street == street


def test_address_without_street_number() -> None:
    address = normalize_address("广东省广州市番禺区大石街道")
    assert address is not None
    assert address.text == "大石街道" and address.street is None and address.key is None
    assert normalize_address("") is None


def test_strip_admin_prefix() -> None:
    assert strip_admin_prefix("广东省广州市番禺区市桥街道") == "市桥街道"
    assert strip_admin_prefix("金华市永康市花街镇") == "花街镇"
    assert strip_admin_prefix("广州路10号") == "广州路10号"


# ---------------------------------------------------------------- birth dates


@pytest.mark.parametrize(
    "raw",
    ["1990-03-05", "1990/3/5", "1990.03.05", "19900305", "1990年3月5日", "05/03/1990",
     "1990-03-05 00:00:00", "１９９０－０３－０５"],
)  # fmt: skip
def test_parse_date_formats(raw: str) -> None:
    assert parse_date(raw) == dt.date(1990, 3, 5)


@pytest.mark.parametrize("raw", ["", "unknown", "1990-02-30", "0000-00-00", None])
def test_parse_date_unusable(raw: str | None) -> None:
    assert parse_date(raw) is None


def test_day_month_swap() -> None:
    assert is_day_month_swap(dt.date(2001, 7, 3), dt.date(2001, 3, 7))
    assert not is_day_month_swap(dt.date(2001, 7, 7), dt.date(2001, 7, 7))
    assert not is_day_month_swap(dt.date(2001, 7, 3), dt.date(2002, 3, 7))


def test_one_digit_typo() -> None:
    assert is_one_digit_typo(dt.date(2019, 10, 13), dt.date(2019, 10, 14))
    assert is_one_digit_typo(dt.date(1985, 4, 15), dt.date(1985, 4, 11))
    # two adjacent digits exchanged: 1985 -> 1958
    assert is_one_digit_typo(dt.date(1985, 4, 15), dt.date(1958, 4, 15))
    assert not is_one_digit_typo(dt.date(1985, 4, 15), dt.date(1985, 5, 14))
    assert not is_one_digit_typo(dt.date(1985, 4, 15), dt.date(1985, 4, 15))


def test_date_relation() -> None:
    d = dt.date(2020, 6, 11)
    assert date_relation(d, d) is DateRelation.EXACT
    assert date_relation(d, dt.date(2020, 11, 6)) is DateRelation.SWAP
    assert date_relation(d, dt.date(2020, 6, 12)) is DateRelation.TYPO
    assert date_relation(d, dt.date(1960, 1, 1)) is DateRelation.DIFFERENT


def test_sex_codes() -> None:
    assert normalize_sex("1") == "1"
    assert normalize_sex(2) == "2"
    assert normalize_sex("女") == "2"
    assert normalize_sex("0") is None
    assert normalize_sex("9") is None
    assert normalize_sex(None) is None
