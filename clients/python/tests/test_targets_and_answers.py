"""The credential's pure parts: scopes → target, endpoint checks, reading tokex's answers."""

import json

import pytest
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError

from tokex import TokexAuthenticationError, TokexCredential, target_of
from tokex import _common
from tokex._exchange import read_answer


class NeverCalled:
    def get_token(self, *scopes, **kwargs):
        raise AssertionError("the caller's credential must not be asked")


def test_maps_azure_sdk_scopes_to_a_tokex_target():
    assert target_of(["https://vault.azure.net/.default"]) == ("https://vault.azure.net", None)
    assert target_of(["https://ml.azure.com/.default"]) == ("https://ml.azure.com", None)
    assert target_of(["https://w.internal/a", "https://w.internal/b"]) == ("https://w.internal", "a b")
    assert target_of(["api://my-api/.default"]) == ("api://my-api", None)
    with pytest.raises(ValueError, match="same resource"):
        target_of(["https://a/x", "https://b/y"])
    with pytest.raises(ValueError, match="does not name a resource"):
        target_of(["jobs.read"])
    with pytest.raises(ValueError, match="cannot be combined"):
        target_of(["https://a/.default", "https://a/x"])
    with pytest.raises(ValueError, match="at least one scope"):
        target_of([])


@pytest.mark.parametrize(
    "endpoint",
    ["http://tokex.example", "ftp://127.0.0.1", "tokex.example", "https://user:pw@tokex.example", "https://tokex.example/?x=1", "http://127.0.0.1.example", "https://tokex.example/api"],
)
def test_endpoint_is_https_except_on_loopback(endpoint):
    with pytest.raises(ValueError, match="endpoint"):
        TokexCredential(endpoint, scope="api://tokex/.default", caller_credential=NeverCalled())


@pytest.mark.parametrize("endpoint", ["https://tokex.example", "http://127.0.0.1:7071", "http://localhost:7071/", "http://[::1]:7071"])
def test_accepts_https_and_loopback_http(endpoint):
    TokexCredential(endpoint, scope="api://tokex/.default", caller_credential=NeverCalled()).close()


class Returns:
    def __init__(self, value):
        self.value = value

    def get_token(self, *scopes, **kwargs):
        return self.value


@pytest.mark.parametrize("returned", [None, AccessToken("", 0)])
def test_no_token_from_the_caller_credential_is_caller_token_unavailable(returned):
    credential = TokexCredential("https://tokex.example", scope="api://tokex/.default", caller_credential=Returns(returned))
    with pytest.raises(TokexAuthenticationError) as raised:
        credential.get_token("https://ml.azure.com/.default")
    assert (raised.value.oauth_error, raised.value.refused) == ("caller_token_unavailable", False)
    assert "api://tokex/.default" in raised.value.message


def test_scope_is_required():
    with pytest.raises(TypeError):
        TokexCredential("https://tokex.example", caller_credential=NeverCalled())  # type: ignore[call-arg]
    with pytest.raises(ValueError, match='"scope"'):
        TokexCredential("https://tokex.example", scope="", caller_credential=NeverCalled())


def test_targets_outside_the_list_are_refused_without_calling_tokex():
    credential = TokexCredential(
        "https://tokex.example", scope="api://tokex/.default", caller_credential=NeverCalled(), targets=["https://ml.azure.com"]
    )
    with pytest.raises(TokexAuthenticationError) as refused:
        credential.get_token("https://management.azure.com/.default")
    assert (refused.value.oauth_error, refused.value.refused, refused.value.status_code) == ("invalid_target", True, None)
    with pytest.raises(ValueError, match="at least one"):
        TokexCredential("https://tokex.example", scope="api://tokex/.default", caller_credential=NeverCalled(), targets=[])


def test_targets_map_the_resource_an_sdk_asks_for_to_the_tokex_target():
    config = _common.settings(
        "https://tokex.example", "api://tokex/.default", {"https://ml.azure.com/": "https://ml-proxy.internal"}, 15
    )
    assert _common.request_for(config, ("https://ml.azure.com/.default",)) == (
        ("https://ml-proxy.internal", ""),
        "https://ml-proxy.internal",
        None,
    )
    assert _common.request_for(config, ("https://ml.azure.com/jobs.read",)).scope == "jobs.read"
    with pytest.raises(TokexAuthenticationError, match="not among this credential's targets"):
        _common.request_for(config, ("https://vault.azure.net/.default",))


def answer(status, body, headers=None):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return read_answer(status, headers or {}, raw, 1_000_000.0)


def test_reads_a_granted_answer():
    result = answer(200, {"access_token": "t", "expires_in": 900, "scope": "a b", "token_type": "Bearer"}, {"x-correlation-id": "c"})
    assert result == ("t", 900, "a b", 1_000_900, "c")


def test_a_refusal_is_a_client_authentication_error_with_the_oauth_error_and_correlation_id():
    with pytest.raises(ClientAuthenticationError) as raised:
        answer(400, {"error": "invalid_target", "error_description": "not allowed (correlation id c-1)"}, {"x-correlation-id": "c-1"})
    error = raised.value
    assert isinstance(error, TokexAuthenticationError)
    assert (error.oauth_error, error.status_code, error.correlation_id, error.refused) == ("invalid_target", 400, "c-1", True)
    assert str(error.message) == "tokex: invalid_target (HTTP 400): not allowed (correlation id c-1)"


def test_unavailable_carries_retry_after_and_is_not_a_refusal():
    with pytest.raises(TokexAuthenticationError) as raised:
        answer(503, {"error": "temporarily_unavailable"}, {"retry-after": "7"})
    assert (raised.value.retry_after, raised.value.refused) == (7.0, False)


@pytest.mark.parametrize(
    "status, body, code",
    [
        (200, b"<html>", "invalid_response"),
        (200, {"access_token": "t"}, "invalid_response"),
        (200, {"access_token": "t", "expires_in": "900"}, "invalid_response"),
        (200, {"access_token": "t", "expires_in": True}, "invalid_response"),
        (200, [1], "invalid_response"),
        (502, b"Bad Gateway", "server_error"),
        (500, {"detail": "x"}, "server_error"),
    ],
)
def test_unreadable_answers_are_typed_errors(status, body, code):
    with pytest.raises(TokexAuthenticationError) as raised:
        answer(status, body)
    assert raised.value.oauth_error == code
