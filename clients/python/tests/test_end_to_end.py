"""TokexCredential with the real Azure SDK for Python, against tokex and the HTTPS fakes.

The caller is a managed identity: DefaultAzureCredential finds IDENTITY_ENDPOINT/IDENTITY_HEADER
and gets a JWT for tokex's API (api://tokex) from the caller's managed-identity fake; tokex's policy
admits it by `when.kind: managed-identity`. test/clients/python.test.ts then checks that every token
the fakes received is one tokex's own managed identity was issued for that resource.
"""

import asyncio
import importlib
import threading
import time

import azure.core.credentials
import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import ManagedIdentityCredential
from azure.keyvault.secrets import SecretClient
from azure.keyvault.secrets.aio import SecretClient as AsyncSecretClient

import tokex
import tokex._credential
import tokex.aio
from tokex import TokexAuthenticationError, TokexCredential


class Counting:
    """The caller's own credential (a real ManagedIdentityCredential), counting how often it is asked."""

    def __init__(self) -> None:
        self.inner = ManagedIdentityCredential()
        self.calls = 0
        self.lock = threading.Lock()

    def get_token(self, *scopes, **kwargs):
        with self.lock:
            self.calls += 1
        assert scopes == ("api://tokex/.default",)
        return self.inner.get_token(*scopes, **kwargs)


class StaticToken:
    def __init__(self, token: str) -> None:
        self.token = token

    def get_token(self, *scopes, **kwargs):
        return azure.core.credentials.AccessToken(self.token, int(time.time()) + 3600)


def test_secret_client_reads_a_secret_with_tokex_credential_and_default_azure_credential(endpoints):
    # No caller_credential: DefaultAzureCredential, here the job's managed identity.
    with TokexCredential(endpoints.tokex, scope=endpoints.scope) as credential:
        client = SecretClient(endpoints.vault, credential, verify_challenge_resource=False)
        assert client.get_secret("db-password").value == "from-the-vault"


def test_caches_per_scope_and_concurrent_threads_share_one_exchange(endpoints):
    caller = Counting()
    credential = TokexCredential(endpoints.tokex, scope=endpoints.scope, caller_credential=caller)
    tokens = []
    barrier = threading.Barrier(8)

    def ask():
        barrier.wait()
        tokens.append(credential.get_token("https://workspace.internal/jobs.read"))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    again = credential.get_token("https://workspace.internal/jobs.read")
    assert len({t.token for t in tokens + [again]}) == 1
    assert caller.calls == 1
    assert again.expires_on - time.time() > 14 * 60
    other = credential.get_token("https://workspace.internal/jobs.read", "https://workspace.internal/jobs.submit")
    assert other.token != again.token and caller.calls == 2
    # A claims challenge skips the cache.
    assert credential.get_token("https://workspace.internal/jobs.read", claims='{"access_token":{}}').token != again.token
    assert caller.calls == 3


def test_a_refusal_raises_client_authentication_error_with_oauth_error_and_correlation_id_and_is_not_cached(endpoints):
    credential = TokexCredential(endpoints.tokex, scope=endpoints.scope, caller_credential=Counting())
    for _ in range(2):
        with pytest.raises(ClientAuthenticationError) as raised:
            credential.get_token("https://elsewhere.internal/.default")
        error = raised.value
        assert isinstance(error, TokexAuthenticationError)
        assert (error.oauth_error, error.status_code, error.refused) == ("invalid_target", 400, True)
        assert len(error.correlation_id) == 36 and error.correlation_id in error.message
    assert credential._caller.calls == 2


def test_a_caller_kind_no_rule_admits_is_refused(endpoints):
    # A user's delegated token: the only rule wants kind managed-identity.
    credential = TokexCredential(endpoints.tokex, scope=endpoints.scope, caller_credential=StaticToken(endpoints.user_token))
    with pytest.raises(TokexAuthenticationError) as raised:
        credential.get_token("https://vault.azure.net/.default")
    assert (raised.value.oauth_error, raised.value.status_code) == ("invalid_request", 400)
    assert raised.value.correlation_id


def test_tokex_unreachable_is_a_retryable_network_error(endpoints):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    credential = TokexCredential(f"http://127.0.0.1:{port}", scope=endpoints.scope, caller_credential=Counting(), timeout=5)
    with pytest.raises(TokexAuthenticationError) as raised:
        credential.get_token("https://workspace.internal/.default")
    assert (raised.value.oauth_error, raised.value.refused) == ("network_error", False)


def test_tokex_not_answering_is_a_network_error_after_the_timeout(endpoints):
    import socket

    with socket.socket() as silent:  # accepts connections (the kernel's backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        endpoint = "http://127.0.0.1:%d" % silent.getsockname()[1]
        # A short timeout: the test waits it out (the behaviour is the same at any length).
        credential = TokexCredential(endpoint, scope=endpoints.scope, caller_credential=Counting(), timeout=0.2)
        with pytest.raises(TokexAuthenticationError) as raised:
            credential.get_token("https://workspace.internal/.default")
    assert (raised.value.oauth_error, raised.value.refused) == ("network_error", False)


def test_the_async_twin_with_the_async_secret_client(endpoints):
    async def main():
        async with tokex.aio.TokexCredential(endpoints.tokex, scope=endpoints.scope) as credential:
            async with AsyncSecretClient(endpoints.vault, credential, verify_challenge_resource=False) as client:
                secret = await client.get_secret("db-password")
            first, *rest = await asyncio.gather(*(credential.get_token("https://workspace.internal/jobs.submit") for _ in range(8)))
            assert {t.token for t in rest} == {first.token}
            with pytest.raises(TokexAuthenticationError) as raised:
                await credential.get_token("https://elsewhere.internal/.default")
            assert raised.value.oauth_error == "invalid_target"
            return secret.value

    assert asyncio.run(main()) == "from-the-vault"


def test_get_token_info_only_where_azure_core_defines_it(endpoints):
    if hasattr(azure.core.credentials, "AccessTokenInfo"):
        credential = TokexCredential(endpoints.tokex, scope=endpoints.scope, caller_credential=Counting())
        info = credential.get_token_info("https://workspace.internal/jobs.read")
        assert info.token_type == "Bearer" and info.refresh_on == info.expires_on - 300
    else:
        # Debian's azure-core 1.26 predates SupportsTokenInfo: offering half of it would mislead SDKs.
        assert not hasattr(TokexCredential, "get_token_info")
        assert not hasattr(tokex.aio.TokexCredential, "get_token_info")


def test_get_token_info_with_a_stand_in_access_token_info_as_azure_core_1_31_defines_it(endpoints, monkeypatch):
    class AccessTokenInfo:
        def __init__(self, token, expires_on, *, token_type="Bearer", refresh_on=None):
            self.token, self.expires_on, self.token_type, self.refresh_on = token, expires_on, token_type, refresh_on

    if not hasattr(azure.core.credentials, "AccessTokenInfo"):
        monkeypatch.setattr(azure.core.credentials, "AccessTokenInfo", AccessTokenInfo, raising=False)
    try:
        module = importlib.reload(tokex._credential)
        credential = module.TokexCredential(endpoints.tokex, scope=endpoints.scope, caller_credential=Counting())
        info = credential.get_token_info("https://workspace.internal/jobs.read", options={"tenant_id": "ignored"})
        assert info.token_type == "Bearer"
        assert info.refresh_on == info.expires_on - 300
        assert info.token == credential.get_token("https://workspace.internal/jobs.read").token
    finally:
        monkeypatch.undo()
        importlib.reload(tokex._credential)
