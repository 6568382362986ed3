"""The immunization system's XML read safely: bombs and external entities refused unexpanded,
GBK decoded, bad subjects refused with a code naming the field, unknown codes kept."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

import pytest

from adapters.immunization import simulator, translate
from hub.registry.idnumber import make


def _subject(**child: str) -> ET.Element:
    s = ET.Element("Subject", id="S1", version="1", updated="2026-01-01T08:00:00+08:00")
    attrs = {"name": "王子涵", "sex": "1", "birthDate": "2025-03-01",
             "birthCertificateNo": "Q330000001", **child}  # fmt: skip
    ET.SubElement(s, "Child", **attrs)
    ET.SubElement(s, "Guardian", name="李佳怡", idNumber=make("330784", dt.date(1995, 5, 1), 302),
                  relation="mother", phone="13900000000")  # fmt: skip
    ET.SubElement(s, "Vaccination", id="S1-01", code="0101", dose="1", date="2025-03-01",
                  traceCode="1" * 20)  # fmt: skip
    ET.SubElement(s, "Vaccination", id="S1-02", code="9999", date="2025-04-01")
    return s


def test_a_subject_is_read_with_its_doses_guardian_and_unknown_codes_kept():
    m = translate.read(translate.canonical(_subject()))
    assert m.problem is None and m.control_id == "S1:v1"
    body = m.body
    assert body.child["birth_date"] == dt.date(2025, 3, 1)
    assert body.guardian["relation"] == "mother"
    assert [v.vaccine for v in body.vaccinations] == ["HepB", None]
    assert body.vaccinations[1].local_code == "9999" and m.warnings == (
        "UNKNOWN_VACCINE_CODE 9999",
    )


@pytest.mark.parametrize(
    ("child", "code", "where"),
    [
        ({"birthDate": "2025/03/01"}, "BAD_DATE", "Child/@birthDate"),
        ({"name": ""}, "MISSING_FIELD", "Child/@name"),
        ({"idNumber": "330784202503010010"}, "INVALID_ID_NUMBER", "Child/@idNumber"),
        ({"sex": "M"}, "UNKNOWN_CODE", "Child/@sex"),
    ],
)
def test_a_bad_subject_is_refused_naming_the_field(child, code, where):
    m = translate.read(translate.canonical(_subject(**child)))
    assert m.problem is not None and (m.problem.code, m.problem.location) == (code, where)


def test_a_bad_traceability_code_is_refused():
    s = _subject()
    s.find("Vaccination").set("traceCode", "123")
    m = translate.read(translate.canonical(s))
    assert m.problem.code == "BAD_VALUE" and m.problem.location == "Vaccination[1]/@traceCode"


@pytest.mark.parametrize(("raw", "code"), [
    (simulator.BOMB, "FORBIDDEN_XML"),
    (simulator.XXE, "FORBIDDEN_XML"),
    (simulator.BROKEN, "BAD_XML"),
    (b'<?xml version="1.0" encoding="x-unknown"?><a/>', "BAD_ENCODING"),
])  # fmt: skip
def test_unsafe_or_broken_documents_are_refused_unexpanded(raw, code):
    with pytest.raises(translate.XmlRefused) as info:
        translate.parse_document(raw)
    assert info.value.code == code
    m = translate.read(raw)
    assert m.problem.code == code and m.problem.reply == "AR"
    assert "root:" not in m.problem.text  # /etc/passwd was never read into the error


def test_a_gbk_declared_page_is_decoded_and_split():
    root = ET.Element("VaccinationChanges", next="7", hasMore="false")
    root.append(_subject())
    raw = ET.tostring(root, encoding="GBK", xml_declaration=True)
    assert b"GBK" in raw[:60] and "王子涵".encode("gbk") in raw
    page = translate.split(translate.parse_document(raw))
    assert page.next_cursor == "7" and not page.has_more
    assert translate.read(page.subjects[0]).body.child["name"] == "王子涵"


def test_a_document_declared_gbk_that_is_not_is_refused():
    raw = b'<?xml version="1.0" encoding="GBK"?><VaccinationChanges>\xff\xff</VaccinationChanges>'
    with pytest.raises(translate.XmlRefused) as info:
        translate.parse_document(raw)
    assert info.value.code == "BAD_ENCODING"
