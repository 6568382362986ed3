# ruff: noqa: E501
"""/dashboard in a real headless Chromium (Debian's, driven by Playwright): the page loads
with no console error, every chart has data equal to the GraphQL report, and the region
picker changes them. Skips, saying why, only when chromium is not installed."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from hub.demo.load import load_demo
from hub.reports.demo import add_report_demo
from tests.conftest import Api, LiveServer, create_client_token, make_database

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Debian's chromium is not installed (scripts/chromium.sh installs it as root)",
)
CHARTS = ("coverage", "key", "trend", "fulfilment", "referral", "fees")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Api]]:
    from hub.app import build_hub, create_app

    url = make_database("sqlite", tmp_path_factory.mktemp("dash"))
    asyncio.run(load_demo(url, scale=0.1, regions=("panyu", "wenzhou")))
    asyncio.run(add_report_demo(url))
    token = create_client_token(url, "dashboard", ["contracts:read", "residents:read"])
    with LiveServer(create_app(build_hub(database_url=url))) as live:
        yield live.url, token, Api(live.url, token)


def _charts(page: Any) -> dict[str, Any]:
    page.wait_for_function("window.__ready === true", timeout=20_000)
    return page.evaluate("window.__charts")


def test_every_chart_shows_the_reports_and_the_picker_changes_them(
    served: tuple[str, str, Api],
) -> None:
    from playwright.sync_api import sync_playwright

    base, token, api = served
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{base}/dashboard")
            assert "统计看板" in page.title()
            page.fill("#token", token)
            page.click("#load")
            seen = _charts(page)
            for region in ("panyu", "wenzhou"):
                if region == "wenzhou":
                    page.evaluate("window.__ready = false")
                    page.select_option("#region", "wenzhou")
                    seen = _charts(page)
                assert set(CHARTS) <= set(seen), seen.keys()
                for name in CHARTS:
                    assert seen[name]["labels"], f"{region}: chart {name} has no data"
                    assert page.locator(f"#chart-{name} canvas").count() == 1
                report = api(
                    """query($r: String!) { coverageReport(region: $r, groupBy: TOWNSHIP) {
                  rows { label coverage } } signingTrend(region: $r) { months { month signed } }
                  feeReport(region: $r) { funds { key amount } } }""",
                    {"r": region},
                )
                rows = report["coverageReport"]["rows"]
                assert seen["coverage"]["labels"] == [r["label"] for r in rows]
                assert seen["coverage"]["values"] == [round(r["coverage"] * 100, 2) for r in rows]
                assert seen["trend"]["values"] == [
                    m["signed"] for m in report["signingTrend"]["months"]
                ]
                funds = {f["key"]: f["amount"] for f in report["feeReport"]["funds"]}
                assert seen["fees"]["values"] == [
                    funds["PUBLIC_HEALTH"],
                    funds["INSURANCE"],
                    funds["PERSONAL"],
                ]
            assert any("镇" in label for label in seen["coverage"]["labels"])  # Wenzhou's towns now
            assert not errors, errors
        finally:
            browser.close()


def test_the_page_needs_no_token_but_the_data_does(served: tuple[str, str, Api]) -> None:
    import httpx

    base, _, _ = served
    assert httpx.get(f"{base}/dashboard").status_code == 200
    js = httpx.get(f"{base}/dashboard/echarts.min.js")
    assert js.status_code == 200 and b"echarts" in js.content[:2000]
    assert httpx.post(f"{base}/graphql", json={"query": "{ __typename }"}).status_code == 401
