import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { JWK } from 'jose';

/**
 * A private JWK kept in a file of the local host's `.local/` folder, created on first use. Two
 * processes starting together (the server and `tokex dev-token`) agree: the first write wins,
 * the other reads what it wrote.
 */
export function loadOrCreateKeyFile(path: string, generate: () => JWK): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const text = `${JSON.stringify(generate())}\n`;
  try {
    writeFileSync(path, text, { flag: 'wx', mode: 0o600 });
    return text;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return readFileSync(path, 'utf8');
    throw err;
  }
}
