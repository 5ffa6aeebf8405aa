"""Option names and the one place that turns ``connect`` arguments into ADBC options.

The ``database`` header is set at database level only. The Flight SQL driver
sends a call header once per level it was set at (database, connection,
statement), so setting it at one level is what keeps it single-valued.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path

import adbc_driver_flightsql

_FLIGHTSQL = adbc_driver_flightsql.DatabaseOptions

DEFAULT_URI = "grpc://127.0.0.1:8182"

Certificates = str | bytes | os.PathLike[str]


class DatabaseOptions(StrEnum):
    """ADBC database options flight-iox clients set (values are the driver's option keys)."""

    #: The default database: sent as the ``database`` gRPC header on every call.
    DATABASE = _FLIGHTSQL.RPC_CALL_HEADER_PREFIX.value + "database"
    #: The ``authorization`` header; ``connect(token=...)`` sets ``Bearer <token>``.
    AUTHORIZATION_HEADER = _FLIGHTSQL.AUTHORIZATION_HEADER.value
    #: PEM text of the CA certificates that sign the server's certificate.
    TLS_ROOT_CERTS = _FLIGHTSQL.TLS_ROOT_CERTS.value
    #: ``"true"`` to accept any server certificate (tests only).
    TLS_SKIP_VERIFY = _FLIGHTSQL.TLS_SKIP_VERIFY.value
    #: The host name to check the server's certificate against.
    TLS_OVERRIDE_HOSTNAME = _FLIGHTSQL.TLS_OVERRIDE_HOSTNAME.value
    #: PEM client certificate chain, for mutual TLS.
    MTLS_CERT_CHAIN = _FLIGHTSQL.MTLS_CERT_CHAIN.value
    #: PEM client private key, for mutual TLS.
    MTLS_PRIVATE_KEY = _FLIGHTSQL.MTLS_PRIVATE_KEY.value
    #: Seconds a query may take before the client gives up.
    TIMEOUT_QUERY = _FLIGHTSQL.TIMEOUT_QUERY.value
    #: Seconds a result fetch may take before the client gives up.
    TIMEOUT_FETCH = _FLIGHTSQL.TIMEOUT_FETCH.value


def pem_text(certificates: Certificates) -> str:
    """PEM text from PEM text, PEM bytes, or the path of a PEM file."""
    if isinstance(certificates, bytes):
        return certificates.decode("ascii")
    if isinstance(certificates, str) and "-----BEGIN" in certificates:
        return certificates
    return Path(certificates).read_text(encoding="ascii")


def database_options(
    *,
    database: str | None,
    token: str | None = None,
    tls_root_certs: Certificates | None = None,
    tls_skip_verify: bool = False,
    tls_override_hostname: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """ADBC database options (``db_kwargs``) for flight-iox.

    ``extra`` holds further driver options; it may not set the database or
    authorization header a second way.
    """
    options: dict[str, str] = {}
    if database:
        options[DatabaseOptions.DATABASE.value] = database
    if token:
        options[DatabaseOptions.AUTHORIZATION_HEADER.value] = f"Bearer {token}"
    if tls_root_certs is not None:
        options[DatabaseOptions.TLS_ROOT_CERTS.value] = pem_text(tls_root_certs)
    if tls_skip_verify:
        options[DatabaseOptions.TLS_SKIP_VERIFY.value] = "true"
    if tls_override_hostname:
        options[DatabaseOptions.TLS_OVERRIDE_HOSTNAME.value] = tls_override_hostname
    for key, value in (extra or {}).items():
        if key in options and options[key] != value:
            raise ValueError(f"option {key!r} is given twice with different values")
        options[str(key)] = str(value)
    return options


def check_connection_options(conn_kwargs: Mapping[str, str] | None) -> dict[str, str]:
    """Connection options, refusing the database header (it belongs at database level)."""
    options = {str(k): str(v) for k, v in (conn_kwargs or {}).items()}
    if DatabaseOptions.DATABASE.value in options:
        raise ValueError(
            "set the database with connect(database=...): a header set at connection level "
            "too is sent twice"
        )
    return options
