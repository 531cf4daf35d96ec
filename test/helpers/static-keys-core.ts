import { sign } from 'node:crypto';
import type { JWK } from 'jose';
import { Auditor } from '../../shared/audit/auditor.js';
import type { AuditRecord } from '../../shared/audit/record.js';
import { entraProfile } from '../../shared/caller/entra.js';
import { staticIssuerKeys } from '../../shared/caller/issuer-keys.js';
import { CallerValidator } from '../../shared/caller/validate.js';
import { EMPTY_DENY_LIST } from '../../shared/deny/deny-list.js';
import type { EntraTokenProvider } from '../../shared/grants/entra.js';
import { generateSigningKey, signingKeyFrom } from '../../shared/keys/signing-key.js';
import { LocalSecretStore } from '../../shared/keyvault/local-store.js';
import { parsePolicy } from '../../shared/policy/load.js';
import { loadSettings } from '../../shared/settings.js';
import type { Tokex } from '../../shared/tokex.js';
import { rsaKeyPair } from '../fakes/rsa-keys.js';

export const OWN_ISSUER = 'https://tokex.example';
export const TENANT = '11111111-1111-4111-8111-111111111111';
export const OIDC_ISSUER = 'https://idp.example';
export const ENTRA_ISSUER = `https://login.microsoftonline.com/${TENANT}/v2.0`;

const b64u = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

/**
 * The core built in-process from the real modules (policy loader, validator with the Entra profile,
 * minting, auditor), with the issuers' keys held in memory: for unit and property tests of
 * `exchangeToken` that need no server. The Entra grant is a stand-in (our own interface) that
 * returns a fixed token; every audit record is kept in `records`.
 */
export async function inProcessTokex(policyText: string, env: Record<string, string> = {}) {
  const key = rsaKeyPair();
  const jwk = { ...(key.publicKey.export({ format: 'jwk' }) as JWK), kid: 'k1', alg: 'RS256', use: 'sig' };
  const settings = loadSettings({ TOKEX_ISSUER: OWN_ISSUER, ...env }, 'local');
  const policy = parsePolicy(policyText, 'policy.yaml', { ownIssuer: OWN_ISSUER, mode: 'local', env: settings.env });
  const keys = staticIssuerKeys({ keys: [jwk] });
  const validator = new CallerValidator(
    policy.issuers.map((config) => ({ config, keys })),
    { profiles: { entra: entraProfile } },
  );
  const records: AuditRecord[] = [];
  const now = () => Date.now();
  const entra = { getToken: async () => ({ token: 'downstream-entra-token', expiresOnTimestamp: now() + 3_600_000 }) } as unknown as EntraTokenProvider;
  const tokex: Tokex = {
    denyList: () => EMPTY_DENY_LIST,
    settings,
    policy,
    validator,
    signingKeys: { current: await signingKeyFrom(JSON.stringify(generateSigningKey('ES256')), 'test key'), previous: [] },
    entra,
    secrets: new LocalSecretStore('/nonexistent/secrets.json'),
    auditor: new Auditor([{ name: 'memory', durable: true, write: async (r) => void records.push(structuredClone(r)) }], false),
    now,
    downstreamDeadlineMs: 1_000,
  };
  /** Any header and payload, RS256-signed with the issuers' key (`kid: k1`). */
  const signRaw = (payload: unknown, header: Record<string, unknown> = { alg: 'RS256', typ: 'JWT', kid: 'k1' }) => {
    const input = `${b64u(header)}.${b64u(payload)}`;
    return `${input}.${sign('sha256', Buffer.from(input), key.privateKey).toString('base64url')}`;
  };
  return { tokex, records, signRaw };
}
