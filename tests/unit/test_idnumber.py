"""GB 11643 ID numbers: normalisation and validation, case by case."""

import datetime as dt

import pytest

from hub.registry.idnumber import IdProblem, contradictions, make, parse


def test_the_standard_example_is_valid() -> None:
    n = parse("11010519491231002X")
    assert (
        n.valid and n.birth_date == dt.date(1949, 12, 31) and n.sex == "2" and n.region == "110105"
    )


@pytest.mark.parametrize(
    "raw",
    [
        "11010519491231002x",
        " 110105 19491231 002X ",
        "１１０１０５１９４９１２３１００２Ｘ",
        "110105-19491231-002X",
    ],
)
def test_spacing_case_and_full_width_are_normalised(raw: str) -> None:
    assert parse(raw).value == "11010519491231002X"


def test_15_digit_numbers_are_upgraded() -> None:
    n = parse("110105491231002")
    assert n.valid and n.value == "11010519491231002X"


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("110105194912310021", IdProblem.BAD_CHECK_DIGIT),
        ("11010519491331002X", IdProblem.BAD_CHECK_DIGIT),
        ("1101051949123100", IdProblem.BAD_FORMAT),
        ("", IdProblem.EMPTY),
        (None, IdProblem.EMPTY),
    ],
)
def test_invalid_numbers_are_kept_and_flagged(raw: str | None, problem: IdProblem) -> None:
    n = parse(raw)
    assert not n.valid and n.problem == problem and n.birth_date is None


def test_impossible_birth_date_with_a_right_check_digit() -> None:
    body = "11010519490231002"  # 31 February
    from hub.registry.idnumber import check_char

    assert parse(body + check_char(body)).problem == IdProblem.BAD_BIRTH_DATE


def test_contradictions_with_the_record() -> None:
    n = parse(make("440113", dt.date(1980, 5, 6), 11))  # odd: male
    assert contradictions(n, birth_date=dt.date(1980, 5, 6), sex="1") == []
    assert contradictions(n, birth_date=dt.date(1980, 6, 5), sex="2") == ["birthDate", "sex"]
    assert contradictions(n, birth_date=None, sex="0") == []
