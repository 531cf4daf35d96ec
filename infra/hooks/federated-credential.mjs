/**
 * Makes tokex's managed identity a federated credential of an app registration, so a policy identity
 * `{ type: app, tenantId, clientId }` signs in as that app with no secret: Microsoft Graph REST API,
 * `POST /applications(appId='…')/federatedIdentityCredentials`. Idempotent: a credential that already
 * names this identity (issuer and subject) is left alone. Needs Application.ReadWrite.All or
 * ownership of the app. Run by postprovision.mjs for each client id in TOKEX_FEDERATED_APP_CLIENT_IDS.
 */

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class FederatedCredentialError extends Error {
  /** @param {string} code @param {string} message */
  constructor(code, message) {
    super(message);
    this.name = 'FederatedCredentialError';
    this.code = code;
  }
}

/**
 * @param {{
 *   credential: { getToken(scope: string): Promise<{ token: string } | null> },
 *   appClientId: string,
 *   principalId: string,
 *   tenantId: string,
 *   graphUrl?: string,
 *   authorityHost?: string,
 *   audience?: string,
 *   log?: (line: string) => void,
 * }} options
 * @returns {Promise<'exists' | 'created'>}
 */
export async function ensureFederatedCredential({
  credential,
  appClientId,
  principalId,
  tenantId,
  graphUrl = 'https://graph.microsoft.com',
  authorityHost = 'https://login.microsoftonline.com',
  audience = 'api://AzureADTokenExchange',
  log = (line) => process.stdout.write(`${line}\n`),
}) {
  for (const [name, value] of [
    ['app client id', appClientId],
    ['principal id', principalId],
    ['tenant id', tenantId],
  ]) {
    if (!GUID.test(value ?? '')) throw new FederatedCredentialError('BAD_INPUT', `the ${name} must be a GUID (got "${String(value).slice(0, 40)}")`);
  }
  const graph = graphUrl.replace(/\/+$/, '');
  const issuer = `${authorityHost.replace(/\/+$/, '')}/${tenantId}/v2.0`;
  const access = await credential.getToken(`${graph}/.default`);
  if (!access) throw new FederatedCredentialError('NO_TOKEN', `no token for ${graph}: sign in with \`azd auth login\``);
  const url = `${graph}/v1.0/applications(appId='${appClientId}')/federatedIdentityCredentials`;
  const headers = { authorization: `Bearer ${access.token}`, accept: 'application/json' };

  const listed = await fetch(url, { headers });
  if (!listed.ok) throw await failure('list', listed);
  const { value = [] } = /** @type {{ value?: { name: string, issuer: string, subject: string }[] }} */ (await listed.json());
  const existing = value.find((c) => c.subject === principalId && c.issuer === issuer);
  if (existing) {
    log(`app ${appClientId} already trusts identity ${principalId} (${existing.name})`);
    return 'exists';
  }
  const created = await fetch(url, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify({
      name: `tokex-${principalId.slice(0, 8)}`,
      issuer,
      subject: principalId,
      audiences: [audience],
      description: "tokex's managed identity signs in as this app (no secret)",
    }),
  });
  if (!created.ok) throw await failure('create', created);
  log(`app ${appClientId} now trusts identity ${principalId} as a federated credential`);
  return 'created';
}

/** Status and Graph's error code only: the body may quote the request. */
async function failure(what, response) {
  let code;
  try {
    code = (await response.json())?.error?.code;
  } catch {
    code = undefined;
  }
  const hint = response.status === 403 ? ': the signed-in user needs Application.ReadWrite.All or to own the app' : '';
  return new FederatedCredentialError(
    `GRAPH_${response.status}`,
    `Microsoft Graph refused to ${what} federated credentials (HTTP ${response.status}${typeof code === 'string' ? ` ${code.slice(0, 60)}` : ''})${hint}`,
  );
}
