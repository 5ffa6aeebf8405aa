"""Run the server: lock the data folder, build the services (``app.py``), serve HTTP and Flight.

With ``app.build_app`` this is the composition root of the process: the services come
from ``build_app`` and the transports over them are built here, each with what it
calls passed in.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import shutil
import signal
import socket
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import uvicorn

from flight_iox.app import App, build_app
from flight_iox.auth.policy import Authorizer
from flight_iox.auth.setup import authorizer_for
from flight_iox.config import Settings, split_host_port
from flight_iox.engine.lock import DataDirLock
from flight_iox.flightsql import FlightSqlServer
from flight_iox.http.app import create_app
from flight_iox.http.connections import with_header_timeout
from flight_iox.http.services import HttpServices
from flight_iox.http.shared_port import ALPN_PROTOCOLS, port_sharing
from flight_iox.interpreter_tuning import steady_interpreter
from flight_iox.malloc_tuning import keep_freed_memory
from flight_iox.tls import TlsFiles, schemes

log = logging.getLogger("flight_iox")


class ListenError(OSError):
    """An address the server cannot listen on, named with the flag that set it."""

    def __init__(self, address: str, flag: str, error: OSError) -> None:
        reason = _LISTEN_REASONS.get(error.errno or 0, error.strerror or str(error))
        super().__init__(f"cannot listen on {address} ({flag}): {reason}")


_LISTEN_REASONS = {
    errno.EADDRINUSE: "the address is in use (by another flight-iox server or another program)",
    errno.EADDRNOTAVAIL: "not an address of this machine",
    errno.EACCES: "permission denied (ports below 1024 need privileges)",
}


def _bind(address: str, flag: str) -> socket.socket:
    """A listening socket on ``address``; ``ListenError`` names the address and ``flag``."""
    host, port = split_host_port(address)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as error:
        sock.close()
        raise ListenError(address, flag, error) from None
    sock.set_inheritable(True)
    return sock


def _start_flight(address: str, start: Callable[[], FlightSqlServer]) -> FlightSqlServer:
    """The Flight server, or ``ListenError`` when its address is taken.

    gRPC binds the port itself and says only "Server did not start properly" (after a C++
    log line), so ``serve`` tries the address first (that failure names it); a port taken
    between that try and gRPC's bind gets the same message here.
    """
    try:
        return start()
    except pa.ArrowException as error:
        if "did not start" not in str(error):
            raise
        in_use = OSError(errno.EADDRINUSE, "in use")
        raise ListenError(address, "--flight-addr", in_use) from None


def _flight_server(
    location: str, app: App, authorizer: Authorizer, **kwargs: Any
) -> FlightSqlServer:
    """A Flight SQL server at ``location`` over the app's services."""
    return FlightSqlServer(
        location,
        app.sql,
        writer=app.writer,
        authorizer=authorizer,
        queries=app.queries,
        extra_actions=app.node_actions,
        streams=app.streams,
        **kwargs,
    )


def http_services(app: App) -> HttpServices:
    """What the HTTP routes call, from the app's services."""
    return HttpServices(
        engine=app.engine,
        sql=app.sql,
        influxql=app.influxql,
        flux=app.flux,
        persister=app.persister,
        catalog_config=app.iceberg.config,
        metrics=app.metrics,
        queries=app.queries,
        backup=app.backup,
        deleter=app.deleter,
        processing=app.processing,
        replication=app.replication,
        missing_rows=app.missing_rows,
    )


def serve(settings: Settings) -> None:
    """Serve until SIGINT or SIGTERM, then shut down cleanly."""
    public = settings.public_resources  # a bad --disable-authz stops the start here
    if public - {"health", "ping"}:
        log.info("served without a token (--disable-authz): %s", ", ".join(sorted(public)))
    lock = DataDirLock(settings.data_dir)
    keep_freed_memory()  # megabyte bodies would fault their memory in on every request
    # Before the WAL replay: a taken address fails at once, naming itself and its flag.
    http_socket = _bind(settings.http_addr, "--http-addr")
    if split_host_port(settings.flight_addr)[1] != 0:
        _bind(settings.flight_addr, "--flight-addr").close()
    authorizer = authorizer_for(settings)
    app = build_app(settings, authorizer)
    persister, follower = app.persister, app.follower
    persister.start()
    follower.start()
    app.continuous_queries.start()
    app.processing.start()
    app.subscriptions.start()
    tls = TlsFiles.from_paths(settings.tls_cert, settings.tls_key)
    http_scheme, flight_scheme = schemes(tls)
    flight_host, flight_port = split_host_port(settings.flight_addr)
    flight = _start_flight(
        settings.flight_addr,
        lambda: _flight_server(
            f"{flight_scheme}://{flight_host}:{flight_port}",
            app,
            authorizer,
            **(tls.flight_kwargs() if tls else {}),
        ),
    )
    flights = [flight]
    http_protocol: type[asyncio.Protocol] = with_header_timeout(settings.http_idle_timeout_seconds)
    if settings.http_grpc:
        # gRPC on the HTTP port is piped to a second Flight server on a private Unix socket;
        # TLS, if any, is the HTTP port's (see http/shared_port.py).
        socket_dir = Path(tempfile.mkdtemp(prefix="flight-iox-grpc-"))
        upstream = str(socket_dir / "flight.sock")
        flights.append(_flight_server(f"grpc+unix://{upstream}", app, authorizer))
        http_protocol = port_sharing(http_protocol, upstream, settings.http_idle_timeout_seconds)
    for server in flights:
        threading.Thread(target=server.serve, name="flight", daemon=True).start()
    http_host, http_port = http_socket.getsockname()[:2]
    app.node.start(
        f"{http_scheme}://{http_host}:{http_port}", f"{flight_scheme}://{flight_host}:{flight.port}"
    )
    app.replication.start(f"{http_scheme}://{http_host}:{http_port}")

    def shutdown() -> None:
        log.info("shutting down")
        app.replication.stop()
        app.streams.close()
        for server in flights:
            server.shutdown()
        if settings.http_grpc:
            shutil.rmtree(socket_dir, ignore_errors=True)
        app.processing.stop()
        app.subscriptions.stop()
        follower.stop()
        app.continuous_queries.stop()
        app.node.stop()
        try:
            persister.stop()
        finally:
            app.close()
        lock.release()
        log.info("stopped")

    http_app = create_app(http_services(app), settings, on_shutdown=shutdown, authorizer=authorizer)
    config = uvicorn.Config(
        http_app,
        log_level=settings.log_level.lower(),
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=10,
        # Idle connections and late request headers are closed (see http/connections.py).
        http=http_protocol,
        timeout_keep_alive=max(1, round(settings.http_idle_timeout_seconds)),
        h11_max_incomplete_event_size=64 * 1024,  # request line and headers
        **(tls.uvicorn_kwargs() if tls else {}),
    )
    config.load()
    if tls and settings.http_grpc:
        assert config.ssl is not None
        config.ssl.set_alpn_protocols(ALPN_PROTOCOLS)  # gRPC clients need h2 negotiated
    steady_interpreter()  # no full collection walks what was built above
    # Printed whatever the log level: operators and scripts wait for this line.
    print(
        f"flight-iox ready: http={http_scheme}://{http_host}:{http_port} "
        f"flight={flight_scheme}://{flight_host}:{flight.port} data_dir={settings.data_dir}",
        file=sys.stderr,
        flush=True,
    )
    # uvicorn handles SIGINT/SIGTERM itself, then re-raises the signal after its shutdown; these
    # handlers turn that re-raise into a normal exit (status 0) instead of death by signal.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _exit_cleanly)
    uvicorn.Server(config).run(sockets=[http_socket])


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)
