import type { TokenCredential } from '@azure/identity';
import { SecretClient } from '@azure/keyvault-secrets';
import { secretClientOptions } from '../azure/client-options.js';
import { downstreamFailure } from '../azure/errors.js';
import type { SecretStore, SecretValue } from './secret-store.js';

export interface SecretVersionInfo {
  readonly version: string;
  readonly enabled: boolean;
  readonly createdOn: Date | undefined;
}

/** Key Vault through the real SecretClient, as tokex's own identity. */
export class KeyVaultSecretStore implements SecretStore {
  readonly #client: SecretClient;

  constructor(vaultUrl: string, credential: TokenCredential) {
    this.#client = new SecretClient(vaultUrl, credential, secretClientOptions(vaultUrl));
  }

  async get(name: string, options: { version?: string; signal?: AbortSignal } = {}): Promise<SecretValue | undefined> {
    try {
      const secret = await this.#client.getSecret(name, {
        ...(options.version && { version: options.version }),
        ...(options.signal && { abortSignal: options.signal }),
      });
      if (secret.value === undefined) return undefined;
      return {
        name: secret.name,
        value: secret.value,
        version: secret.properties.version ?? '',
        contentType: secret.properties.contentType ?? null,
        expiresOn: secret.properties.expiresOn ?? null,
        notBefore: secret.properties.notBefore ?? null,
      };
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return undefined;
      throw downstreamFailure(`Key Vault secret "${name}"`, err);
    }
  }

  /** Writes a new version of a secret (the deny-list through `tokex deny`). */
  async set(name: string, value: string, contentType?: string): Promise<void> {
    try {
      await this.#client.setSecret(name, value, contentType ? { contentType } : {});
    } catch (err) {
      throw downstreamFailure(`Key Vault secret "${name}"`, err);
    }
  }

  /** Every version of a secret, newest first (for signing-key rotation). */
  async versions(name: string, signal?: AbortSignal): Promise<SecretVersionInfo[]> {
    try {
      const out: SecretVersionInfo[] = [];
      for await (const p of this.#client.listPropertiesOfSecretVersions(name, signal ? { abortSignal: signal } : {})) {
        out.push({ version: p.version ?? '', enabled: p.enabled !== false, createdOn: p.createdOn });
      }
      return out.sort((a, b) => (b.createdOn?.getTime() ?? 0) - (a.createdOn?.getTime() ?? 0));
    } catch (err) {
      throw downstreamFailure(`Key Vault versions of "${name}"`, err);
    }
  }
}
