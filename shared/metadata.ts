import { TOKEN_EXCHANGE_GRANT } from './exchange/request.js';
import type { Tokex } from './tokex.js';

/** RFC 8414 metadata for GET /.well-known/oauth-authorization-server. */
export function authorizationServerMetadata(tokex: Tokex): Record<string, unknown> {
  const { issuer } = tokex.settings;
  const scopes = new Set<string>();
  for (const rule of tokex.policy.rules) {
    for (const grant of rule.grants) {
      if (grant.kind === 'minted') grant.scopes.forEach((s) => scopes.add(s));
      if (grant.kind === 'entra') scopes.add(`${grant.target.replace(/\/+$/, '')}/.default`);
    }
  }
  return {
    issuer,
    token_endpoint: `${issuer}/token`,
    jwks_uri: `${issuer}/.well-known/jwks.json`,
    grant_types_supported: [TOKEN_EXCHANGE_GRANT],
    // The subject token is the caller's credential; there is no separate client authentication.
    token_endpoint_auth_methods_supported: ['none'],
    scopes_supported: [...scopes].sort(),
    // No authorization endpoint: tokex only exchanges tokens.
    response_types_supported: [],
  };
}
