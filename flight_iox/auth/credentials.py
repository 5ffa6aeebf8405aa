"""Where a token may be in a request, in the forms InfluxDB clients send it.

``Authorization: Bearer <t>``, ``Authorization: Token <t>`` (InfluxDB 2
clients), ``Authorization: Basic base64(user:<t>)`` (the token is the
password; the user name is ignored) and, on HTTP only, the v1 ``?p=<t>``
query parameter. The Flight handshake is Basic as well.
"""

from __future__ import annotations

import base64
import binascii

from flight_iox.errors import UnauthorizedError

_SCHEMES = ("bearer", "token")


def token_from_authorization(header: str | None) -> str | None:
    """The token in an ``Authorization`` header value, or None when there is none."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    scheme, value = scheme.lower(), value.strip()
    if scheme in _SCHEMES and value:
        return value
    if scheme == "basic" and value:
        return basic_password(value)
    raise UnauthorizedError("unsupported Authorization header: use Bearer, Token or Basic")


def basic_password(value: str) -> str:
    """The password of a Basic credential (base64 of ``user:password``)."""
    # arrow-go (the ADBC driver) sends base64 without padding.
    padded = value + "=" * (-len(value) % 4)
    try:
        decoded = base64.b64decode(padded, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise UnauthorizedError("malformed Basic credentials") from None
    user, sep, password = decoded.partition(":")
    if not sep:
        raise UnauthorizedError("malformed Basic credentials: expected user:password")
    # Some clients put the token in the user name and leave the password empty.
    return password or user
