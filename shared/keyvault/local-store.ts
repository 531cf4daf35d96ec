import { readFile } from 'node:fs/promises';
import { TokexError } from '../errors.js';
import type { SecretStore, SecretValue } from './secret-store.js';

type Entry = string | { value: string; contentType?: string; expiresOn?: string; notBefore?: string };

/**
 * The local host's stand-in for Key Vault when KEY_VAULT_URL is unset: `.local/secrets.json`,
 * `{ "name": "value" }` or `{ "name": { "value", "contentType", "expiresOn", "notBefore" } }`, read on
 * each call. Names compare case-insensitively, as in Key Vault.
 */
export class LocalSecretStore implements SecretStore {
  constructor(readonly file: string) {}

  async get(name: string): Promise<SecretValue | undefined> {
    let entries: Record<string, Entry>;
    try {
      entries = JSON.parse(await readFile(this.file, 'utf8')) as Record<string, Entry>;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new TokexError('downstream_unavailable', `${this.file}: unreadable or not JSON`);
    }
    const stored = Object.keys(entries).find((k) => k.toLowerCase() === name.toLowerCase());
    const entry = stored === undefined ? undefined : entries[stored];
    if (stored === undefined || entry === undefined) return undefined;
    const value = typeof entry === 'string' ? { value: entry } : entry;
    return {
      name: stored,
      value: value.value,
      version: 'local',
      contentType: value.contentType ?? null,
      expiresOn: value.expiresOn ? new Date(value.expiresOn) : null,
      notBefore: value.notBefore ? new Date(value.notBefore) : null,
    };
  }
}
