/**
 * azd postprovision hook: creates the minted-token signing key in the new vault unless it exists.
 * Signs in as the azd user (AzureDeveloperCliCredential: no separate `az login`), generates the key
 * in memory and sends it straight to Key Vault: never written to disk or printed.
 */
import { ensureSigningKey, SigningKeyError } from './signing-key.mjs';

const vaultUrl = process.env.KEY_VAULT_URL;
const secretName = process.env.TOKEX_SIGNING_KEY_SECRET || 'tokex-signing';

async function main() {
  if (!vaultUrl) throw new SigningKeyError('NO_VAULT', 'KEY_VAULT_URL is not set: run this as an azd hook after provisioning (`azd provision` sets it)');
  let sdk;
  try {
    sdk = await Promise.all([import('@azure/identity'), import('@azure/keyvault-secrets')]);
  } catch {
    throw new SigningKeyError(
      'NO_SDK',
      '@azure/identity or @azure/keyvault-secrets is not installed: run `npm ci` in the project, then `azd hooks run postprovision`',
    );
  }
  const [{ AzureDeveloperCliCredential }, { SecretClient }] = sdk;
  const credential = new AzureDeveloperCliCredential(process.env.AZURE_TENANT_ID ? { tenantId: process.env.AZURE_TENANT_ID } : {});
  // As in shared/azure/client-options.ts: the challenge-resource check is relaxed only for a vault on
  // loopback, where a local fake stands in (tests); a real vault's challenge is always verified.
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(new URL(vaultUrl).hostname);
  const client = new SecretClient(vaultUrl, credential, { disableChallengeResourceVerification: loopback });
  await ensureSigningKey({ client, secretName });

  // `app` identities of the policy: each app registration named in TOKEX_FEDERATED_APP_CLIENT_IDS
  // (comma-separated; `azd env set`) gets tokex's system-assigned identity (TOKEX_PRINCIPAL_ID, an
  // output of main.bicep; TOKEX_FEDERATED_PRINCIPAL_ID for another identity) as a federated credential.
  const apps = (process.env.TOKEX_FEDERATED_APP_CLIENT_IDS ?? '')
    .split(',')
    .map((id) => id.trim())
    .filter(Boolean);
  for (const appClientId of apps) {
    await ensureFederatedCredential({
      credential,
      appClientId,
      principalId: process.env.TOKEX_FEDERATED_PRINCIPAL_ID || process.env.TOKEX_PRINCIPAL_ID || '',
      tenantId: process.env.AZURE_TENANT_ID ?? '',
      ...(process.env.TOKEX_GRAPH_URL && { graphUrl: process.env.TOKEX_GRAPH_URL }),
    });
  }
}

main().catch((error) => {
  process.stderr.write(
    `postprovision: ${error instanceof SigningKeyError || error instanceof FederatedCredentialError ? `${error.code}: ${error.message}` : `${error?.name ?? 'Error'}: ${error?.statusCode ?? error?.code ?? ''}`}\n`,
  );
  process.exitCode = 1;
});
