"""The server's ``Authorizer`` from its settings, with the safety rule on auth off.

``--auth`` defaults to ``off`` when every listen address is loopback and to
``required`` otherwise. ``--auth off`` on a non-loopback address is refused
unless ``--i-know-auth-is-off`` is given too.

Tokens live in the data folder (``tokens.json``), or, when the catalog is PostgreSQL
(nodes sharing it form a cluster), in the catalog database, so every node accepts the
same tokens (``catalog_tokens.py``).
"""

from __future__ import annotations

import logging

from flight_iox.auth.policy import AuthMode, Authorizer, default_mode, is_loopback
from flight_iox.auth.tokens import FileTokenStore, TokenStore
from flight_iox.config import Settings, split_host_port
from flight_iox.errors import FlightIoxError

log = logging.getLogger(__name__)

TOKEN_FILE = "tokens.json"


def authorizer_for(settings: Settings) -> Authorizer:
    """Decide the auth mode, refuse an unsafe one, and open the token store."""
    hosts = [split_host_port(a)[0] for a in (settings.http_addr, settings.flight_addr)]
    mode = AuthMode(settings.auth) if settings.auth else default_mode(hosts)
    exposed = sorted({h for h in hosts if not is_loopback(h)})
    if mode is AuthMode.OFF and exposed and not settings.auth_off_ok:
        raise FlightIoxError(
            f"refusing to listen on {', '.join(exposed)} with --auth off: anyone who can "
            "reach it could read and write everything. Use --auth required, or add "
            "--i-know-auth-is-off"
        )
    store = token_store(settings)
    if mode is AuthMode.REQUIRED and not any(r.admin for r in store.records()):
        if store.admin_created():
            log.warning(
                "auth is required and every admin token was revoked: recover one with "
                "`flight-iox token recover-admin --data-dir %s` while the server is stopped",
                settings.data_dir,
            )
        else:
            log.warning(
                "auth is required and there is no admin token yet: create it with "
                "POST /api/v3/configure/token/admin or `flight-iox token create --admin`"
            )
    log.info("auth: %s", mode.value)
    return Authorizer(mode, store)


def shared_token_uri(settings: Settings) -> str | None:
    """The catalog's PostgreSQL URI (SQLAlchemy's) when tokens are shared there, else None."""
    from flight_iox.catalog_settings import catalog_config  # PyIceberg: only here

    config = catalog_config(settings)
    uri = config.catalog_uri() if config.is_sql else None
    return uri if uri is not None and uri.startswith("postgresql") else None


def token_store(settings: Settings) -> TokenStore:
    """The catalog's shared store on PostgreSQL (a local ``tokens.json`` is copied in),
    else ``tokens.json`` in the data folder."""
    local = settings.data_dir / TOKEN_FILE
    uri = shared_token_uri(settings)
    if uri is None:
        return FileTokenStore(local)
    from flight_iox.auth.catalog_tokens import CatalogTokenStore  # SQLAlchemy: only here

    return CatalogTokenStore(uri, local)
