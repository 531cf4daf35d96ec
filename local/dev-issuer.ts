import { join, resolve } from 'node:path';
import { type JSONWebKeySet, SignJWT } from 'jose';
import type { IssuerConfig } from '../shared/caller/issuer-config.js';
import { staticIssuerKeys } from '../shared/caller/issuer-keys.js';
import type { TrustedIssuer } from '../shared/caller/validate.js';
import { loadOrCreateKeyFile } from '../shared/keys/local-key-file.js';
import { generateSigningKey, type SigningKey, signingKeyFrom } from '../shared/keys/signing-key.js';
import { issuerConfig } from '../shared/policy/issuer-config.js';
import type { Settings } from '../shared/settings.js';

/**
 * The built-in development issuer of the local host (never of the Functions entry point): an RSA
 * key generated once into `.local/`, whose tokens `tokex dev-token` prints and `policy.dev.yaml`
 * trusts under the issuer name `dev`.
 */
export const DEV_ISSUER_NAME = 'dev';
export const DEV_AUDIENCE = 'api://tokex';

export function devIssuerUrl(settings: Pick<Settings, 'port'>): string {
  return `http://localhost:${settings.port}/dev`;
}

/** The dev issuer's key, made on first use; a relative `localDir` is read from `cwd` (default: the process's) and named as given. */
export function loadDevIssuerKey(settings: Pick<Settings, 'localDir'>, cwd?: string): Promise<SigningKey> {
  const file = join(settings.localDir, 'dev-issuer-key.json');
  return signingKeyFrom(
    loadOrCreateKeyFile(cwd === undefined ? file : resolve(cwd, file), () => generateSigningKey('RS256')),
    file,
  );
}

export function devJwks(key: SigningKey): JSONWebKeySet {
  return { keys: [key.publicJwk] };
}

export function devIssuerConfig(settings: Pick<Settings, 'port'>): IssuerConfig {
  const issuer = devIssuerUrl(settings);
  return issuerConfig({ name: DEV_ISSUER_NAME, kind: 'oidc', issuer, audience: DEV_AUDIENCE, jwksUri: `${issuer}/jwks.json` });
}

export async function devTrustedIssuer(settings: Settings): Promise<TrustedIssuer> {
  return { config: devIssuerConfig(settings), keys: staticIssuerKeys(devJwks(await loadDevIssuerKey(settings))) };
}

export interface DevTokenOptions {
  readonly subject: string;
  readonly roles?: readonly string[];
  readonly claims?: Readonly<Record<string, string>>;
  readonly audience?: string;
  readonly lifetimeSeconds?: number;
}

/** A caller token from the dev issuer, shaped like an Entra app token (`roles`, `azp`); `cwd` as for loadDevIssuerKey. */
export async function mintDevToken(settings: Settings, options: DevTokenOptions, cwd?: string): Promise<string> {
  const key = await loadDevIssuerKey(settings, cwd);
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    ...(options.roles && options.roles.length > 0 && { roles: [...options.roles] }),
    ...options.claims,
  })
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: key.kid })
    .setIssuer(devIssuerUrl(settings))
    .setSubject(options.subject)
    .setAudience(options.audience ?? DEV_AUDIENCE)
    .setIssuedAt(now)
    .setNotBefore(now)
    .setExpirationTime(now + (options.lifetimeSeconds ?? 3600))
    .sign(key.privateKey);
}
