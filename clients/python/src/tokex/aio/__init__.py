"""The async twin of :class:`tokex.TokexCredential`, for async Azure SDK clients (``*.aio``)."""

from ._credential import TokexCredential

__all__ = ["TokexCredential"]
