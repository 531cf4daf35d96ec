"""The one error tokex's credential raises when it gets no token from tokex."""

from typing import Optional

from azure.core.exceptions import ClientAuthenticationError


class TokexAuthenticationError(ClientAuthenticationError):
    """tokex said no, or could not answer.

    A ``ClientAuthenticationError``, so Azure SDK clients and callers treat it like any credential
    failure. ``oauth_error`` is the OAuth error code (``invalid_target``, ``temporarily_unavailable``,
    …, or ``network_error`` when tokex was not reached, ``invalid_response`` when its answer could not
    be read); ``correlation_id`` finds the audit record that says exactly why; ``refused`` tells a
    policy or request refusal (retrying will not help) from unavailability (retry after
    ``retry_after`` seconds when given).
    """

    def __init__(
        self,
        oauth_error: str,
        status_code: Optional[int] = None,
        correlation_id: Optional[str] = None,
        description: Optional[str] = None,
        retry_after: Optional[float] = None,
        *,
        refused: Optional[bool] = None,
    ) -> None:
        message = f"tokex: {oauth_error}"
        if status_code is not None:
            message += f" (HTTP {status_code})"
        if description:
            message += f": {description}"
        # No `response=`: azure-core would parse and keep the body; everything useful is copied here.
        super().__init__(message=message)
        self.oauth_error = oauth_error
        self.status_code = status_code
        self.correlation_id = correlation_id
        self.error_description = description
        self.retry_after = retry_after
        self.refused = refused if refused is not None else status_code is not None and 400 <= status_code < 500
