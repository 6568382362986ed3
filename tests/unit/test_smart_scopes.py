"""SMART patient scopes: what a requested scope string grants, and the hub scopes a SMART
token holds on GraphQL (never more than its FHIR types allow)."""

from __future__ import annotations

from hub.access import smart
from hub.access.principal import Scope


def test_v1_and_v2_forms_grant_the_same_reads() -> None:
    v1 = smart.parse("patient/Patient.read")
    v2 = smart.parse("patient/Patient.rs")
    for s in (v1, v2):
        assert s.allows("Patient", "r") and s.allows("Patient", "s")
        assert not s.allows("Patient", "c") and not s.reads("Immunization")
    only_read = smart.parse("patient/Patient.r")
    assert only_read.allows("Patient", "r") and not only_read.allows("Patient", "s")


def test_what_is_not_granted_is_dropped() -> None:
    s = smart.parse("openid fhirUser offline_access user/*.read system/*.read launch/patient "
                    "patient/Observation.rs?category=laboratory patient/*.sr patient/x.read")  # fmt: skip
    assert s.granted == ("launch/patient",)  # granular, wrong-order and unknown forms too
    assert not smart.has_resource_scope(s)


def test_hub_scopes_need_every_fhir_type_they_reach() -> None:
    assert smart.parse("patient/*.read").hub_scopes() == {
        Scope.RESIDENTS_READ, Scope.CONTRACTS_READ, Scope.REFERRALS_READ}  # fmt: skip
    assert smart.parse("patient/Patient.read").hub_scopes() == frozenset()
    assert Scope.CONTRACTS_WRITE in smart.parse("patient/*.cruds").hub_scopes()
    both = smart.parse("patient/Contract.read patient/EpisodeOfCare.rs")
    assert both.hub_scopes() == {Scope.CONTRACTS_READ}


def test_the_table_covers_every_fhir_type_of_a_delegable_read_scope() -> None:
    from hub.access.resident_tokens import DELEGABLE
    from hub.fhir.repository import TYPES

    for td in TYPES.values():
        if td.scope in DELEGABLE and td.scope.endswith(":read"):
            assert td.name in smart.READS[td.scope], (td.name, td.scope)
