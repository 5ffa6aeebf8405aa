"""Tokens, hashing, the file store, credential forms, permissions and the auth-mode rule."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest

from flight_iox.auth.credentials import token_from_authorization
from flight_iox.auth.policy import ANONYMOUS, AuthMode, Authorizer, default_mode, is_loopback
from flight_iox.auth.setup import authorizer_for
from flight_iox.auth.tokens import (
    Action,
    FileTokenStore,
    Permission,
    TokenRecord,
    hash_token,
    new_secret,
)
from flight_iox.config import Settings
from flight_iox.errors import (
    AlreadyExistsError,
    BadRequestError,
    FlightIoxError,
    ForbiddenError,
    NotFoundError,
    UnauthorizedError,
)


def _record(name: str, secret: str, admin: bool = False, *permissions: Permission) -> TokenRecord:
    return TokenRecord(name + "-id", name, hash_token(secret), admin, tuple(permissions))


def test_secrets_are_high_entropy_and_only_hashes_are_stored(tmp_path: Path) -> None:
    secret = new_secret()
    assert secret.startswith("apiv3_") and len(secret) > 60
    assert new_secret() != secret
    store = FileTokenStore(tmp_path / "tokens.json")
    store.add(_record("a", secret, True))
    text = (tmp_path / "tokens.json").read_text()
    assert secret not in text and hash_token(secret) in text
    assert stat.S_IMODE((tmp_path / "tokens.json").stat().st_mode) == 0o600
    assert FileTokenStore(tmp_path / "tokens.json").find(secret) == store.find(secret)
    assert store.find("apiv3_wrong") is None


def test_store_names_are_unique_first_admin_is_once_and_revoke_works(tmp_path: Path) -> None:
    store = FileTokenStore(tmp_path / "tokens.json")
    assert store.add_first_admin(_record("admin", "s1", True))
    assert not store.add_first_admin(_record("admin2", "s2", True))
    reader = Permission("db", frozenset({Action.READ}))
    store.add(_record("reader", "s3", False, reader))
    with pytest.raises(AlreadyExistsError):
        store.add(_record("reader", "s4"))
    assert store.remove("reader").name == "reader"
    with pytest.raises(NotFoundError):
        store.remove("reader")
    assert [r.name for r in FileTokenStore(tmp_path / "tokens.json").records()] == ["admin"]
    assert json.loads((tmp_path / "tokens.json").read_text())["version"] == 1


def test_permissions_from_json() -> None:
    permission = Permission.from_json({"database": "db", "actions": ["read", "WRITE"]})
    assert permission.allows(Action.WRITE, "db")
    assert not permission.allows(Action.READ, "other")
    assert Permission.from_json({"database": "*", "actions": ["read"]}).allows(Action.READ, "x")
    for bad in ({"database": "db"}, {"actions": ["read"]}, {"database": "db", "actions": ["x"]}):
        with pytest.raises(BadRequestError):
            Permission.from_json(bad)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Bearer abc", "abc"),
        ("Token abc", "abc"),
        ("bearer  abc ", "abc"),
        ("Basic " + base64.b64encode(b"user:abc").decode(), "abc"),
        ("Basic " + base64.b64encode(b"abc:").decode(), "abc"),
        ("Basic " + base64.b64encode(b"u:abcd").decode().rstrip("="), "abcd"),  # arrow-go
        (None, None),
    ],
)
def test_authorization_forms(header: str | None, expected: str | None) -> None:
    assert token_from_authorization(header) == expected


def test_bad_authorization_headers_are_unauthenticated() -> None:
    for header in ("Digest x", "Basic !!!", "Basic " + base64.b64encode(b"nocolon").decode()):
        with pytest.raises(UnauthorizedError):
            token_from_authorization(header)


def test_authorizer_401_then_403(tmp_path: Path) -> None:
    store = FileTokenStore(tmp_path / "tokens.json")
    store.add(_record("w", "secret-w", False, Permission("db", frozenset({Action.WRITE}))))
    authorizer = Authorizer(AuthMode.REQUIRED, store)
    with pytest.raises(UnauthorizedError):
        authorizer.authenticate(None)
    with pytest.raises(UnauthorizedError):
        authorizer.authenticate("nope")
    principal = authorizer.authenticate("secret-w")
    Authorizer.require(principal, Action.WRITE, "db")
    with pytest.raises(ForbiddenError, match="may not read database 'db'"):
        Authorizer.require(principal, Action.READ, "db")
    with pytest.raises(ForbiddenError):
        Authorizer.require_admin(principal)
    assert Authorizer(AuthMode.OFF, store).authenticate(None) is ANONYMOUS


def test_default_mode_and_loopback() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("::") and not is_loopback("10.1.2.3")
    assert default_mode(["127.0.0.1", "localhost"]) is AuthMode.OFF
    assert default_mode(["127.0.0.1", "0.0.0.0"]) is AuthMode.REQUIRED


def test_auth_off_on_a_public_address_needs_the_explicit_flag(tmp_path: Path) -> None:
    public = Settings(data_dir=tmp_path, http_addr="0.0.0.0:0", auth="off")
    with pytest.raises(FlightIoxError, match="--i-know-auth-is-off"):
        authorizer_for(public)
    forced = Settings(data_dir=tmp_path, http_addr="0.0.0.0:0", auth="off", auth_off_ok=True)
    assert authorizer_for(forced).mode is AuthMode.OFF
    assert authorizer_for(Settings(data_dir=tmp_path, http_addr="0.0.0.0:0")).required
    assert not authorizer_for(Settings(data_dir=tmp_path)).required


def test_tokens_table_has_no_secrets_or_hashes() -> None:
    from flight_iox.auth.tokens import TOKENS_SCHEMA, Action, Permission, TokenRecord, tokens_table

    both = frozenset({Action.WRITE, Action.READ})
    permissions = (Permission("mydb", both), Permission("*", frozenset({Action.READ})))
    record = TokenRecord("id1", "reader", "hash-value", False, permissions, created_ns=5)
    table = tokens_table([record])
    assert table.schema == TOKENS_SCHEMA
    assert "hash" not in " ".join(table.column_names)
    assert table.to_pylist()[0]["permissions"] == "mydb:read,write; *:read"
    assert "hash-value" not in str(table.to_pylist())


def test_bootstrap_stays_closed_after_every_admin_is_revoked(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    store = FileTokenStore(path)
    assert not store.admin_created()
    assert store.add_first_admin(_record("_admin", "s1", True))
    store.remove("_admin")
    assert store.records() == [] and store.admin_created()
    assert not store.add_first_admin(_record("_admin", "s2", True))
    reopened = FileTokenStore(path)
    assert reopened.admin_created()
    assert not reopened.add_first_admin(_record("_admin", "s3", True))
    assert json.loads(path.read_text())["admin_created"] is True


def test_a_file_from_before_the_flag_counts_its_admin_tokens(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    record = _record("_admin", "s1", True)
    path.write_text(json.dumps({"version": 1, "tokens": [record.as_json(with_hash=True)]}))
    assert FileTokenStore(path).admin_created()
    assert not FileTokenStore(path).add_first_admin(_record("x", "s2", True))


def test_an_admin_added_by_add_closes_the_bootstrap(tmp_path: Path) -> None:
    store = FileTokenStore(tmp_path / "tokens.json")
    store.add(_record("ops", "s1", True))
    store.remove("ops")
    assert not store.add_first_admin(_record("_admin", "s2", True))


def test_replace_admin_recovers_offline(tmp_path: Path) -> None:
    from flight_iox.auth.tokens import new_admin_record

    store = FileTokenStore(tmp_path / "tokens.json")
    store.add_first_admin(_record("_admin", "old", True))
    record, secret = new_admin_record()
    store.replace_admin(record)
    assert store.find("old") is None
    found = store.find(secret)
    assert found is not None and found.admin and found.name == "_admin"
    assert [r.name for r in FileTokenStore(tmp_path / "tokens.json").records()] == ["_admin"]


def test_principal_readable() -> None:
    from flight_iox.auth.policy import Principal

    reader = _record("r", "s", False, Permission("mine", frozenset({Action.READ})))
    writer = _record("w", "s", False, Permission("mine", frozenset({Action.WRITE})))
    assert Principal("r", False, reader).readable(["mine", "other"]) == ["mine"]
    assert Principal("w", False, writer).readable(["mine", "other"]) == []
    assert ANONYMOUS.readable(["mine", "other"]) == ["mine", "other"]
