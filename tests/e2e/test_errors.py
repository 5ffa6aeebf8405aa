"""Every client mistake gets a clear 4xx with a JSON body; never a 5xx."""

from __future__ import annotations

import gzip

import pytest
import requests

from flight_iox.launcher import RunningServer

T0 = 1_700_000_000_000_000_000


def post(server: RunningServer, path: str, body: bytes | str, headers=None, **params: str):
    return requests.post(
        f"{server.http_url}{path}", params=params, data=body, headers=headers, timeout=30
    )


def count(server: RunningServer, db: str, table: str) -> int:
    reply = requests.get(
        f"{server.http_url}/api/v3/query_sql",
        params={"db": db, "q": f'SELECT count(*) AS n FROM "{table}"'},
        timeout=30,
    )
    return reply.json()[0]["n"] if reply.status_code == 200 else -1


def test_partial_write_keeps_good_lines_and_names_bad_ones(server: RunningServer) -> None:
    body = f"p v=1 {T0}\np v=oops {T0 + 1}\np v=3 {T0 + 2}\n"
    reply = post(server, "/api/v3/write_lp", body, db="partial")
    assert reply.status_code == 400
    payload = reply.json()
    assert payload["error"] == "partial write of line protocol occurred"
    assert [(e["line_number"], e["original_line"]) for e in payload["data"]] == [
        (2, f"p v=oops {T0 + 1}")
    ]
    assert payload["data"][0]["error_message"]
    assert count(server, "partial", "p") == 2


def test_accept_partial_false_rejects_everything(server: RunningServer) -> None:
    body = f"q v=1 {T0}\nq v=oops {T0 + 1}\n"
    reply = post(server, "/api/v3/write_lp", body, db="strict", accept_partial="false")
    assert reply.status_code == 400
    assert reply.json()["data"][0]["line_number"] == 2
    assert count(server, "strict", "q") == -1


@pytest.mark.parametrize("path,param", [("/api/v2/write", "bucket"), ("/write", "db")])
def test_v1_v2_are_all_or_nothing(server: RunningServer, path: str, param: str) -> None:
    body = f"r v=1 {T0}\nr v=1i {T0 + 1}\n"
    reply = post(server, path, body, **{param: "allornothing"})
    assert reply.status_code == 400
    assert "field type conflict" in reply.json()["error"]
    assert count(server, "allornothing", "r") == -1


def test_field_type_conflict_names_column_and_types(server: RunningServer) -> None:
    assert post(server, "/api/v3/write_lp", f"tc usage=1.5 {T0}", db="conflict").status_code == 204
    reply = post(server, "/api/v3/write_lp", f"tc usage=2i {T0 + 1}", db="conflict")
    message = reply.json()["data"][0]["error_message"]
    assert reply.status_code == 400
    assert '"usage"' in message and "integer" in message and "float" in message


def test_tag_field_clash_and_tag_named_time(server: RunningServer) -> None:
    assert post(server, "/api/v3/write_lp", f"clash,host=a v=1 {T0}", db="clash").status_code == 204
    reply = post(
        server, "/api/v3/write_lp", f"clash host=1 {T0}\nclash,time=x v=1 {T0}", db="clash"
    )
    errors = reply.json()["data"]
    assert [e["line_number"] for e in errors] == [1, 2]
    assert '"host"' in errors[0]["error_message"] and "tag" in errors[0]["error_message"]
    assert "time" in errors[1]["error_message"]


@pytest.mark.parametrize("name", ["../etc", "a/b", "..", "x" * 65, "bad name", "", "-lead", "a.b"])
def test_bad_database_names(server: RunningServer, name: str) -> None:
    reply = post(server, "/api/v3/write_lp", f"m v=1 {T0}", db=name)
    assert reply.status_code == 400
    assert "database name" in reply.json()["error"]


def test_oversize_body_gets_413(server: RunningServer) -> None:
    body = b"m v=1\n" * (1024 * 1024 // 6 + 10)  # just over the 1 MiB limit
    assert post(server, "/api/v3/write_lp", body, db="big").status_code == 413
    bomb = gzip.compress(b"m v=1\n" * 400_000)
    reply = post(server, "/api/v3/write_lp", bomb, {"Content-Encoding": "gzip"}, db="big")
    assert reply.status_code == 413


def test_gzip_body_and_bad_gzip(server: RunningServer) -> None:
    good = gzip.compress(f"gz v=1 {T0}\n".encode())
    assert (
        post(server, "/api/v3/write_lp", good, {"Content-Encoding": "gzip"}, db="gz").status_code
        == 204
    )
    bad = post(
        server, "/api/v3/write_lp", b"\x1f\x8bnotgzip", {"Content-Encoding": "gzip"}, db="gz"
    )
    assert bad.status_code == 400 and "gzip" in bad.json()["error"]


def test_bad_precision_and_bad_flags(server: RunningServer) -> None:
    reply = post(server, "/api/v3/write_lp", "m v=1 1", db="p", precision="fortnight")
    assert reply.status_code == 400 and "fortnight" in reply.json()["error"]
    reply = post(server, "/api/v3/write_lp", "m v=1 1", db="p", accept_partial="maybe")
    assert reply.status_code == 400


def test_query_errors(server: RunningServer) -> None:
    url = f"{server.http_url}/api/v3/query_sql"
    assert (
        requests.get(url, params={"db": "nosuchdb", "q": "SELECT 1"}, timeout=10).status_code == 404
    )
    post(server, "/api/v3/write_lp", f"qe v=1 {T0}", db="qe")
    bad = requests.get(url, params={"db": "qe", "q": "SELEC nonsense"}, timeout=10)
    assert bad.status_code == 400 and bad.json()["error"]
    missing = requests.get(url, params={"db": "qe", "q": "SELECT * FROM nosuchtable"}, timeout=10)
    assert missing.status_code == 400 and "nosuchtable" in missing.json()["error"]
    ddl = requests.get(url, params={"db": "qe", "q": "CREATE TABLE x AS SELECT 1"}, timeout=10)
    assert ddl.status_code == 400
    assert requests.get(url, params={"db": "qe"}, timeout=10).status_code == 400
    fmt = requests.get(url, params={"db": "qe", "q": "SELECT 1", "format": "xml"}, timeout=10)
    assert fmt.status_code == 400


def test_unknown_route_and_method(server: RunningServer) -> None:
    assert requests.get(f"{server.http_url}/nope", timeout=10).status_code == 404
    assert requests.get(f"{server.http_url}/api/v3/write_lp", timeout=10).status_code == 405


def test_garbage_bodies_never_give_5xx(server: RunningServer) -> None:
    for body in [
        b"\xff\xfe\x00garbage",
        b"\n\n\n",
        b"m",
        b"m,=",
        b"m v=1 99999999999999999999999",
        b"# only a comment\n",
        b'm v="unterminated',
    ]:
        reply = post(server, "/api/v3/write_lp", body, db="garbage")
        assert reply.status_code in (204, 400), (body, reply.status_code, reply.text)


def test_auth_off_ignores_credentials_it_cannot_read(server: RunningServer) -> None:
    """With auth off, an Authorization header meant for a proxy is ignored, not a 401."""
    headers = {"Authorization": "Digest username=x"}
    assert requests.get(f"{server.http_url}/health", headers=headers, timeout=30).ok
    response = post(server, "/api/v3/write_lp", "proxied v=1 1", headers=headers, db="px")
    assert response.status_code == 204, response.text
