import { readFile } from 'node:fs/promises';
import { TokexError } from '../errors.js';
import type { SecretStore, SecretValue } from './secret-store.js';

type Entry = string | { value: string; contentType?: string; expiresOn?: string };

/**
 * The local host's stand-in for Key Vault when KEY_VAULT_URL is unset: `.local/secrets.json`,
 * `{ "name": "value" }` or `{ "name": { "value", "contentType", "expiresOn" } }`, read on each call.
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
    const entry = Object.hasOwn(entries, name) ? entries[name] : undefined;
    if (entry === undefined) return undefined;
    const value = typeof entry === 'string' ? { value: entry } : entry;
    return { name, value: value.value, version: 'local', contentType: value.contentType ?? null, expiresOn: value.expiresOn ? new Date(value.expiresOn) : null };
  }
}
