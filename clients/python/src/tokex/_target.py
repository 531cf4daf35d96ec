"""Azure SDK scopes → the tokex target they name (mirrors ``targetOf`` in client/tokex-credential.ts)."""

import re
from typing import NamedTuple, Optional, Sequence

_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)


class Target(NamedTuple):
    resource: str
    #: Space-separated tokex scopes; None asks for everything the policy allows (``.default``).
    scope: Optional[str]


def target_of(scopes: Sequence[str]) -> Target:
    """Azure SDK scopes name a resource and a permission: ``https://vault.azure.net/.default``,
    ``https://workspace.internal/jobs.read``. All must share one resource; ``.default`` (alone) asks
    for everything the policy allows, other names are passed to tokex as scopes.
    """
    names = [s for s in scopes if s != ""]
    if not names:
        raise ValueError("TokexCredential: at least one scope is required")
    split = []
    for scope in names:
        if not isinstance(scope, str):
            raise TypeError("TokexCredential: scopes must be strings")
        cut = scope.rfind("/")
        if cut <= 0 or not _SCHEME.match(scope):
            raise ValueError(f'TokexCredential: scope "{scope}" does not name a resource (<resource>/<scope>)')
        split.append((scope[:cut], scope[cut + 1 :]))
    resource = split[0][0]
    if any(r != resource for r, _ in split):
        raise ValueError("TokexCredential: all scopes must name the same resource")
    wanted = [name for _, name in split]
    if ".default" in wanted:
        if len(wanted) > 1:
            raise ValueError('TokexCredential: ".default" cannot be combined with other scopes')
        return Target(resource, None)
    return Target(resource, " ".join(wanted))
