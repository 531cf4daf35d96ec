"""MLClient (azure-ai-ml) with TokexCredential: one real request to the Azure ML fake.

Debian's azure-ai-ml 1.4.0 does not import without pydash, which Debian does not package: this
test alone puts a minimal stand-in (tests/stand_in_pydash: get, omit, objects.set_) on sys.path.
MLClient reaches the fake through AZUREML_DEV_URL_MFE (set by test/clients/python.test.ts), its own
setting for a development endpoint; `batch_endpoints.invoke` reads the endpoint through ARM (a
token for https://management.azure.com/.default) and posts the job to its scoring URI with a token
for https://ml.azure.com/.default. The fake records both bearers; the vitest test checks they are
the tokens tokex's managed identity was issued for those resources.
"""

import os
import sys

import pytest

from tokex import TokexCredential

STAND_IN = os.path.join(os.path.dirname(__file__), "stand_in_pydash")


@pytest.fixture
def azure_ai_ml(monkeypatch):
    monkeypatch.syspath_prepend(STAND_IN)
    import azure.ai.ml

    yield azure.ai.ml
    for name in [m for m in sys.modules if m == "pydash" or m.startswith(("pydash.", "azure.ai.ml"))]:
        del sys.modules[name]


def test_mlclient_with_stand_in_pydash_invokes_a_batch_endpoint_with_tokens_from_tokex(endpoints, azure_ai_ml):
    assert os.environ.get("AZUREML_DEV_URL_MFE") == endpoints.ml
    credential = TokexCredential(endpoints.tokex, scope=endpoints.scope)
    ml_client = azure_ai_ml.MLClient(credential, "00000000-0000-0000-0000-000000000001", "rg-ml", "ws-training")
    job = ml_client.batch_endpoints.invoke(
        endpoint_name="score-nightly",
        input=azure_ai_ml.Input(type="uri_folder", path="https://example.blob.core.windows.net/data/"),
    )
    assert job.name == "job-1"
    # The SDK's pipelines asked the credential for both scopes; tokex answered, and the answers are cached.
    assert {key[0] for key in credential._cache} == {"https://management.azure.com", "https://ml.azure.com"}
