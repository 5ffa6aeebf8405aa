"""The query explorer (``GET /``) in a real browser, against a real server with auth on.

The browser is the system's Chromium (Debian's ``chromium``) driven by Playwright, which
downloads nothing. Without that binary or the ``playwright`` package the browser test
skips and says why; the page's headers and files are checked over plain HTTP anyway.

``EXPLORER_SCREENSHOT=docs/explorer.png pytest tests/e2e/test_explorer.py`` refreshes the
screenshot of docs/explorer.md.
"""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from flight_iox.http.explorer import ASSET_PATHS, CONTENT_SECURITY_POLICY
from flight_iox.launcher import RunningServer, start_server

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
DATABASE = "explorer_e2e"
# A table name and a tag value that would run script if the page rendered them as HTML.
HOSTILE_TABLE = "<img src=x onerror=window.__pwned=1>"
HOSTILE_TAG = "<script>window.__pwned=2</script>"
POINTS = 24
START = 1_700_000_000  # seconds: the page writes with precision "s"
LINES = "\n".join(
    [
        *(
            f"cpu,host=a usage={round(20 + 10 * math.sin(i / 3), 2)} {START + 60 * i}"
            for i in range(POINTS)
        ),
        *(f"cpu,host=b usage={50 - 1.25 * i} {START + 60 * i}" for i in range(POINTS)),
        f"big,host=a value={2**53 + 1}i,low={-(2**63)}i {START}",  # not exact as a JS Number
        "<img\\ src=x\\ onerror=window.__pwned=1>,host=<script>window.__pwned\\=2</script>"
        f" value=7 {START}",
    ]
)
SQL = "SELECT host, usage, time FROM cpu ORDER BY time, host"
INFLUXQL = "SELECT usage FROM cpu WHERE host = 'b'"
BIG = "SELECT value, low FROM big"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(
        tmp_path_factory.mktemp("explorer") / "data",
        "--no-persist-on-shutdown",
        "--auth",
        "required",
    )
    yield running
    running.stop()


@pytest.fixture(scope="module")
def token(server: RunningServer) -> str:
    """A token that may read and write ``DATABASE`` only (not an admin)."""
    url = f"{server.http_url}/api/v3/configure/token"
    admin = requests.post(f"{url}/admin", timeout=30).json()["token"]
    body = {
        "name": "explorer",
        "permissions": [{"database": DATABASE, "actions": ["read", "write", "create"]}],
    }
    reply = requests.post(url, json=body, headers={"Authorization": f"Bearer {admin}"}, timeout=30)
    assert reply.status_code == 201, reply.text
    return str(reply.json()["token"])


def api_rows(server: RunningServer, token: str, path: str, q: str) -> list[dict[str, Any]]:
    reply = requests.post(
        f"{server.http_url}{path}",
        json={"db": DATABASE, "q": q, "format": "json"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert reply.status_code == 200, reply.text
    rows: list[dict[str, Any]] = reply.json()
    return rows


def js_text(value: object) -> str:
    """A JSON value as the page prints it (JavaScript's ``String``)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def expected_grid(rows: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    columns = list(rows[0]) if rows else []
    return columns, [[js_text(row[c]) for c in columns] for row in rows]


def test_page_and_assets_are_public_with_a_strict_policy(server: RunningServer) -> None:
    page = requests.get(f"{server.http_url}/", timeout=30)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "<script>" not in page.text and "style=" not in page.text  # nothing inline
    for path in ASSET_PATHS:
        asset = requests.get(f"{server.http_url}{path}", timeout=30)
        assert asset.status_code == 200, path
        assert asset.content and asset.headers["content-security-policy"]
        assert path.rsplit(".", 1)[-1] in asset.headers["content-type"].replace("javascript", "js")
    # Anything else under the asset folder is no file of ours: deny by default, like any route.
    assert requests.get(
        f"{server.http_url}/explorer/../pyproject.toml", timeout=30
    ).status_code in (
        401,
        404,
    )
    assert requests.get(f"{server.http_url}/explorer/index.py", timeout=30).status_code == 401
    # The data APIs the page calls still want a token.
    assert (
        requests.get(f"{server.http_url}/api/v3/configure/database", timeout=30).status_code == 401
    )


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip(
        "playwright.sync_api",
        reason="the playwright package is not installed (pip install -e '.[test]')",
    )
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium (or set CHROMIUM=path)")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM)
        yield launched
        launched.close()


def grid(page: Any) -> tuple[list[str], list[list[str]]]:
    """The grid's column names and cell texts."""
    columns, rows = page.evaluate(
        """() => [
            [...document.querySelectorAll('#grid thead th')].map((th) => th.textContent),
            [...document.querySelectorAll('#grid tbody tr')].map(
                (tr) => [...tr.cells].map((td) => td.textContent)),
        ]"""
    )
    return columns, rows


def painted_pixels(page: Any) -> int:
    """Pixels of the chart's canvas that are not transparent."""
    return int(
        page.evaluate(
            """() => {
                const canvas = document.querySelector('#chart canvas');
                if (!canvas) return 0;
                const { width, height } = canvas;
                const { data } = canvas.getContext('2d').getImageData(0, 0, width, height);
                let painted = 0;
                for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) painted++;
                return painted;
            }"""
        )
    )


def run(page: Any, language: str, query: str) -> None:
    page.select_option("#language", language)
    page.fill("#query", query)
    page.click("#run")
    page.wait_for_function(
        "() => document.getElementById('result-info').dataset.state !== 'running'"
    )
    assert page.get_attribute("#result-info", "data-state") == "done", page.text_content(
        "#result-info"
    )


def test_write_query_chart_in_a_browser(
    server: RunningServer, token: str, browser: Any, tmp_path: Path
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 860})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))

    page.goto(f"{server.http_url}/")
    page.wait_for_function("() => document.getElementById('status').textContent.includes('401')")
    errors.clear()  # the 401 before a token is pasted is expected

    page.fill("#token", token)
    page.click("#token-form button[type=submit]")
    page.fill("#write-db", DATABASE)
    page.fill("#lines", LINES)
    page.select_option("#precision", "s")
    page.click("#write")
    page.wait_for_function(
        "() => document.getElementById('write-status').textContent.startsWith('wrote 50 lines')"
    )
    page.click(f"#databases button:text-is('{DATABASE}')")
    page.wait_for_function("() => document.querySelectorAll('#tables button').length === 3")
    tables = page.eval_on_selector_all("#tables button", "els => els.map((e) => e.textContent)")
    assert sorted(tables) == sorted(["big", "cpu", HOSTILE_TABLE])

    run(page, "sql", SQL)
    assert grid(page) == expected_grid(api_rows(server, token, "/api/v3/query_sql", SQL))
    assert len(grid(page)[1]) == 2 * POINTS
    assert page.get_attribute("#chart", "data-series") == "2"  # usage host=a, usage host=b
    assert painted_pixels(page) > 1000
    shot = os.environ.get("EXPLORER_SCREENSHOT") or str(tmp_path / "explorer.png")
    page.screenshot(path=shot, full_page=True)

    run(page, "influxql", INFLUXQL)
    answer = api_rows(server, token, "/api/v3/query_influxql", INFLUXQL)
    assert grid(page) == expected_grid(answer)
    assert [row[-1] for row in grid(page)[1]] == [js_text(50 - 1.25 * i) for i in range(POINTS)]
    assert page.get_attribute("#chart", "data-series") == "1"

    run(page, "sql", BIG)  # int64s beyond 2^53 keep every digit
    assert grid(page) == expected_grid(api_rows(server, token, "/api/v3/query_sql", BIG))
    assert grid(page)[1] == [[str(2**53 + 1), str(-(2**63))]]

    # Browsing the hostile table runs a query on it: its name and tag are shown as text.
    page.click("#tables button:text-is('cpu')")  # first a different answer in the grid
    page.wait_for_function(
        f"() => document.querySelectorAll('#grid tbody tr').length === {2 * POINTS}"
    )
    page.locator("#tables button").filter(has_text="onerror").click()
    page.wait_for_function("() => document.querySelectorAll('#grid tbody tr').length === 1")
    columns, rows = grid(page)
    assert rows[0][columns.index("host")] == HOSTILE_TAG
    assert page.evaluate("() => window.__pwned") is None
    assert page.evaluate("() => document.querySelectorAll('img, #grid script').length") == 0

    assert errors == []
    assert not [url for url in urls if token in url]  # the token only ever goes in a header
    assert page.evaluate("() => sessionStorage.getItem('flight-iox-token')") == token
    assert page.evaluate("() => localStorage.length") == 0
    page.close()


def test_a_wrong_token_is_an_error_on_the_page(server: RunningServer, browser: Any) -> None:
    page = browser.new_page()
    page.goto(f"{server.http_url}/")
    page.fill("#token", "not-a-token")
    page.click("#token-form button[type=submit]")
    page.wait_for_function(
        "() => document.getElementById('status').classList.contains('error')"
        " && document.getElementById('status').textContent.includes('401')"
    )
    assert page.locator("#databases button").count() == 0
    page.close()


def test_without_auth_the_page_needs_no_token(
    tmp_path_factory: pytest.TempPathFactory, browser: Any
) -> None:
    open_server = start_server(tmp_path_factory.mktemp("explorer_open") / "data")
    try:
        reply = requests.post(
            f"{open_server.http_url}/api/v3/write_lp",
            params={"db": "open"},
            data="m v=1",
            timeout=30,
        )
        assert reply.status_code == 204
        page = browser.new_page()
        page.goto(f"{open_server.http_url}/")
        page.wait_for_function(
            "() => document.getElementById('status').textContent === '1 database'"
        )
        page.click("#tables button:text-is('m')")
        page.wait_for_function("() => document.querySelectorAll('#grid tbody tr').length === 1")
        assert grid(page)[1][0][grid(page)[0].index("v")] == "1"
        page.close()
    finally:
        open_server.stop()
