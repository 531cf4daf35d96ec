import type { JWTPayload } from 'jose';
import { quote, TokexError } from '../errors.js';
import { GUID } from '../patterns.js';
import type { IssuerConfig } from './issuer-config.js';
import type { IssuerProfile, TrustedIssuer } from './validate.js';

const TEMPLATE = '{tenantid}';

/**
 * Microsoft Entra ID rules, as Microsoft.Identity.Web applies them (see
 * ../shared/reference/entra-jwt-security.md §1): the tenant ties issuer, claims and signing key
 * together; a token without `scp` or `roles` is an ID token, not an access token; a `nonce`
 * header marks a Microsoft Graph token, whose signature is over something else.
 */
export const entraProfile: IssuerProfile = {
  // A multi-tenant entry matches any `iss` of its shape; check() then demands the token's own tenant.
  resolveIssuer(iss, issuers) {
    for (const trusted of issuers) if (matchesTemplate(trusted.config, iss)) return trusted;
    return undefined;
  },

  checkHeader(header) {
    if ('nonce' in header) throw new TokexError('forbidden_header', 'header carries "nonce" (a Microsoft Graph token)');
    if (typeof header.kid !== 'string') throw new TokexError('unknown_key', 'no "kid" (Entra always names its key)');
  },

  check(claims, header, trusted) {
    const { config } = trusted;
    const tid = claims.tid;
    if (typeof tid !== 'string') throw new TokexError('missing_claim', 'no "tid" claim');
    if (!GUID.test(tid)) throw new TokexError('tenant_not_allowed', `tid ${quote(tid)} is not a GUID`);
    const iss = claims.iss as string;
    if (config.issuer.includes(TEMPLATE)) {
      if (config.issuer.replaceAll(TEMPLATE, tid) !== iss)
        throw new TokexError('wrong_issuer', `iss ${quote(iss)} does not name the tenant of tid ${quote(tid)}`);
    } else if (configuredTenant(config.issuer) !== tid.toLowerCase()) {
      throw new TokexError('wrong_issuer', `tid ${quote(tid)} is not the tenant of issuer ${config.name} (${configuredTenant(config.issuer) ?? 'none'})`);
    }
    if (config.tenants && !config.tenants.includes(tid.toLowerCase()))
      throw new TokexError('tenant_not_allowed', `tenant ${quote(tid)} not in tenants of ${config.name} (${config.tenants.join(', ')})`);
    checkKeyIssuer(claims, header, trusted, tid);
    if (config.requireScpOrRoles && claims.scp === undefined && claims.roles === undefined) {
      throw new TokexError('missing_claim', 'neither "scp" nor "roles" (an ID token, not an access token)');
    }
  },
};

/**
 * Entra's JWKS may bind a key to an issuer (the non-standard `issuer` member, possibly templated):
 * such a key may sign only for that issuer, so one tenant's key cannot vouch for another.
 */
function checkKeyIssuer(claims: JWTPayload, header: Record<string, unknown>, trusted: TrustedIssuer, tid: string): void {
  const jwk = trusted.keys.jwks()?.keys.find((k) => k.kid === header.kid) as { issuer?: unknown } | undefined;
  if (jwk === undefined || jwk.issuer === undefined) return;
  if (typeof jwk.issuer !== 'string' || jwk.issuer.replaceAll(TEMPLATE, tid) !== claims.iss) {
    throw new TokexError('wrong_issuer', `key ${quote(header.kid)} is bound to issuer ${quote(jwk.issuer)}, not ${quote(claims.iss)}`);
  }
}

/** Whether `iss` has the shape of a multi-tenant Entra entry's `{tenantid}` template. */
export function matchesTemplate(config: Pick<IssuerConfig, 'kind' | 'issuer'>, iss: string): boolean {
  return config.kind === 'entra' && config.issuer.includes(TEMPLATE) && templatePattern(config.issuer).test(iss);
}

/** Compiled once per issuer template (the policy's few), not per request. */
const templatePatterns = new Map<string, RegExp>();

function templatePattern(template: string): RegExp {
  let pattern = templatePatterns.get(template);
  if (pattern === undefined) {
    const [before, after] = template.split(TEMPLATE).map((part) => part.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')) as [string, string];
    pattern = new RegExp(`^${before}[^/]+${after}$`);
    templatePatterns.set(template, pattern);
  }
  return pattern;
}

/** The lower-cased tenant of a configured fixed issuer, parsed once per issuer rather than per request. */
const configuredTenants = new Map<string, string | undefined>();

function configuredTenant(issuer: string): string | undefined {
  if (!configuredTenants.has(issuer)) configuredTenants.set(issuer, tenantOf(issuer)?.toLowerCase());
  return configuredTenants.get(issuer);
}

/** The tenant named in a fixed Entra issuer URL: its first path segment that is a GUID. */
export function tenantOf(issuer: string): string | undefined {
  try {
    return new URL(issuer).pathname.split('/').find((segment) => GUID.test(segment));
  } catch {
    return undefined;
  }
}

/**
 * Where an issuer's OIDC metadata lives. Entra's v1 issuer (`https://sts.windows.net/{tid}/`) is
 * described by `https://login.microsoftonline.com/{tid}/.well-known/openid-configuration`; a
 * multi-tenant template by the `common` endpoint, whose `issuer` is the template itself.
 */
export function discoveryUrlFor(config: Pick<IssuerConfig, 'issuer' | 'kind'>): string {
  const base = config.issuer.replace(TEMPLATE, 'common').replace(/\/+$/, '');
  if (config.kind === 'entra') {
    const url = new URL(base);
    if (url.hostname === 'sts.windows.net') return `https://login.microsoftonline.com${url.pathname}/.well-known/openid-configuration`;
  }
  return `${base}/.well-known/openid-configuration`;
}
