import { randomUUID } from 'node:crypto';
import { FakeIssuer, type IssuerKey } from './oidc-issuer.js';

/** Tenants and app ids of the fake directory. */
export const TENANT_A = '11111111-1111-4111-8111-111111111111';
export const TENANT_B = '22222222-2222-4222-8222-222222222222';
export const TENANT_C = '33333333-3333-4333-8333-333333333333';
/** The tokex API's app registration: v2 tokens carry this GUID as `aud`; v1 tokens its App ID URI. */
export const API_CLIENT_ID = '44444444-4444-4444-8444-444444444444';
export const API_APP_ID_URI = 'api://tokex';
export const CLIENT_APP_ID = '55555555-5555-4555-8555-555555555555';
export const MI_CLIENT_ID = '66666666-6666-4666-8666-666666666666';

/**
 * Microsoft Entra ID on loopback: v2 issuers `<origin>/<tid>/v2.0`, v1 issuers `<origin>/sts/<tid>/`
 * (Entra's `https://sts.windows.net/<tid>/`), a `common` discovery document with the
 * `{tenantid}` template, and one JWKS whose keys may be bound to an issuer as Entra's are.
 * Tokens are shaped like the four caller workflows produce them.
 */
export class FakeEntra {
  private constructor(readonly idp: FakeIssuer) {}

  /** Keys: `k1` unbound; `kT` bound to the v2 `{tenantid}` template; `kB` bound to tenant B's v2 issuer only. */
  static async start(): Promise<FakeEntra> {
    const bindings = new Map<string, string>();
    const idp = await FakeIssuer.start({ jwkExtras: (key: IssuerKey) => (bindings.has(key.kid) ? { issuer: bindings.get(key.kid) } : {}) });
    const entra = new FakeEntra(idp);
    await idp.addKey('kT');
    await idp.addKey('kB');
    bindings.set('kT', `${idp.origin}/{tenantid}/v2.0`);
    bindings.set('kB', entra.v2(TENANT_B));
    for (const tid of [TENANT_A, TENANT_B, TENANT_C]) {
      idp.discoveryIssuers.set(`/${tid}/v2.0`, entra.v2(tid));
      idp.discoveryIssuers.set(`/sts/${tid}`, entra.v1(tid));
    }
    idp.discoveryIssuers.set('/common/v2.0', `${idp.origin}/{tenantid}/v2.0`);
    return entra;
  }

  get origin(): string {
    return this.idp.origin;
  }

  v2(tid: string): string {
    return `${this.idp.origin}/${tid}/v2.0`;
  }

  v1(tid: string): string {
    return `${this.idp.origin}/sts/${tid}/`;
  }

  key(kid: string): IssuerKey {
    return this.idp.keys.find((k) => k.kid === kid)!;
  }

  /** Client credentials (a service principal), v2: `idtyp: app`, `roles`, `azp`. */
  app(tid = TENANT_A, extra: Record<string, unknown> = {}, options: Parameters<FakeIssuer['token']>[1] = {}): Promise<string> {
    const oid = randomUUID();
    return this.idp.token(
      {
        iss: this.v2(tid),
        aud: API_CLIENT_ID,
        tid,
        oid,
        sub: oid,
        azp: CLIENT_APP_ID,
        azpacr: '1',
        idtyp: 'app',
        roles: ['Jobs.Train'],
        ver: '2.0',
        uti: randomUUID(),
        ...extra,
      },
      options,
    );
  }

  /** An interactive user or an Azure CLI session (delegated), v2: `scp`, no `idtyp: app`. */
  user(tid = TENANT_A, extra: Record<string, unknown> = {}): Promise<string> {
    return this.idp.token({
      iss: this.v2(tid),
      aud: API_CLIENT_ID,
      tid,
      oid: randomUUID(),
      sub: randomUUID(),
      azp: CLIENT_APP_ID,
      azpacr: '0',
      scp: 'access_as_user',
      name: 'Ada',
      preferred_username: 'ada@example.com',
      ver: '2.0',
      ...extra,
    });
  }

  /** A managed identity, v2: an app token with `xms_mirid`. */
  managedIdentity(tid = TENANT_A, extra: Record<string, unknown> = {}): Promise<string> {
    const oid = randomUUID();
    return this.idp.token({
      iss: this.v2(tid),
      aud: API_CLIENT_ID,
      tid,
      oid,
      sub: oid,
      azp: MI_CLIENT_ID,
      azpacr: '2',
      idtyp: 'app',
      roles: ['Jobs.Train'],
      ver: '2.0',
      xms_mirid: '/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/jobs',
      ...extra,
    });
  }

  /** A v1 app token (`appid`, App ID URI audience), as `az account get-access-token --resource api://tokex` gives for v1 APIs. */
  v1App(tid = TENANT_A, extra: Record<string, unknown> = {}): Promise<string> {
    const oid = randomUUID();
    return this.idp.token({
      iss: this.v1(tid),
      aud: API_APP_ID_URI,
      tid,
      oid,
      sub: oid,
      appid: CLIENT_APP_ID,
      appidacr: '1',
      idtyp: 'app',
      roles: ['Jobs.Train'],
      ver: '1.0',
      ...extra,
    });
  }

  /** An ID token issued to a client whose id equals the API's: same iss, aud and keys, but no scp/roles. */
  idToken(tid = TENANT_A): Promise<string> {
    return this.idp.token({ iss: this.v2(tid), aud: API_CLIENT_ID, tid, oid: randomUUID(), sub: randomUUID(), nonce: 'n-0S6_WzA2Mj', name: 'Ada', ver: '2.0' });
  }

  close(): Promise<void> {
    return this.idp.close();
  }
}

/** The policy the Entra tests run: single-tenant v2 and v1 entries, a multi-tenant template, one rule per caller kind. */
export function entraPolicy(entra: FakeEntra, options: { discovery?: boolean } = {}): string {
  const jwks = options.discovery ? '' : `\n    jwksUri: ${entra.origin}/keys`;
  return `
issuers:
  - name: corp
    kind: entra
    issuer: ${entra.v2(TENANT_A)}
    audience: ${API_CLIENT_ID}${jwks}
  - name: corp-v1
    kind: entra
    issuer: ${entra.v1(TENANT_A)}
    audience: [${API_APP_ID_URI}, ${API_CLIENT_ID}]${jwks}
  - name: partners
    kind: entra
    issuer: ${entra.origin}/{tenantid}/v2.0
    audience: ${API_CLIENT_ID}
    tenants: [${TENANT_B}]${jwks}
rules:
  - name: training-apps
    when: { issuer: corp, claims: { roles: Jobs.Train, idtyp: app } }
    grant:
      - { minted: "https://workspace.internal", scopes: [jobs.submit, data.read] }
  - name: training-apps-v1
    when: { issuer: corp-v1, claims: { roles: Jobs.Train } }
    grant:
      - { minted: "https://workspace.internal", scopes: [jobs.submit] }
  - name: people
    when: { issuer: corp, claims: { scp: access_as_user } }
    grant:
      - { minted: "https://workspace.internal", scopes: [data.read] }
  - name: partner-apps
    when: { issuer: partners, claims: { roles: Jobs.Train } }
    grant:
      - { minted: "https://partner.internal", scopes: [read] }
`;
}
