"""tokex for Python: Azure SDK credentials whose tokens come from tokex (RFC 8693 token exchange).

``TokexCredential`` here; its async twin is ``tokex.aio.TokexCredential``.
"""

from ._credential import TokexCredential
from ._errors import TokexAuthenticationError
from ._target import target_of

__all__ = ["TokexCredential", "TokexAuthenticationError", "target_of"]
__version__ = "0.1.0"
