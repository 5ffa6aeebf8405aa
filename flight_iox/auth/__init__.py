"""Authentication and authorisation, shared by the HTTP app and the Flight server.

- ``tokens``: token secrets, hashes, records, and the ``TokenStore`` Protocol
  with its file implementation.
- ``credentials``: reading a token from Authorization headers and ``?p=``.
- ``policy``: the auth mode, principals and permission checks (``Authorizer``).
- ``http`` / ``flight``: the middlewares that apply them to each transport.
- ``setup``: the server's ``Authorizer`` from its settings (default mode, safety rule).
"""

from __future__ import annotations

from flight_iox.auth.policy import ANONYMOUS, AuthMode, Authorizer, Principal, default_mode
from flight_iox.auth.tokens import Action, FileTokenStore, Permission, TokenRecord, TokenStore

__all__ = [
    "ANONYMOUS",
    "Action",
    "AuthMode",
    "Authorizer",
    "FileTokenStore",
    "Permission",
    "Principal",
    "TokenRecord",
    "TokenStore",
    "default_mode",
]
