"""What the sync and async credentials share: settings, the target a request names, the cache entry."""

import time
from typing import Any, Dict, Iterable, Mapping, NamedTuple, Optional, Tuple, Union

from ._errors import TokexAuthenticationError
from ._exchange import DEFAULT_TIMEOUT_SECONDS, ExchangeResult, check_endpoint
from ._target import target_of

#: Per exchange, connecting and reading each.
DEFAULT_TIMEOUT = DEFAULT_TIMEOUT_SECONDS
#: Reuse an exchanged token until this long before it expires (half its life, for short ones).
REFRESH_BEFORE_EXPIRY_SECONDS = 300

Targets = Union[Mapping[str, str], Iterable[str], None]


class Settings(NamedTuple):
    endpoint: str
    scope: str
    #: Resource an SDK asks for → tokex target to exchange for; None: any resource, as itself.
    targets: Optional[Dict[str, str]]
    timeout: float


def settings(endpoint: str, scope: Any, targets: Targets, timeout: Any) -> Settings:
    if not isinstance(scope, str) or not scope:
        raise ValueError('TokexCredential: "scope" (the tokex API scope, e.g. api://tokex/.default) is required')
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise ValueError('TokexCredential: "timeout" must be a positive number of seconds')
    return Settings(check_endpoint(endpoint), scope, _targets(targets), float(timeout))


def _targets(targets: Targets) -> Optional[Dict[str, str]]:
    if targets is None:
        return None
    if isinstance(targets, str):
        raise TypeError('TokexCredential: "targets" is a list of resources or a mapping, not a string')
    pairs = targets.items() if isinstance(targets, Mapping) else ((t, t) for t in targets)
    out = {_bare(k): _bare(v) for k, v in pairs}
    if not out or not all(out.values()):
        raise ValueError('TokexCredential: "targets" must name at least one resource')
    return out


def _bare(resource: Any) -> str:
    if not isinstance(resource, str):
        raise TypeError("TokexCredential: targets must be strings")
    return resource.rstrip("/")


class Request(NamedTuple):
    key: Tuple[str, str]
    resource: str
    scope: Optional[str]


def request_for(config: Settings, scopes: Tuple[str, ...]) -> Request:
    """The tokex target and scopes an Azure SDK's scopes name, after the ``targets`` mapping."""
    target = target_of(scopes)
    resource = target.resource
    if config.targets is not None:
        mapped = config.targets.get(resource.rstrip("/"))
        if mapped is None:
            # Refused here, without asking tokex: this credential was not meant for that resource.
            raise TokexAuthenticationError(
                "invalid_target", description=f"{resource} is not among this credential's targets", refused=True
            )
        resource = mapped
    return Request((resource, target.scope or ""), resource, target.scope)


def subject_token(config: Settings, token: Any) -> str:
    """The caller's own token out of what its credential returned."""
    value = getattr(token, "token", None)
    if not isinstance(value, str) or not value:
        raise TokexAuthenticationError("caller_token_unavailable", description=f"no token for {config.scope}", refused=False)
    return value


class Entry(NamedTuple):
    token: str
    expires_on: int
    refresh_on: int


def entry_for(result: ExchangeResult) -> Entry:
    lifetime = result.expires_on - time.time()
    refresh_on = result.expires_on - min(REFRESH_BEFORE_EXPIRY_SECONDS, max(lifetime, 0) / 2)
    return Entry(result.access_token, result.expires_on, int(refresh_on))


def fresh(entry: Optional[Entry]) -> bool:
    return entry is not None and entry.refresh_on > time.time()

