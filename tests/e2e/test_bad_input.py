"""Bad input over real HTTP: a 4xx with a stable code, fast — never a 500 or a hang."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from hub.ids import MAX_ID
from hub.registry.idnumber import make
from schema.relay import encode_cursor, to_global_id
from tests.conftest import Api, LiveServer, create_client_token

MB = 1_048_576
HUGE = str(2**64)


@pytest.fixture(scope="module")
def api(live: LiveServer, db_url: str) -> Api:
    return Api(live.url, create_client_token(db_url, "bad-input", ["admin"]))


def post(api: Api, body: bytes | Any, **headers: str) -> httpx.Response:
    return api.http.post(
        "/graphql", content=body, headers={"content-type": "application/json", **headers}
    )


def code(response: httpx.Response) -> str:
    return response.json()["errors"][0]["extensions"]["code"]


def codes(body: dict[str, Any]) -> set[str]:
    return {e.get("extensions", {}).get("code") for e in body.get("errors") or []}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"null", "BAD_REQUEST"),
        (b"1", "BAD_REQUEST"),
        (b'"hello"', "BAD_REQUEST"),
        (b"[]", "BAD_REQUEST"),
        (b'[{"query": "{ __typename }"}]', "BAD_REQUEST"),
        (b'{"query": 1}', "BAD_REQUEST"),
        (b'{"variables": {}}', "BAD_REQUEST"),
        (b'{"query": "{ __typename }", "variables": [1]}', "BAD_REQUEST"),
        (b'{"query": "{ __typename }", "variables": "x"}', "BAD_REQUEST"),
        (b'{"query": "{ __typename }", "operationName": 5}', "BAD_REQUEST"),
        (b'{"query": ', "MALFORMED_JSON"),
        (b"", "MALFORMED_JSON"),
        (b'{"query": "{ __typename }"} trailing', "MALFORMED_JSON"),
        (b'{"query": "' + "测试".encode("gbk") + b'"}', "INVALID_UTF8"),
        (b"\xff\xfe\x00", "INVALID_UTF8"),
        (
            b'{"query": "{ __typename }", "variables": {"n": ' + b"9" * 5000 + b"}}",
            "MALFORMED_JSON",
        ),
    ],
)
def test_malformed_bodies_get_400_with_a_code(api: Api, body: bytes, expected: str) -> None:
    response = post(api, body)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert code(response) == expected


def test_a_valid_body_still_works(api: Api) -> None:
    assert api("{ __typename }") == {"__typename": "Query"}
    response = post(api, b'{"query": "{ __typename }", "variables": null}')
    assert response.status_code == 200 and response.json()["data"]["__typename"] == "Query"


def test_not_json_is_415(api: Api) -> None:
    response = api.http.post("/graphql", content=b"query=x", headers={"content-type": "text/plain"})
    assert response.status_code == 415 and code(response) == "UNSUPPORTED_MEDIA_TYPE"


def test_deep_nesting_is_refused_fast(api: Api) -> None:
    depth = 100_000
    body = (
        b'{"query": "query($v: String) { __typename }", "variables": {"v": '
        + b"[" * depth
        + b"]" * depth
        + b"}}"
    )
    started = time.monotonic()
    response = post(api, body)
    elapsed = time.monotonic() - started
    assert response.status_code == 400 and code(response) == "TOO_DEEP"
    assert elapsed < 1.0
    objects = b'{"query": "{ __typename }", "variables": {"v": ' + b'{"a":' * 70 + b"1" + b"}" * 72
    assert code(post(api, objects)) == "TOO_DEEP"
    # 64 levels, the limit, are fine (then GraphQL says what is wrong with the variables)
    ok = b'{"query": "{ __typename }", "variables": {"v": ' + b"[" * 60 + b"]" * 60 + b"}}"
    assert post(api, ok).status_code == 200


def _health_meanwhile(base: str, seen: list[float]) -> None:
    started = time.monotonic()
    response = httpx.get(f"{base}/health", timeout=5)
    assert response.text == "ok"
    seen.append(time.monotonic() - started)


def _upload_outcome(fn: Any) -> tuple[int | None, str]:
    """(status, code) of an oversized upload; the server may close before all is sent."""
    try:
        response = fn()
    except (httpx.WriteError, httpx.RemoteProtocolError, httpx.ReadError):
        return None, "closed"
    return response.status_code, code(response)


def test_a_50mb_body_is_refused_by_its_content_length(api: Api, live: LiveServer) -> None:
    body = b'{"query": "' + b"x" * (50 * MB) + b'"}'
    seen: list[float] = []
    health = threading.Thread(target=_health_meanwhile, args=(live.url, seen))
    health.start()
    started = time.monotonic()
    status, err = _upload_outcome(lambda: post(api, body))
    health.join()
    assert (status, err) == (413, "BODY_TOO_LARGE")
    assert time.monotonic() - started < 5 and seen and seen[0] < 2
    # any path: refused by the header before a byte of the body is read
    fhir = api.http.post("/fhir/Patient", content=b"x" * (2 * MB))
    assert fhir.status_code == 413 and code(fhir) == "BODY_TOO_LARGE"


def test_a_chunked_body_is_cut_off_at_the_limit(api: Api, live: LiveServer) -> None:
    sent: list[int] = []
    seen: list[float] = []

    def chunks() -> Iterator[bytes]:
        yield b'{"query": "'
        for i in range(50):  # 50 MB in 1 MB chunks, if the server read them all
            if i == 1:
                _health_meanwhile(live.url, seen)  # the server answers others meanwhile
            sent.append(i)
            yield b"x" * MB
        yield b'"}'

    status, err = _upload_outcome(lambda: post(api, chunks()))
    assert status in (413, None), err
    if status == 413:
        assert err == "BODY_TOO_LARGE"
    assert seen and seen[0] < 2
    assert api("{ __typename }")  # and still serves


def test_huge_ids_are_not_found_not_500(api: Api, live: LiveServer) -> None:
    for raw in (HUGE, str(MAX_ID + 1), "0", "-1", "１２", "1_0", " 1"):
        body = api.raw("query($id: ID!) { resident(id: $id) { id } }", {"id": raw}).json()
        assert body["data"] == {"resident": None}, body
        assert codes(body) <= {"NOT_FOUND", "INVALID_ID"}, body
        node = api(
            "query($id: ID!) { node(id: $id) { id } }", {"id": to_global_id("Resident", raw)}
        )
        assert node == {"node": None}
        for kind in ("Contract", "Referral"):
            gid = to_global_id(kind, raw)
            assert api("query($id: ID!) { node(id: $id) { id } }", {"id": gid}) == {"node": None}
    gid = to_global_id("Resident", MAX_ID)
    assert api("query($id: ID!) { node(id: $id) { id } }", {"id": gid}) == {"node": None}
    for raw in (HUGE, "99999999999999999999999", str(MAX_ID + 1), "-1", "0x10", "1e3"):
        response = api.http.get(f"/fhir/Patient/{raw}")
        assert response.status_code == 404, (raw, response.text)
        assert response.json()["resourceType"] == "OperationOutcome"
    assert api.http.get(f"/fhir/Patient/{MAX_ID}").status_code == 404


def test_twenty_aliases_of_a_huge_id_answer_quickly(api: Api) -> None:
    fields = " ".join(f'r{i}: resident(id: "{HUGE}") {{ id }}' for i in range(20))
    started = time.monotonic()
    response = api.raw(f"{{ {fields} }}")
    assert time.monotonic() - started < 2
    body = response.json()
    assert response.status_code == 200
    assert all(v is None for v in body["data"].values()) and len(body["data"]) == 20
    assert "Internal error; it has been logged." not in response.text


def test_a_cursor_past_the_id_range_is_invalid_not_500(api: Api) -> None:
    body = api.raw(
        "query($a: String) { residents(first: 1, after: $a) { totalCount } }",
        {"a": encode_cursor(HUGE)},
    ).json()
    assert codes(body) == {"INVALID_CURSOR"}


def test_an_over_long_name_filter_is_refused(api: Api) -> None:
    query = "query($n: String) { residents(filter: {name: $n}) { totalCount } }"
    body = api.raw(query, {"n": "张" * 100_000}).json()
    assert codes(body) == {"INPUT_TOO_LONG"}
    assert body["errors"][0]["extensions"]["field"] == "name"
    assert "张张" not in json.dumps(body, ensure_ascii=False)  # the value is not echoed
    literal = '{ residents(filter: {name: "%s"}) { totalCount } }' % ("a" * 100_000)
    assert codes(api.raw(literal).json()) == {"INPUT_TOO_LONG"}
    # 64 characters are a name; 65 are not
    assert api(query, {"n": "a" * 64})["residents"]["totalCount"] == 0
    assert codes(api.raw(query, {"n": "a" * 65}).json()) == {"INPUT_TOO_LONG"}


SUBMIT = """
mutation($input: ResidentRecordInput!) { submitResidentRecord(input: $input) {
  outcome resident { id } userErrors { code field message } } }"""


def test_a_million_character_name_is_refused_and_nothing_stored(api: Api) -> None:
    id_number = make("440113", __import__("datetime").date(1970, 1, 2), 531)
    record = {"source": "vendor", "sourceId": "LONG-1", "name": "a" * 1_000_000,
              "idNumber": id_number, "sex": "1"}  # fmt: skip
    started = time.monotonic()
    body = api.raw(SUBMIT, {"input": record}).json()
    assert time.monotonic() - started < 2
    assert codes(body) == {"INPUT_TOO_LONG"} and body["data"] is None
    assert body["errors"][0]["extensions"]["field"] == "name"
    found = api(
        "query($v: String!) { residentByIdentifier(system: ID_CARD, value: $v) { id } }",
        {"v": id_number},
    )
    assert found == {"residentByIdentifier": None}
    # nested input fields have their own limits: an address of 201 characters
    body = api.raw(SUBMIT, {"input": {**record, "name": "x", "address": "路" * 201}}).json()
    assert codes(body) == {"INPUT_TOO_LONG"}
    assert body["errors"][0]["extensions"]["field"] == "address"


def test_too_many_aliases_and_root_fields(api: Api) -> None:
    many = " ".join(f"a{i}: __typename" for i in range(110))
    assert "TOO_MANY_ALIASES" in codes(api.raw(f"{{ {many} }}").json())
    nested = " ".join(f"a{i}: totalCount" for i in range(31))
    body = api.raw(f"{{ residents(first: 1) {{ {nested} }} }}").json()
    assert codes(body) == {"TOO_MANY_ALIASES"}
    roots = " ".join("__typename" for _ in range(21))
    assert codes(api.raw(f"{{ {roots} }}").json()) == {"TOO_MANY_ROOT_FIELDS"}
    fragment = "query { ...F } fragment F on Query { " + roots + " }"
    assert codes(api.raw(fragment).json()) == {"TOO_MANY_ROOT_FIELDS"}
    assert api("{ " + " ".join(f"a{i}: __typename" for i in range(20)) + " }")


def test_a_response_over_the_cap_is_an_error(db_url: str) -> None:
    from hub.app import build_hub, create_app
    from hub.settings import Settings

    # `{ __typename }` with its extensions.cost is ~130 bytes; 25 aliases are ~450
    hub = build_hub(Settings(max_response_bytes=250), database_url=db_url)
    with LiveServer(create_app(hub)) as server:
        small = Api(server.url, create_client_token(db_url, "cap", ["admin"]))
        assert small("{ __typename }")
        fields = " ".join(f"a{i}: __typename" for i in range(25))
        response = small.raw(f"{{ {fields} }}")
        assert response.status_code == 200
        assert response.json() == {
            "data": None,
            "errors": [{"message": response.json()["errors"][0]["message"],
                        "extensions": {"code": "RESPONSE_TOO_LARGE"}}],
        }  # fmt: skip
