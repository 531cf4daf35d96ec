/**
 * The entra grant and /credentials with the real Azure SDK clients (ManagedIdentityCredential,
 * ClientSecretCredential, ClientCertificateCredential, AzureCliCredential, SecretClient) in this
 * process, against local fakes of the managed-identity endpoint, Key Vault (HTTPS, challenge flow) and
 * Entra's token endpoint (HTTPS). The downstream deadline and failure backoff are shortened, so faults
 * take about a second and a half, not ten.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publicJwks } from '../../../shared/keys/signing-key.js';
import { FakeEntraTokenEndpoint } from '../../fakes/entra-token-endpoint.js';
import { FakeKeyVault } from '../../fakes/key-vault.js';
import { FakeManagedIdentity, type FaultMode } from '../../fakes/managed-identity.js';
import { FakeIssuer } from '../../fakes/oidc-issuer.js';
import { rsaKeyPair } from '../../fakes/rsa-keys.js';
import { InProcessTokex } from '../../helpers/in-process.js';
import { exchangeForm } from '../../helpers/local-host.js';

const SP_TENANT = '77777777-7777-4777-8777-777777777777';
const SP_CLIENT = '88888888-8888-4888-8888-888888888888';
const SP_CERT_CLIENT = '99999999-9999-4999-8999-999999999999';
const UAMI_CLIENT = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';
const FAULT_TARGETS = ['404', '429', '500', 'hang'] as const;

let idp: FakeIssuer;
let mi: FakeManagedIdentity;
let vault: FakeKeyVault;
let entraEndpoint: FakeEntraTokenEndpoint;
let tokex: InProcessTokex;
/** Short enough to keep fault tests quick, long enough for the fakes' healthy answers on a busy machine. */
const DEADLINE_MS = 1_500;
let azDir: string;
const secretValues: string[] = [];

function policy(): string {
  // One target per fault and fake, so no case is answered from another's cached token.
  const faultGrants = FAULT_TARGETS.flatMap((f) => [
    `      - { entra: "https://fault-${f}.example", identity: ml-reader }`,
    `      - { entra: "https://sp-fault-${f}.example", identity: ml-admin }`,
  ]).join('\n');
  return `
issuers:
  - { name: idp, issuer: "${idp.issuer}", audience: api://tokex }
identities:
  ml-reader: { type: managed-identity }
  ml-writer: { type: managed-identity, clientId: ${UAMI_CLIENT} }
  ml-admin: { type: service-principal, tenantId: ${SP_TENANT}, clientId: ${SP_CLIENT}, clientSecret: kv:ml-admin-secret }
  ml-cert: { type: service-principal, tenantId: ${SP_TENANT}, clientId: ${SP_CERT_CLIENT}, certificate: kv:ml-cert-pem }
  laptop: { type: azure-cli }
rules:
  - name: ml-jobs
    when: { issuer: idp, claims: { roles: Jobs.Train } }
    grant:
      - { entra: "https://ml.azure.com", identity: ml-reader }
      - { entra: "https://management.azure.com", identity: ml-writer }
      - { entra: "https://storage.azure.com", identity: ml-admin }
      - { entra: "https://database.windows.net", identity: ml-cert }
      - { entra: "https://concurrency.example", identity: ml-reader }
      - { entra: "https://cli.example", identity: laptop }
${faultGrants}
      - { minted: "https://workspace.internal", scopes: [jobs.read] }
      - secrets: [storage-*, db-password, fault-*]
  - name: readers
    when: { issuer: idp, claims: { roles: Reports.Read } }
    grant:
      - { minted: "https://reports.internal", scopes: [read] }
`;
}

/** A fake `az` on PATH, answering `az account get-access-token` as the Azure CLI does. */
function fakeAzureCli(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tokex-az-'));
  const script = join(dir, 'az');
  writeFileSync(
    script,
    `#!/bin/sh
echo "$@" >> "${dir}/calls.log"
exp=$(( $(date +%s) + 3600 ))
echo "{\\"accessToken\\":\\"cli-token-$$\\",\\"expiresOn\\":\\"$(date -d @$exp '+%Y-%m-%d %H:%M:%S.000000')\\",\\"expires_on\\":$exp,\\"subscription\\":\\"s\\",\\"tenant\\":\\"${SP_TENANT}\\",\\"tokenType\\":\\"Bearer\\"}"
`,
  );
  chmodSync(script, 0o755);
  return dir;
}

function certificatePem(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tokex-spcert-'));
  // An RSA key of the fakes' (cheaper than a new one); openssl only certifies it.
  writeFileSync(join(dir, 'key.pem'), rsaKeyPair().privateKey.export({ type: 'pkcs8', format: 'pem' }));
  execFileSync('openssl', ['req', '-x509', '-key', 'key.pem', '-out', 'cert.pem', '-days', '2', '-subj', '/CN=ml-cert'], {
    cwd: dir,
    stdio: 'pipe',
  });
  return readFileSync(join(dir, 'key.pem'), 'utf8') + readFileSync(join(dir, 'cert.pem'), 'utf8');
}

const trainer = () => idp.token({ sub: 'job', aud: 'api://tokex', roles: ['Jobs.Train'] });
const reader = () => idp.token({ sub: 'reader', aud: 'api://tokex', roles: ['Reports.Read'] });

async function exchangeFor(resource: string, extra: Record<string, string> = {}) {
  return tokex.exchange(exchangeForm(await trainer(), { resource, ...extra }));
}

function getCredential(name: string, authorization?: string) {
  return tokex.credential(name, authorization);
}

beforeAll(async () => {
  [idp, mi, vault, entraEndpoint] = await Promise.all([FakeIssuer.start(), FakeManagedIdentity.start(), FakeKeyVault.start(), FakeEntraTokenEndpoint.start()]);
  azDir = fakeAzureCli();
  secretValues.push(`sp-secret-${Date.now()}`, `storage-key-${Math.random().toString(36).slice(2)}`, 'db-p@ss w0rd');
  vault.set('ml-admin-secret', secretValues[0]!);
  vault.set('ml-cert-pem', certificatePem());
  vault.set('storage-key', secretValues[1]!, { contentType: 'text/plain', expires: new Date(Date.now() + 86_400_000) });
  vault.set('db-password', secretValues[2]!);
  vault.set('tokex-signing', execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout'], { encoding: 'utf8' }), { createdAgoSeconds: 60 });
  // Read by @azure/identity from the process environment: the managed-identity endpoint, and `az`.
  Object.assign(process.env, mi.env(), { PATH: `${azDir}:${process.env.PATH}` });
  tokex = await InProcessTokex.start(
    policy(),
    { KEY_VAULT_URL: vault.url, AZURE_AUTHORITY_HOST: entraEndpoint.authorityHost, TOKEX_SIGNING_KEY: 'kv:tokex-signing' },
    { downstreamDeadlineMs: DEADLINE_MS, failureBackoffMs: 0 },
  );
}, 60_000);

afterAll(async () => {
  await tokex?.stop();
  await Promise.all([idp?.close(), mi?.close(), vault?.close(), entraEndpoint?.close()]);
});

describe('entra grant', () => {
  it('system-assigned managed identity: the token for https://ml.azure.com, its real lifetime', async () => {
    const { status, body, audit } = await exchangeFor('https://ml.azure.com');
    expect(status).toBe(200);
    expect(mi.issued).toContain(body.access_token);
    expect(body).toMatchObject({
      token_type: 'Bearer',
      scope: 'https://ml.azure.com/.default',
      issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
    });
    expect(body.expires_in).toBeGreaterThan(3590);
    expect(body.expires_in).toBeLessThanOrEqual(3600);
    expect(mi.count('https://ml.azure.com')).toBe(1);
    expect(audit).toMatchObject({
      outcome: 'granted',
      rule: 'ml-jobs',
      grant: { kind: 'entra', identity: 'ml-reader', scopes: ['https://ml.azure.com/.default'] },
    });
  });

  it('user-assigned managed identity asks with its client_id (control plane, management.azure.com)', async () => {
    const { status } = await exchangeFor('https://management.azure.com');
    expect(status).toBe(200);
    expect(mi.count('https://management.azure.com', UAMI_CLIENT)).toBe(1);
  });

  it('the target may come from scope=<resource>/.default; any other scope is invalid_scope', async () => {
    const bySCope = await tokex.exchange(exchangeForm(await trainer(), { scope: 'https://ml.azure.com/.default' }));
    expect(bySCope.status).toBe(200);
    const other = await exchangeFor('https://ml.azure.com', { scope: 'https://ml.azure.com/user_impersonation' });
    expect([other.status, other.body.error, other.audit.reason]).toEqual([400, 'invalid_scope', 'scope_not_allowed']);
  });

  it('50 exchanges for one (identity, resource): one managed-identity call', async () => {
    for (let i = 0; i < 50; i++) expect((await exchangeFor('https://ml.azure.com')).status).toBe(200);
    // One call in the whole file for this resource, whichever test asked first.
    expect(mi.count('https://ml.azure.com')).toBe(1);
  });

  it('32 concurrent first requests: exactly one call to the identity endpoint', async () => {
    mi.delayMs = 300;
    const tokens = await Promise.all(Array.from({ length: 32 }, () => trainer()));
    const results = await Promise.all(tokens.map((t) => tokex.exchange(exchangeForm(t, { resource: 'https://concurrency.example' }))));
    mi.delayMs = 0;
    expect(results.map((r) => r.status)).toEqual(Array(32).fill(200));
    expect(new Set(results.map((r) => r.body.access_token)).size).toBe(1);
    expect(mi.count('https://concurrency.example')).toBe(1);
  });

  it('service principal with a client secret read from Key Vault', async () => {
    const { status, body, audit } = await exchangeFor('https://storage.azure.com');
    expect(status).toBe(200);
    expect(entraEndpoint.issued).toContain(body.access_token);
    expect(entraEndpoint.authentications).toContain(`secret:${secretValues[0]}`);
    expect(audit.grant).toMatchObject({ kind: 'entra', identity: 'ml-admin' });
    expect(vault.readCount('ml-admin-secret')).toBe(1);
  });

  it('service principal with a certificate (PEM) read from Key Vault signs a client assertion', async () => {
    const { status, body } = await exchangeFor('https://database.windows.net');
    expect(status).toBe(200);
    expect(entraEndpoint.issued).toContain(body.access_token);
    expect(entraEndpoint.calls.get(SP_CERT_CLIENT)).toBe(1);
    expect(entraEndpoint.authentications.some((a) => a.startsWith('assertion:'))).toBe(true);
  });

  it('an azure-cli identity (local host only) gets its token from `az account get-access-token`', async () => {
    const { status, body } = await exchangeFor('https://cli.example');
    expect(status).toBe(200);
    expect(body.access_token).toMatch(/^cli-token-\d+$/);
    expect(readFileSync(join(azDir, 'calls.log'), 'utf8')).toContain('account get-access-token');
  });
});

// Each fault is set for its own resource or secret, so the cases run side by side (each waits out the deadline).
describe.concurrent('downstream faults: 503 temporarily_unavailable with Retry-After, then recovery', () => {
  for (const fault of FAULT_TARGETS) {
    it(`managed identity answering ${fault}`, async ({ expect }) => {
      const resource = `https://fault-${fault}.example`;
      mi.faults.set(resource, fault as FaultMode);
      const { status, headers, body, audit } = await exchangeFor(resource);
      expect([status, body.error, audit.reason, audit.outcome]).toEqual([503, 'temporarily_unavailable', 'downstream_unavailable', 'failed']);
      expect(Number(headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      mi.faults.delete(resource);
      expect((await exchangeFor(resource)).status).toBe(200);
    }, 30_000);
  }

  for (const fault of FAULT_TARGETS) {
    it(`Entra token endpoint answering ${fault} to a service principal`, async ({ expect }) => {
      const resource = `https://sp-fault-${fault}.example`;
      entraEndpoint.faults.set(resource, fault as FaultMode);
      const { status, headers, audit } = await exchangeFor(resource);
      expect([status, audit.reason]).toEqual([503, 'downstream_unavailable']);
      expect(Number(headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      entraEndpoint.faults.delete(resource);
      expect((await exchangeFor(resource)).status).toBe(200);
    }, 30_000);
  }

  // GET /credentials/{name}: Key Vault's faults, side by side with the others.
  for (const fault of ['429', '500', 'hang'] as const) {
    it(`503 when Key Vault answers ${fault}, then recovers`, async ({ expect }) => {
      const name = `fault-${fault}`;
      vault.set(name, `value-of-${name}`);
      vault.faults.set(name, fault);
      const { status, headers, body, audit } = await getCredential(name, `Bearer ${await trainer()}`);
      expect([status, body.error, audit.reason]).toEqual([503, 'temporarily_unavailable', 'downstream_unavailable']);
      expect(Number(headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      vault.faults.delete(name);
      expect((await getCredential(name, `Bearer ${await trainer()}`)).body.value).toBe(`value-of-${name}`);
    }, 30_000);
  }
});

describe('GET /credentials/{name}', () => {
  it('returns an allowed secret with its properties, no-store, audited without the value', async () => {
    const { status, headers, body, audit } = await getCredential('storage-key', `Bearer ${await trainer()}`);
    expect(status).toBe(200);
    expect(headers.get('cache-control')).toBe('no-store');
    expect(body).toMatchObject({ name: 'storage-key', value: secretValues[1], contentType: 'text/plain' });
    expect(body.version).toMatch(/^[0-9a-f]{32}$/);
    expect(new Date(body.expiresOn as string).getTime()).toBeGreaterThan(Date.now());
    expect(audit).toMatchObject({
      event: 'credential.read',
      outcome: 'granted',
      reason: 'ok',
      rule: 'ml-jobs',
      request: { secret: 'storage-key' },
      grant: { kind: 'secret' },
    });
    expect(JSON.stringify(audit)).not.toContain(secretValues[1]);
    const second = await getCredential('db-password', `Bearer ${await trainer()}`);
    expect(second.body).toMatchObject({ value: secretValues[2], contentType: null, expiresOn: null });
  });

  it('caches values: a second read does not reach Key Vault', async () => {
    expect((await getCredential('storage-key', `Bearer ${await trainer()}`)).status).toBe(200);
    const afterFirst = vault.readCount('storage-key');
    expect(afterFirst).toBeGreaterThanOrEqual(1);
    expect((await getCredential('storage-key', `Bearer ${await trainer()}`)).status).toBe(200);
    expect(vault.readCount('storage-key')).toBe(afterFirst);
  });

  it('401 with a plain Bearer challenge when there is no token', async () => {
    const { status, headers, audit } = await getCredential('storage-key');
    expect(status).toBe(401);
    expect(headers.get('www-authenticate')).toBe('Bearer');
    expect(audit).toMatchObject({ outcome: 'denied', reason: 'malformed_request' });
    expect(audit.subjectTokenId).toBeUndefined();
  });

  it('401 invalid_token for a bad token', async () => {
    const { status, headers, body, audit } = await getCredential('storage-key', 'Bearer not.a.token');
    expect([status, body.error, audit.reason]).toEqual([401, 'invalid_token', 'malformed_token']);
    expect(headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
  });

  it('403 for a name the policy does not allow, and for a caller matching no rule, before Key Vault is asked', async () => {
    vault.set('payroll-key', 'top-secret');
    const forbidden = await getCredential('payroll-key', `Bearer ${await trainer()}`);
    expect([forbidden.status, forbidden.body.error, forbidden.audit.reason]).toEqual([403, 'access_denied', 'secret_not_allowed']);
    const stranger = await getCredential('storage-key', `Bearer ${await idp.token({ sub: 'x', aud: 'api://tokex' })}`);
    expect([stranger.status, stranger.body.error, stranger.audit.reason]).toEqual([403, 'access_denied', 'no_rule']);
    const otherRule = await getCredential('storage-key', `Bearer ${await reader()}`);
    expect([otherRule.status, otherRule.audit.reason]).toEqual([403, 'secret_not_allowed']);
    // The same answer whether or not the secret exists: existence never leaks.
    const absentForbidden = await getCredential('payroll-nothing', `Bearer ${await trainer()}`);
    expect(absentForbidden.status).toBe(403);
    expect(vault.readCount('payroll-key') + vault.readCount('payroll-nothing')).toBe(0);
  });

  it('404 only when allowed but absent', async () => {
    const { status, body, audit } = await getCredential('storage-missing', `Bearer ${await trainer()}`);
    expect([status, body.error, audit.reason]).toEqual([404, 'not_found', 'secret_not_found']);
  });
});

describe('signing key from Key Vault', () => {
  it('minted tokens are signed with the Key Vault key and verify against the JWKS', async () => {
    const res = await tokex.exchange(exchangeForm(await trainer(), { audience: 'https://workspace.internal' }));
    expect(res.status).toBe(200);
    const jwks = publicJwks(tokex.tokex.signingKeys);
    expect(jwks.keys).toHaveLength(1);
    expect(decodeProtectedHeader(res.body.access_token as string).kid).toBe(jwks.keys[0]!.kid);
    await jwtVerify(res.body.access_token as string, createLocalJWKSet(jwks), { audience: 'https://workspace.internal' });
  });
});

describe('nothing secret in any output', () => {
  it('no downstream token, secret value or Key Vault bearer appears in stdout, stderr or the audit file', async () => {
    const captured = tokex.output();
    const secrets = [...mi.issued, ...entraEndpoint.issued, ...secretValues, ...vault.bearers];
    expect(secrets.length).toBeGreaterThan(5);
    for (const s of secrets) expect(captured.includes(s), `leaked ${s.slice(0, 10)}…`).toBe(false);
  });
});
