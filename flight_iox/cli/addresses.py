"""Which address serves what, so a wrong port or scheme gets an answer a user can act on.

The server listens twice: the HTTP API (``--http-addr``, port 8181 by default) serves
``write``, ``db``, ``token``, ``persist``, ``catalog`` and ``repair``; Flight SQL
(``--flight-addr``, port 8182 by default, and the HTTP port unless ``--no-http-grpc``)
serves ``query``. Pointing a command at the
other port, or leaving out the scheme, otherwise surfaces as the transport's own words
(``http2: frame too large``, ``No connection adapters were found``, a ``BadStatusLine``
of HTTP/2 bytes). The schemes are checked before connecting; transport failures are
read afterwards, from the few messages that mean "wrong kind of server here".

Only the standard library and click: the commands import this before their clients.
"""

from __future__ import annotations

import click

HTTP_PORT = 8181
FLIGHT_PORT = 8182
HTTP_SCHEMES = ("http", "https")
FLIGHT_SCHEMES = ("grpc", "grpc+tcp", "grpc+tls", "flight_iox")

_HTTP_SERVES = (
    f"The HTTP API (--http-addr, port {HTTP_PORT} by default) serves write, db, token, "
    "persist, catalog and repair."
)
_FLIGHT_SERVES = (
    f"Flight SQL (--flight-addr, port {FLIGHT_PORT} by default, and the HTTP port unless the "
    "server runs with --no-http-grpc) serves query."
)


def _split(address: str) -> tuple[str | None, str]:
    """The scheme (lower-cased, None when missing) and the host and port of ``address``."""
    scheme, separator, rest = address.partition("://")
    host = rest.split("/", 1)[0]
    return (scheme.lower(), host) if separator else (None, address.split("/", 1)[0])


def check_flight_host(host: str) -> None:
    """``ClickException`` unless ``host`` is a Flight SQL URI (``query --host``)."""
    scheme, where = _split(host)
    if scheme in FLIGHT_SCHEMES:
        return
    if scheme is None:
        raise click.ClickException(
            f"--host {where} has no scheme: give grpc://{where} (grpc+tls:// when the server "
            f"has TLS). {_FLIGHT_SERVES} {_HTTP_SERVES}"
        )
    if scheme in HTTP_SCHEMES:
        raise click.ClickException(
            f"--host {scheme}://{where} is an HTTP URL, but query speaks Flight SQL: give the "
            f"server's Flight SQL address, e.g. grpc://127.0.0.1:{FLIGHT_PORT} (grpc+tls:// "
            f"with TLS). {_FLIGHT_SERVES} {_HTTP_SERVES}"
        )
    raise click.ClickException(
        f"--host {host}: unknown scheme {scheme}://, query takes grpc:// or grpc+tls://"
    )


def check_http_host(url: str) -> None:
    """``ClickException`` unless ``url`` is an HTTP URL (every command but ``query``)."""
    scheme, where = _split(url)
    if scheme in HTTP_SCHEMES:
        return
    if scheme is None:
        raise click.ClickException(
            f"--host {where} has no scheme: give http://{where} (https:// when the server has "
            f"TLS). {_HTTP_SERVES} {_FLIGHT_SERVES}"
        )
    if scheme in FLIGHT_SCHEMES:
        raise click.ClickException(
            f"--host {scheme}://{where} is a Flight SQL address, but this command uses the "
            f"HTTP API: give the server's HTTP URL, e.g. http://127.0.0.1:{HTTP_PORT}. "
            f"{_HTTP_SERVES} {_FLIGHT_SERVES}"
        )
    raise click.ClickException(
        f"--host {scheme}://{where}: unknown scheme, this command takes http:// or https://"
    )


def flight_failure(host: str, message: str) -> str | None:
    """What a Flight SQL transport failure at ``host`` means, when it is a wrong address."""
    if "HTTP/1.1" in message or "frame too large" in message:
        return (
            f"{host} answered in HTTP/1.1, not gRPC: that looks like the server's HTTP port "
            f"(--http-addr) with --no-http-grpc. query needs a Flight SQL port. {_FLIGHT_SERVES}"
        )
    if "does not look like a TLS handshake" in message:
        return f"{host} does not speak TLS: use grpc:// (grpc+tls:// is for a server with TLS)"
    if "connection refused" in message:
        return f"nothing listens on {host}: is the server running? {_FLIGHT_SERVES}"
    return None


def http_failure(url: str, error: Exception) -> str:
    """A requests failure at ``url`` as one line, naming the port when it is the wrong one."""
    scheme, where = _split(url)
    base = f"{scheme}://{where}"
    text = str(error)
    if "BadStatusLine" in text:
        return (
            f"{base} did not answer in HTTP/1.1 (gRPC answers in HTTP/2): that looks like the "
            f"server's Flight SQL port (--flight-addr). {_HTTP_SERVES}"
        )
    if "WRONG_VERSION_NUMBER" in text or "wrong version number" in text:
        return f"{base} does not speak TLS: use http:// (https:// is for a server with TLS)"
    if "Connection refused" in text:
        return f"nothing listens on {base}: is the server running? {_HTTP_SERVES}"
    return f"cannot reach {url}: {text}"
