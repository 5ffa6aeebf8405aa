"""The query explorer's files: each one public, served, and nothing else loaded by the page."""

from __future__ import annotations

import re

from starlette.testclient import TestClient

from flight_iox.app import App
from flight_iox.auth.http import ROUTE_RULES, RouteRule, route_rule
from flight_iox.http.app import create_app
from flight_iox.http.explorer import ASSET_PATHS, ASSET_PREFIX, ASSETS, CONTENT_SECURITY_POLICY
from flight_iox.server import http_services

# src="..." and href="..." in the page, and `import ... from "..."` in the scripts.
REFERENCE = re.compile(r'(?:src|href)="([^"]+)"|from "([^"]+)"')


def test_the_page_and_exactly_its_files_are_public() -> None:
    assert route_rule("/") is RouteRule.PUBLIC
    public_assets = {
        path
        for path, rule in ROUTE_RULES.items()
        if path.startswith(ASSET_PREFIX) and rule is RouteRule.PUBLIC
    }
    assert public_assets == set(ASSET_PATHS)
    assert route_rule(ASSET_PREFIX + "other.js") is RouteRule.ADMIN


def test_the_page_loads_only_files_served_here(cpu_app: App) -> None:
    client = TestClient(create_app(http_services(cpu_app), cpu_app.settings))
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    texts = [page.text, *(client.get(path).text for path in ASSET_PATHS if path.endswith(".js"))]
    loaded = {a or b for text in texts for a, b in REFERENCE.findall(text)}
    assert loaded - {"data:,"} == set(ASSET_PATHS)  # none missing, none unused
    for name, (_, media_type) in ASSETS.items():
        reply = client.get(ASSET_PREFIX + name)
        assert reply.status_code == 200 and reply.content, name
        assert reply.headers["content-type"] == media_type
    assert client.get(ASSET_PREFIX + "index.html").status_code == 404  # only the listed names
