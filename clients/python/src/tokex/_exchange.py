"""The caller's side of RFC 8693 against tokex, with no I/O: the request to send and how to read
the answer (mirrors client/exchange.ts). The sync and async credentials differ only in how they send.
"""

import ipaddress
import json
from typing import Any, Mapping, NamedTuple, Optional
from urllib.parse import urlsplit

from azure.core.rest import HttpRequest

from ._errors import TokexAuthenticationError

TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
DEFAULT_TIMEOUT_SECONDS = 15.0


class ExchangeResult(NamedTuple):
    access_token: str
    expires_in: int
    scope: str
    #: When the token expires, in seconds since the epoch (from ``expires_in`` and the local clock).
    expires_on: int
    correlation_id: Optional[str]


def check_endpoint(endpoint: str) -> str:
    """tokex's base URL without a trailing slash. https only, except on loopback (local development
    and tests): the caller's own token travels in the request body.
    """
    if not isinstance(endpoint, str):
        raise TypeError('TokexCredential: "endpoint" must be a string')
    try:
        url = urlsplit(endpoint)
        host = url.hostname or ""
        url.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as err:
        raise ValueError(f'TokexCredential: "endpoint" is not a URL ({err})') from None
    if url.scheme == "https" and host:
        pass
    elif url.scheme == "http" and _is_loopback(host):
        pass
    else:
        raise ValueError('TokexCredential: "endpoint" must be an https URL (http only on loopback)')
    if url.path not in ("", "/") or url.query or url.fragment or url.username or url.password:
        # tokex's routes have no prefix: /token sits at the root, as the TypeScript client assumes.
        raise ValueError('TokexCredential: "endpoint" must be tokex\'s base URL: scheme, host and port only')
    return f"{url.scheme}://{url.netloc}"


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def token_request(endpoint: str, subject_token: str, resource: str, scope: Optional[str]) -> HttpRequest:
    form = {
        "grant_type": TOKEN_EXCHANGE_GRANT,
        "subject_token": subject_token,
        "subject_token_type": ACCESS_TOKEN_TYPE,
        "requested_token_type": ACCESS_TOKEN_TYPE,
        "resource": resource,
    }
    if scope:
        form["scope"] = scope
    return HttpRequest("POST", f"{endpoint}/token", data=form, headers={"Accept": "application/json"})


def network_error(endpoint: str, err: Exception) -> TokexAuthenticationError:
    # The exception's text names the host and the cause; it never holds the request body.
    return TokexAuthenticationError("network_error", description=f"{endpoint}: {type(err).__name__}: {err}")


def read_answer(status: int, headers: Mapping[str, str], body: bytes, started: float) -> ExchangeResult:
    """The token from a 200, or the TokexAuthenticationError any other answer means."""
    correlation_id = headers.get("x-correlation-id")
    try:
        parsed: Any = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        parsed = None
    if not isinstance(parsed, dict):
        code = "invalid_response" if 200 <= status < 300 else "server_error"
        raise TokexAuthenticationError(code, status, correlation_id, "the answer is not a JSON object")
    if not 200 <= status < 300:
        error = parsed.get("error")
        description = parsed.get("error_description")
        raise TokexAuthenticationError(
            error if isinstance(error, str) else "server_error",
            status,
            correlation_id,
            description if isinstance(description, str) else None,
            _retry_after(headers.get("retry-after")),
        )
    token, expires_in = parsed.get("access_token"), parsed.get("expires_in")
    if not isinstance(token, str) or not token or isinstance(expires_in, bool) or not isinstance(expires_in, int):
        raise TokexAuthenticationError("invalid_response", status, correlation_id, "no access_token or expires_in")
    return ExchangeResult(token, expires_in, str(parsed.get("scope") or ""), int(started) + expires_in, correlation_id)


def _retry_after(value: Optional[str]) -> Optional[float]:
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and seconds >= 0 else None

