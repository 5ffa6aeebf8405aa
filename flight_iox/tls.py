"""TLS for both servers from one certificate and key (``--tls-cert``, ``--tls-key``).

The same PEM files serve HTTPS (uvicorn) and Flight over ``grpc+tls``
(``pyarrow.flight``). Both or neither must be given.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.flight as flight

from flight_iox.errors import FlightIoxError


@dataclass(frozen=True)
class TlsFiles:
    """A PEM certificate chain and its private key."""

    cert: Path
    key: Path

    @classmethod
    def from_paths(cls, cert: Path | None, key: Path | None) -> TlsFiles | None:
        """The pair, None when neither is given; one without the other is an error."""
        if cert is None and key is None:
            return None
        if cert is None or key is None:
            raise FlightIoxError("TLS needs both --tls-cert and --tls-key")
        for path in (cert, key):
            if not path.is_file():
                raise FlightIoxError(f"TLS file not found: {path}")
        return cls(cert, key)

    def flight_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``FlightServerBase``."""
        pair = flight.CertKeyPair(self.cert.read_bytes(), self.key.read_bytes())
        return {"tls_certificates": [pair]}

    def uvicorn_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``uvicorn.Config``."""
        return {"ssl_certfile": str(self.cert), "ssl_keyfile": str(self.key)}


def schemes(tls: TlsFiles | None) -> tuple[str, str]:
    """The (HTTP, Flight) URL schemes, with or without TLS."""
    return ("https", "grpc+tls") if tls else ("http", "grpc")
