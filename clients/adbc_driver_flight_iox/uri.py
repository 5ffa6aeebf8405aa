"""``flight_iox://`` addresses: one reading for the driver, Polars and the SQLAlchemy dialect.

``flight_iox://[:token@]host[:port][/database][?tls=true&tls_root_certs=PATH&...]`` names
everything a connection needs, so tools that only pass a URI (Polars'
``read_database_uri(..., engine="adbc")`` calls ``adbc_driver_flight_iox.dbapi.connect(uri)``)
reach the right database. The dialect's URL has the same shape and goes through
``connect_arguments`` too.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

SCHEME = "flight_iox"
DEFAULT_PORT = 8182
_TRUE = {"1", "true", "yes", "on"}


def connect_arguments(
    host: str | None,
    port: int | None,
    database: str | None,
    token: str | None,
    options: Mapping[str, str],
) -> tuple[str, dict[str, Any]]:
    """The ``grpc[+tls]://`` URI and ``connect`` keywords for a ``flight_iox://`` address.

    ``options`` are the URI's query: ``tls``, ``tls_root_certs`` (a PEM file),
    ``tls_skip_verify`` and ``tls_override_hostname``; any other is refused.
    """
    rest = dict(options)
    tls = str(rest.pop("tls", "false")).lower() in _TRUE
    kwargs: dict[str, Any] = {"database": database or None, "token": token or None}
    if "tls_root_certs" in rest:
        kwargs["tls_root_certs"] = Path(str(rest.pop("tls_root_certs")))
    if str(rest.pop("tls_skip_verify", "false")).lower() in _TRUE:
        kwargs["tls_skip_verify"] = True
    if "tls_override_hostname" in rest:
        kwargs["tls_override_hostname"] = str(rest.pop("tls_override_hostname"))
    if rest:
        raise ValueError(f"unknown {SCHEME} URI options: {', '.join(sorted(rest))}")
    host = host or "127.0.0.1"
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    scheme = "grpc+tls" if tls else "grpc"
    return f"{scheme}://{host}:{port or DEFAULT_PORT}", kwargs


def is_flight_iox_uri(uri: str) -> bool:
    """Whether ``uri`` is a ``flight_iox://`` address (not a plain ``grpc://`` one)."""
    return uri.lower().startswith(f"{SCHEME}://")


def parse_uri(uri: str) -> tuple[str, dict[str, Any]]:
    """``connect_arguments`` of a ``flight_iox://`` URI string."""
    if not is_flight_iox_uri(uri):
        raise ValueError(f"not a {SCHEME}:// URI: {uri!r}")
    # "_" is not allowed in a URI scheme, so urlsplit would not see one: split the rest.
    parts = urlsplit(uri[len(SCHEME) + 1 :])
    database = unquote(parts.path.lstrip("/")) or None
    if database is not None and "/" in database:
        raise ValueError(f"the URI path is one database name, not {database!r}")
    token = unquote(parts.password) if parts.password else None
    options = dict(parse_qsl(parts.query, keep_blank_values=True))
    return connect_arguments(parts.hostname, parts.port, database, token, options)
