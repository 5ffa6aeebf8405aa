"""What a subscription is, as InfluxDB 1.x's ``CREATE SUBSCRIPTION`` defines it.

``CREATE SUBSCRIPTION "s" ON "db"."autogen" DESTINATIONS ALL|ANY 'http://host:port', ...``:
every accepted write to ``db`` is POSTed as line protocol to ``<destination>/write``,
to ALL destinations or to ANY one of them. Definitions are kept in ``catalog.json``
(``SchemaCatalog.add_object``, kind ``subscription``) and go with their database.

Destinations are checked here, once: ``http`` or ``https`` with a host (InfluxDB 1.x
also has ``udp``; it is refused, naming the scheme). A URL may carry ``user:password@``,
sent as HTTP Basic credentials, and is shown with the password masked.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from urllib.parse import urlsplit, urlunsplit

from flight_iox.errors import BadRequestError, NotFoundError

KIND = "subscription"  # the catalog's name for these definitions
RETENTION_POLICY = "autogen"  # the one retention policy of every flight-iox database
MAX_DESTINATIONS = 64


class Mode(StrEnum):
    """ALL: every destination gets every write; ANY: each write goes to one of them."""

    ALL = "ALL"
    ANY = "ANY"


@dataclass(frozen=True)
class Subscription:
    """One subscription's definition."""

    database: str
    name: str
    mode: Mode
    destinations: tuple[str, ...]
    retention_policy: str = RETENTION_POLICY

    def shown(self) -> Subscription:
        """The definition as listed: passwords in destination URLs masked."""
        return replace(self, destinations=tuple(masked(d) for d in self.destinations))

    def record(self) -> dict[str, object]:
        """The JSON kept in the catalog."""
        return {
            "mode": self.mode.value,
            "destinations": list(self.destinations),
            "retention_policy": self.retention_policy,
        }

    @staticmethod
    def from_record(database: str, name: str, record: dict[str, object]) -> Subscription:
        """Read back what ``record`` wrote."""
        destinations = record.get("destinations")
        assert isinstance(destinations, list)
        return Subscription(
            database,
            name,
            Mode(str(record["mode"])),
            tuple(str(d) for d in destinations),
            str(record.get("retention_policy", RETENTION_POLICY)),
        )


def check_retention_policy(policy: str | None) -> str:
    """Every database has the one policy ``autogen`` (InfluxDB 1.x's message otherwise)."""
    if policy is None or policy == RETENTION_POLICY:
        return RETENTION_POLICY
    raise NotFoundError(f"retention policy not found: {policy}")


def check_destination(url: str) -> str:
    """The URL, if it is one a subscription may post to; ``BadRequestError`` naming it if not."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise BadRequestError(f"invalid subscription URL: {url}") from None
    if parts.scheme not in ("http", "https"):
        raise BadRequestError(
            f"invalid subscription URL: {url} (flight-iox posts to http:// and https:// only)"
        )
    if not parts.hostname:
        raise BadRequestError(f"invalid subscription URL: {url} (no host)")
    if parts.query or parts.fragment:
        raise BadRequestError(f"invalid subscription URL: {url} (no query or fragment allowed)")
    return url


def check_destinations(urls: list[str]) -> tuple[str, ...]:
    """Every destination checked; at least one, no repeats."""
    if not urls:
        raise BadRequestError("a subscription needs at least one destination")
    if len(urls) > MAX_DESTINATIONS:
        raise BadRequestError(f"a subscription has at most {MAX_DESTINATIONS} destinations")
    if len(set(urls)) != len(urls):
        raise BadRequestError("a subscription names a destination twice")
    return tuple(check_destination(u) for u in urls)


def masked(url: str) -> str:
    """The URL as shown: a password in it replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


def write_url(destination: str) -> tuple[str, tuple[str, str] | None]:
    """Where a destination's writes go (``<base>/write``) and its Basic credentials."""
    parts = urlsplit(destination)
    host = parts.netloc.rpartition("@")[2]
    path = parts.path.rstrip("/") + "/write"
    url = urlunsplit((parts.scheme, host, path, "", ""))
    if parts.username is None:
        return url, None
    return url, (parts.username, parts.password or "")
