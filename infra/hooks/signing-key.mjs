/**
 * Creates the minted-token signing key in Key Vault unless the secret exists, retrying the 403s Key
 * Vault answers while a fresh role assignment propagates (Azure documents up to 10 minutes).
 * Kept apart from postprovision.mjs so tests can drive it with a fake vault, clock and sleep.
 */
import { generateKeyPairSync } from 'node:crypto';

export const SIGNING_KEY_CONTENT_TYPE = 'application/x-pem-file';

/** A new EC P-256 private key as PEM (PKCS#8): what shared/keys/signing-key.ts loads. Only ever in memory. */
export function newSigningKeyPem() {
  return generateKeyPairSync('ec', {
    namedCurve: 'P-256',
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  }).privateKey;
}

export class SigningKeyError extends Error {
  /** @param {string} code @param {string} message */
  constructor(code, message) {
    super(message);
    this.name = 'SigningKeyError';
    this.code = code;
  }
}

/** Status and service code of an SDK error, nothing else: its message may quote the request. */
const describe = (error) => `${error?.statusCode ?? 'no status'}${error?.code ? ` ${error.code}` : ''}`;

/**
 * @param {{
 *   client: Pick<import('@azure/keyvault-secrets').SecretClient, 'getSecret' | 'setSecret' | 'vaultUrl'>,
 *   secretName: string,
 *   sleep?: (ms: number) => Promise<void>,
 *   now?: () => number,
 *   log?: (line: string) => void,
 *   timeoutMs?: number,
 *   generate?: () => string,
 * }} options
 * @returns {Promise<'exists' | 'created'>}
 */
export async function ensureSigningKey({
  client,
  secretName,
  sleep = (ms) => new Promise((r) => setTimeout(r, ms)),
  now = Date.now,
  log = (line) => process.stdout.write(`${line}\n`),
  timeoutMs = 600_000,
  generate = newSigningKeyPem,
}) {
  const start = now();
  for (let attempt = 1; ; attempt++) {
    try {
      try {
        await client.getSecret(secretName);
        log(`signing key ${secretName} exists in ${client.vaultUrl}: left as it is`);
        return 'exists';
      } catch (error) {
        if (error?.statusCode !== 404) throw error;
      }
      await client.setSecret(secretName, generate(), { contentType: SIGNING_KEY_CONTENT_TYPE });
      log(`signing key ${secretName} created in ${client.vaultUrl} (EC P-256)`);
      return 'created';
    } catch (error) {
      if (error?.statusCode !== 403) {
        throw new SigningKeyError('VAULT_ERROR', `Key Vault ${client.vaultUrl} refused secret ${secretName}: ${describe(error)}`);
      }
      const elapsed = now() - start;
      // 5 s, 10 s, 20 s, then every 30 s: quick when the role is nearly there, few calls when it is not.
      const delay = Math.min(30_000, 5_000 * 2 ** (attempt - 1));
      if (elapsed + delay > timeoutMs) {
        throw new SigningKeyError(
          'ACCESS_DENIED',
          `Key Vault ${client.vaultUrl} still answers 403 for secret ${secretName} after ${Math.round(elapsed / 1000)} s: check that the deploying user has Key Vault Secrets Officer on the vault (deployerPrincipalId), then run \`azd hooks run postprovision\``,
        );
      }
      log(
        `waiting for the Key Vault role assignment to take effect (403 from ${client.vaultUrl}; ${Math.round(elapsed / 1000)} s of up to ${Math.round(timeoutMs / 1000)} s); retrying in ${delay / 1000} s`,
      );
      await sleep(delay);
    }
  }
}
