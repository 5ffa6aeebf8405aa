"""The server's ``Authorizer`` from its settings, with the safety rule on auth off.

``--auth`` defaults to ``off`` when every listen address is loopback and to
``required`` otherwise. ``--auth off`` on a non-loopback address is refused
unless ``--i-know-auth-is-off`` is given too.
"""

from __future__ import annotations

import logging

from flight_iox.auth.policy import AuthMode, Authorizer, default_mode, is_loopback
from flight_iox.auth.tokens import FileTokenStore
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
    store = FileTokenStore(settings.data_dir / TOKEN_FILE)
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
