"""Settings of the end-to-end tests, which test/clients/python.test.ts passes in the environment
after starting tokex and the fakes. Missing settings fail the tests that need them (never a skip).
"""

import os

import pytest


class Endpoints:
    def __init__(self) -> None:
        missing = [name for name in _NAMES if not os.environ.get(name)]
        if missing:
            pytest.fail(f"end-to-end settings missing: {', '.join(missing)} (run these tests from npm test)")
        #: tokex's base URL (the local host on loopback).
        self.tokex = os.environ["TOKEX_TEST_ENDPOINT"]
        #: The Key Vault fake (HTTPS, throwaway CA in REQUESTS_CA_BUNDLE / SSL_CERT_FILE).
        self.vault = os.environ["TOKEX_TEST_VAULT_URL"]
        #: The Azure ML fake, also in AZUREML_DEV_URL_MFE.
        self.ml = os.environ["TOKEX_TEST_ML_URL"]
        #: A user's (delegated) token for tokex's API, which no rule admits.
        self.user_token = os.environ["TOKEX_TEST_USER_TOKEN"]
        #: The caller's managed identity (IDENTITY_ENDPOINT/IDENTITY_HEADER) gives JWTs for api://tokex.
        self.scope = "api://tokex/.default"


_NAMES = ["TOKEX_TEST_ENDPOINT", "TOKEX_TEST_VAULT_URL", "TOKEX_TEST_ML_URL", "TOKEX_TEST_USER_TOKEN", "IDENTITY_ENDPOINT"]


@pytest.fixture(scope="session")
def endpoints() -> Endpoints:
    return Endpoints()
