"""TokexCredential: an azure-core TokenCredential whose tokens come from tokex."""

import threading
import time
from typing import Any, Dict, Optional, Tuple

from azure.core import PipelineClient
from azure.core.credentials import AccessToken, TokenCredential
from azure.core.exceptions import AzureError
from azure.core.pipeline.policies import UserAgentPolicy

from . import _common
from ._errors import TokexAuthenticationError
from ._exchange import ExchangeResult, network_error, read_answer, token_request

try:  # azure-core >= 1.31 (the SupportsTokenInfo protocol); Debian's 1.26 predates it.
    from azure.core.credentials import AccessTokenInfo
except ImportError:  # pragma: no cover - depends on the installed azure-core
    AccessTokenInfo = None  # type: ignore[assignment,misc]

USER_AGENT = "tokex-python/0.1.0"


class TokexCredential:
    """A credential for any Azure SDK client that gets its tokens through tokex.

    ``get_token(*scopes)`` exchanges the caller's own Entra token (for ``scope``, the tokex API's,
    e.g. ``api://tokex/.default``, from ``caller_credential``) at tokex's ``/token`` (RFC 8693) for
    what the policy grants for the scopes' resource: ``https://ml.azure.com/.default`` asks for
    resource ``https://ml.azure.com``. Tokens are cached per (resource, scopes) until 5 minutes
    before they expire; one thread at a time exchanges for a given key while the others wait for
    its answer. Refusals and outages raise :class:`TokexAuthenticationError`, a
    ``ClientAuthenticationError`` carrying the OAuth error and tokex's correlation id.

    :param endpoint: tokex's base URL; https (http only on loopback).
    :keyword scope: the scope of the caller's own token: tokex's API, e.g. ``api://tokex/.default``.
    :keyword caller_credential: where the caller's own token comes from. Default
        ``DefaultAzureCredential()``: a service principal from ``AZURE_*`` settings, a managed
        identity, an Azure CLI session, … (the Azure ML workflows; see docs/azure-ml.md).
    :keyword targets: optionally, the resources this credential may be asked for: a list (each
        exchanged as itself) or a mapping from the resource an SDK asks for to the tokex target to
        ask for instead. Anything else is refused without calling tokex.
    :keyword float timeout: seconds per exchange (default 15).
    :keyword transport, connection_verify: passed to azure-core's pipeline (e.g. a CA bundle path).
    """

    def __init__(
        self,
        endpoint: str,
        *,
        scope: str,
        caller_credential: Optional[TokenCredential] = None,
        targets: _common.Targets = None,
        timeout: float = _common.DEFAULT_TIMEOUT,
        **kwargs: Any,
    ) -> None:
        self._settings = _common.settings(endpoint, scope, targets, timeout)
        self._owns_caller = caller_credential is None
        if caller_credential is None:
            from azure.identity import DefaultAzureCredential

            caller_credential = DefaultAzureCredential()
        self._caller = caller_credential
        # No retry or logging policies: one POST per exchange (the SDK above retries as it sees fit),
        # and nothing that could write the form holding the caller's token anywhere.
        self._client = PipelineClient(
            base_url=self._settings.endpoint, policies=[UserAgentPolicy(base_user_agent=USER_AGENT)], **kwargs
        )
        self._cache: Dict[Tuple[str, str], _common.Entry] = {}
        self._locks: Dict[Tuple[str, str], threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def get_token(
        self, *scopes: str, claims: Optional[str] = None, tenant_id: Optional[str] = None, **kwargs: Any
    ) -> AccessToken:
        """An access token for ``scopes`` (all naming one resource), from the cache or from tokex.

        ``tenant_id`` is not used: the caller's tenant is ``caller_credential``'s, and the token's
        tenant is tokex's policy's. ``claims`` (a claims challenge from the resource) skips the cache.
        """
        entry = self._entry(scopes, force=claims is not None)
        return AccessToken(entry.token, entry.expires_on)

    if AccessTokenInfo is not None:

        def get_token_info(self, *scopes: str, options: Optional[Dict[str, Any]] = None) -> "AccessTokenInfo":
            """azure-core's SupportsTokenInfo: the token with the time it should be refreshed."""
            entry = self._entry(scopes, force=(options or {}).get("claims") is not None)
            return AccessTokenInfo(entry.token, entry.expires_on, token_type="Bearer", refresh_on=entry.refresh_on)

    def _entry(self, scopes: Tuple[str, ...], force: bool) -> _common.Entry:
        request = _common.request_for(self._settings, scopes)
        cached = self._cache.get(request.key)
        if not force and _common.fresh(cached):
            return cached  # type: ignore[return-value]
        with self._lock_for(request.key):
            cached = self._cache.get(request.key)
            if not force and _common.fresh(cached):
                return cached  # type: ignore[return-value]  # another thread just refreshed it
            entry = _common.entry_for(self._exchange(request))
            self._cache[request.key] = entry
            return entry

    def _lock_for(self, key: Tuple[str, str]) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(key, threading.Lock())

    def _exchange(self, request: _common.Request) -> ExchangeResult:
        subject = _common.subject_token(self._settings, self._caller.get_token(self._settings.scope))
        http = token_request(self._settings.endpoint, subject, request.resource, request.scope)
        started = time.time()
        timeout = self._settings.timeout
        try:
            response = self._client.send_request(http, connection_timeout=timeout, read_timeout=timeout)
            body = response.read()
        except AzureError as err:
            raise network_error(self._settings.endpoint, err) from None
        return read_answer(response.status_code, response.headers, body, started)

    def close(self) -> None:
        self._client.close()
        if self._owns_caller:
            self._caller.close()  # type: ignore[attr-defined]

    def __enter__(self) -> "TokexCredential":
        self._client.__enter__()
        return self

    def __exit__(self, *args: Any) -> None:
        self.close()


__all__ = ["TokexCredential", "TokexAuthenticationError"]
