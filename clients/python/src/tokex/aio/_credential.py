"""tokex.aio.TokexCredential: an azure-core AsyncTokenCredential whose tokens come from tokex."""

import asyncio
import time
from typing import Any, Dict, Optional, Tuple

from azure.core import AsyncPipelineClient
from azure.core.credentials import AccessToken
from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import AzureError
from azure.core.pipeline.policies import UserAgentPolicy

from .. import _common
from .._credential import USER_AGENT, AccessTokenInfo
from .._exchange import ExchangeResult, network_error, read_answer, token_request


class TokexCredential:
    """Async twin of :class:`tokex.TokexCredential`, with the same arguments and behaviour.

    ``caller_credential`` is an async credential (default ``azure.identity.aio.DefaultAzureCredential()``).
    Concurrent ``get_token`` calls for one (resource, scopes) share one exchange. Sends with
    azure-core's default async transport (aiohttp), as ``azure.identity.aio`` does.
    """

    def __init__(
        self,
        endpoint: str,
        *,
        scope: str,
        caller_credential: Optional[AsyncTokenCredential] = None,
        targets: _common.Targets = None,
        timeout: float = _common.DEFAULT_TIMEOUT,
        **kwargs: Any,
    ) -> None:
        self._settings = _common.settings(endpoint, scope, targets, timeout)
        self._owns_caller = caller_credential is None
        if caller_credential is None:
            from azure.identity.aio import DefaultAzureCredential

            caller_credential = DefaultAzureCredential()
        self._caller = caller_credential
        self._client = AsyncPipelineClient(
            base_url=self._settings.endpoint, policies=[UserAgentPolicy(base_user_agent=USER_AGENT)], **kwargs
        )
        self._cache: Dict[Tuple[str, str], _common.Entry] = {}
        # asyncio locks are made lazily: before Python 3.10 one binds to the loop current at creation.
        self._locks: Dict[Tuple[str, str], asyncio.Lock] = {}

    async def get_token(
        self, *scopes: str, claims: Optional[str] = None, tenant_id: Optional[str] = None, **kwargs: Any
    ) -> AccessToken:
        """As :meth:`tokex.TokexCredential.get_token`."""
        entry = await self._entry(scopes, force=claims is not None)
        return AccessToken(entry.token, entry.expires_on)

    if AccessTokenInfo is not None:

        async def get_token_info(self, *scopes: str, options: Optional[Dict[str, Any]] = None) -> "AccessTokenInfo":
            entry = await self._entry(scopes, force=(options or {}).get("claims") is not None)
            return AccessTokenInfo(entry.token, entry.expires_on, token_type="Bearer", refresh_on=entry.refresh_on)

    async def _entry(self, scopes: Tuple[str, ...], force: bool) -> _common.Entry:
        request = _common.request_for(self._settings, scopes)
        cached = self._cache.get(request.key)
        if not force and _common.fresh(cached):
            return cached  # type: ignore[return-value]
        lock = self._locks.get(request.key)
        if lock is None:
            lock = self._locks[request.key] = asyncio.Lock()
        async with lock:
            cached = self._cache.get(request.key)
            if not force and _common.fresh(cached):
                return cached  # type: ignore[return-value]  # the exchange we waited for got it
            entry = _common.entry_for(await self._exchange(request))
            self._cache[request.key] = entry
            return entry

    async def _exchange(self, request: _common.Request) -> ExchangeResult:
        subject = _common.subject_token(self._settings, await self._caller.get_token(self._settings.scope))
        http = token_request(self._settings.endpoint, subject, request.resource, request.scope)
        started = time.time()
        timeout = self._settings.timeout
        try:
            response = await self._client.send_request(http, connection_timeout=timeout, read_timeout=timeout)
            body = await response.read()
        except AzureError as err:
            raise network_error(self._settings.endpoint, err) from None
        return read_answer(response.status_code, response.headers, body, started)

    async def close(self) -> None:
        await self._client.close()
        if self._owns_caller:
            await self._caller.close()

    async def __aenter__(self) -> "TokexCredential":
        await self._client.__aenter__()
        return self

    async def __aexit__(self, *args: Any) -> None:
        await self.close()
