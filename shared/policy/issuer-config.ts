import { discoveryUrlFor } from '../caller/entra.js';
import type { IssuerConfig } from '../caller/issuer-config.js';
import type { IssuerEntry } from './schema.js';

const ENTRA_HOSTS = new Set(['login.microsoftonline.com', 'sts.windows.net']);

/**
 * An issuer entry with the defaults applied: the one place they are (the loader, the dev issuer and
 * tests use it). Apart from the loader, so `tokex dev-token` loads no YAML parser or schema.
 */
export function issuerConfig(entry: IssuerEntry): IssuerConfig {
  const kind = entry.kind ?? (ENTRA_HOSTS.has(hostOf(entry.issuer)) ? 'entra' : 'oidc');
  return {
    name: entry.name,
    kind,
    issuer: entry.issuer,
    audiences: Array.isArray(entry.audience) ? entry.audience : [entry.audience],
    jwksUri: entry.jwksUri,
    algorithms: entry.algorithms ?? ['RS256'],
    tenants: entry.tenants?.map((t) => t.toLowerCase()),
    types: (entry.types ?? ['JWT']).map((t) => t.toUpperCase()),
    discoveryUrl: discoveryUrlFor({ issuer: entry.issuer, kind }),
    requireScpOrRoles: kind === 'entra' && entry.requireScpOrRoles !== false,
    spaceDelimited: entry.spaceDelimited ?? ['scp'],
  };
}

function hostOf(url: string): string {
  try {
    return new URL(url.replace('{tenantid}', 'common')).hostname.toLowerCase();
  } catch {
    return '';
  }
}
