"""The one HTTP helper of the client commands: a request with a token, errors as click errors.

``requests`` is imported on the first call, not with the module, so ``--help`` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from flight_iox.cli.addresses import check_http_host, http_failure

if TYPE_CHECKING:
    import requests


def auth_headers(token: str | None) -> dict[str, str]:
    """``Authorization: Bearer <token>`` when there is a token."""
    return {"Authorization": f"Bearer {token}"} if token else {}


def error_message(reply: requests.Response) -> str:
    """The ``error`` of the server's JSON body, else the body or the reason."""
    try:
        payload = reply.json()
    except ValueError:
        return reply.text[:200] or reply.reason
    if isinstance(payload, dict) and payload.get("error"):
        return str(payload["error"])
    return reply.text[:200]


def call(
    method: str,
    url: str,
    token: str | None,
    *,
    ca_cert: str | None = None,
    timeout: float = 60,
    **kwargs: Any,
) -> requests.Response:
    """Send one request; a network failure or an HTTP error becomes a ``ClickException``."""
    import requests

    check_http_host(url)
    try:
        reply = requests.request(
            method,
            url,
            headers=auth_headers(token),
            timeout=timeout,
            verify=ca_cert or True,
            **kwargs,
        )
    except requests.RequestException as error:
        raise click.ClickException(http_failure(url, error)) from None
    if reply.status_code >= 400:
        raise click.ClickException(f"{reply.status_code}: {error_message(reply)}")
    return reply


host_option = click.option("--host", default="http://127.0.0.1:8181", help="The server's HTTP URL.")
token_option = click.option(
    "--token", envvar="FLIGHT_IOX_TOKEN", default=None, help="API token (or FLIGHT_IOX_TOKEN)."
)
