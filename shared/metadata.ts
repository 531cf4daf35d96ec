import { TOKEN_EXCHANGE_GRANT } from './protocol.js';
import type { Tokex } from './tokex.js';

const built = new WeakMap<Tokex['settings'], { policy: Tokex['policy']; metadata: Readonly<Record<string, unknown>> }>();

/**
 * RFC 8414 metadata for GET /.well-known/oauth-authorization-server. It reveals no policy: the
 * resources tokex reaches as its identities are never listed, and `scopes_supported` (OPTIONAL in
 * RFC 8414) lists minted scopes only when TOKEX_PUBLISH_SCOPES=true. Built once per settings and
 * policy, not per request.
 */
export function authorizationServerMetadata(tokex: Tokex): Readonly<Record<string, unknown>> {
  const known = built.get(tokex.settings);
  if (known?.policy === tokex.policy) return known.metadata;
  const metadata = buildMetadata(tokex);
  built.set(tokex.settings, { policy: tokex.policy, metadata });
  return metadata;
}

function buildMetadata(tokex: Tokex): Readonly<Record<string, unknown>> {
  const { issuer } = tokex.settings;
  const scopes = new Set<string>();
  for (const rule of tokex.policy.rules) {
    for (const grant of rule.grants) if (grant.kind === 'minted') for (const s of grant.scopes) scopes.add(s);
  }
  return {
    issuer,
    token_endpoint: `${issuer}/token`,
    jwks_uri: `${issuer}/.well-known/jwks.json`,
    grant_types_supported: [TOKEN_EXCHANGE_GRANT],
    // The subject token is the caller's credential; there is no separate client authentication.
    token_endpoint_auth_methods_supported: ['none'],
    ...(tokex.settings.publishScopes && { scopes_supported: [...scopes].sort() }),
    // No authorization endpoint: tokex only exchanges tokens.
    response_types_supported: [],
  };
}
