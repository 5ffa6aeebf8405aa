"""Session options (``catalog``, ``schema``) behind a session cookie.

Flight's session actions (SetSessionOptions, GetSessionOptions, CloseSession)
keep options per session, and the session is a cookie. pyarrow asks a server
middleware for its response headers *before* the handler runs, so the cookie
cannot carry options the handler has just set: instead, every action call that
comes without a known session gets a fresh random id in ``Set-Cookie``, and the
options live in this process under that id (``SessionStore``, bounded, least
recently used first out). Session options therefore belong to one server; the
stateless way to pick a database, which any node serves, is the ``database``
header. Clients need cookie support (ADBC:
``adbc.flight.sql.rpc.with_cookie_middleware=true``; JDBC has it on).

- ``catalog``: the default database, a string naming an existing database the
  caller may read. It wins over the ``database`` header.
- ``schema``: only ``iox`` (where user tables are) is accepted.

The session action bodies are raw Flight.proto messages, not ``Any``-wrapped.
Only actions set or close options, so other calls without a cookie get a session with
no id and no cookie: a plain-ADBC query, whose client keeps no cookie, makes no random
id for its GetFlightInfo and DoGet (its two actions, CreatePreparedStatement and
ClosePreparedStatement, still get one each).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from typing import TYPE_CHECKING

from google.protobuf.message import DecodeError, Message

from flight_iox.errors import BadRequestError
from flight_iox.flightsql.generated import FlightSql_pb2 as pb
from flight_iox.lru import LockedLru

if TYPE_CHECKING:
    from flight_iox.flightsql.commands import ActionHandler, Call

COOKIE_NAME = "flight_iox_session"
USER_SCHEMA = "iox"
MAX_SESSIONS = 10_000
_ERR = pb.SetSessionOptionsResult


@dataclass
class SessionOptions:
    """The options of one session."""

    catalog: str | None = None
    schema: str | None = None


class SessionStore:
    """Session options by session id, in memory, least recently used dropped first."""

    def __init__(self, capacity: int = MAX_SESSIONS) -> None:
        self._sessions: LockedLru[str, SessionOptions] = LockedLru(capacity)

    def get(self, session_id: str) -> SessionOptions | None:
        """The options of a session, or None when it is unknown."""
        return self._sessions.get(session_id)

    def put(self, session_id: str, options: SessionOptions) -> None:
        """Keep ``options`` for ``session_id``."""
        self._sessions.put(session_id, options)

    def drop(self, session_id: str) -> None:
        """Forget a session."""
        self._sessions.pop(session_id)


@dataclass
class Session:
    """One call's session: its id, its options, and the cookie to send (for a new id)."""

    store: SessionStore = field(default_factory=SessionStore)
    id: str = ""  # none: not kept (a call that cannot set options, or no middleware)
    options: SessionOptions = field(default_factory=SessionOptions)
    outgoing_cookie: str | None = None

    @classmethod
    def from_headers(
        cls, store: SessionStore, headers: Mapping[str, Sequence[str | bytes]], starts: bool
    ) -> Session:
        """The session a ``cookie`` header names; otherwise a new one and its cookie when
        ``starts`` (an action call), else one with no id."""
        for value in headers.get("cookie", ()):
            text = value.decode() if isinstance(value, bytes) else value
            try:
                morsel = SimpleCookie(text).get(COOKIE_NAME)
            except CookieError:
                continue
            if morsel is not None and morsel.value:
                options = store.get(morsel.value)
                return cls(store, morsel.value, options or SessionOptions())
        if not starts:
            return cls(store)
        session = cls(store, secrets.token_urlsafe(24))
        session.outgoing_cookie = f"{COOKIE_NAME}={session.id}; Path=/; HttpOnly"
        return session

    @property
    def catalog(self) -> str | None:
        """The session's default database, if one was set."""
        return self.options.catalog

    def save(self) -> None:
        """Keep the current options for the next calls of this session (one with an id)."""
        if self.id:
            self.store.put(self.id, self.options)

    def close(self) -> None:
        """Forget the session; the next call gets a new one."""
        self.options = SessionOptions()
        self.store.drop(self.id)


def _parse(message_class: type[Message], body: bytes) -> object:
    message = message_class()
    try:
        message.ParseFromString(body)
    except DecodeError as error:
        name = message_class.DESCRIPTOR.name
        raise BadRequestError(f"action body is not a {name}: {error}") from None
    return message


def _string(value: pb.SessionOptionValue) -> str | None:
    return value.string_value if value.WhichOneof("option_value") == "string_value" else None


def _set_catalog(call: Call, session: Session, value: pb.SessionOptionValue) -> int | None:
    if value.WhichOneof("option_value") is None:
        session.options.catalog = None
        return None
    name = _string(value)
    if name is None or name not in call.backend.database_names():
        return _ERR.INVALID_VALUE
    session.options.catalog = name
    return None


def _set_schema(call: Call, session: Session, value: pb.SessionOptionValue) -> int | None:
    if value.WhichOneof("option_value") is None:
        session.options.schema = None
        return None
    if _string(value) != USER_SCHEMA:
        return _ERR.INVALID_VALUE
    session.options.schema = USER_SCHEMA
    return None


_SETTERS = {"catalog": _set_catalog, "schema": _set_schema}


def set_session_options(call: Call, body: bytes) -> Iterable[bytes]:
    """Set ``catalog``/``schema``; other names and bad values come back as per-option errors."""
    request = _parse(pb.SetSessionOptionsRequest, body)
    result = pb.SetSessionOptionsResult()
    for name, value in request.session_options.items():  # type: ignore[attr-defined]
        setter = _SETTERS.get(name)
        error = setter(call, call.session, value) if setter else _ERR.INVALID_NAME
        if error is not None:
            result.errors[name].value = error
    call.session.save()
    return [result.SerializeToString()]


def get_session_options(call: Call, body: bytes) -> Iterable[bytes]:
    """The options in effect: the catalog (session, else header) and schema ``iox``."""
    _parse(pb.GetSessionOptionsRequest, body)
    result = pb.GetSessionOptionsResult()
    if call.database is not None:
        result.session_options["catalog"].string_value = call.database
    result.session_options["schema"].string_value = call.session.options.schema or USER_SCHEMA
    return [result.SerializeToString()]


def close_session(call: Call, body: bytes) -> Iterable[bytes]:
    """Forget the session's options."""
    _parse(pb.CloseSessionRequest, body)
    call.session.close()
    return [pb.CloseSessionResult(status=pb.CloseSessionResult.CLOSED).SerializeToString()]


def cancel_flight_info(call: Call, body: bytes) -> Iterable[bytes]:
    """Cancel the caller's running DoGet streams of the FlightInfo's tickets.

    Results are computed while DoGet streams, so a FlightInfo whose tickets are not being
    read has nothing running: NOT_CANCELLABLE (as after the stream ended).
    """
    request = _parse(pb.CancelFlightInfoRequest, body)
    assert isinstance(request, pb.CancelFlightInfoRequest)
    running = call.cancel_streams(request.info)
    status = pb.CANCEL_STATUS_CANCELLED if running else pb.CANCEL_STATUS_NOT_CANCELLABLE
    return [pb.CancelFlightInfoResult(status=status).SerializeToString()]


ACTIONS: dict[str, ActionHandler] = {
    "SetSessionOptions": set_session_options,
    "GetSessionOptions": get_session_options,
    "CloseSession": close_session,
    "CancelFlightInfo": cancel_flight_info,
}

ACTION_DESCRIPTIONS = {
    "SetSessionOptions": "Set session options catalog and schema (kept in a cookie).",
    "GetSessionOptions": "The session options in effect.",
    "CloseSession": "Close the session (drops the cookie).",
    "CancelFlightInfo": "Cancel the caller's running DoGet streams of a FlightInfo's tickets.",
}
