import { createPrivateKey, createPublicKey, generateKeyPair, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

/** Set by test/global-setup.ts: a PEM file of the run's throwaway RSA keys, made once for every test process. */
export const RSA_KEYS_VARIABLE = 'TOKEX_TEST_RSA_KEYS';
/**
 * Enough for the file that uses most (verified-tokens.test.ts takes 9; each call in a file gets its own
 * key; past these, new ones are generated). Each key made here is some 0.15 s of CPU before any test starts.
 */
const POOL_SIZE = 10;

/**
 * Makes the run's pool of RSA 2048 keys in `dir` and returns the file. Generating one costs 50–500 ms
 * of CPU and the suite uses some 80, so the global setup makes POOL_SIZE once, on the thread pool (side
 * by side), and every test file draws from them. Never written anywhere but this run's scratch folder.
 */
export async function makeRsaKeyPool(dir: string): Promise<string> {
  const generate = promisify(generateKeyPair);
  const keys = await Promise.all(Array.from({ length: POOL_SIZE }, () => generate('rsa', { modulusLength: 2048 })));
  const file = join(dir, 'rsa-keys.pem');
  writeFileSync(file, keys.map((k) => k.privateKey.export({ type: 'pkcs8', format: 'pem' })).join(''), { mode: 0o600 });
  return file;
}

const poolFile = process.env[RSA_KEYS_VARIABLE];
const pool = (poolFile ? readFileSync(poolFile, 'utf8') : '').split(/(?<=-----END PRIVATE KEY-----)\n/).filter((pem) => pem.includes('BEGIN PRIVATE KEY'));
let next = 0;

/** Called before each test file: what one file's fakes hold is gone (closed) when the next file starts. */
export function startRsaKeysAgain(): void {
  next = 0;
}

/**
 * An RSA 2048 key pair for a fake (issuer, identity, the local host's dev issuer). Each call in a test
 * file returns a key no other call in that file got (so an attacker's key is never an issuer's).
 */
export function rsaKeyPair(): { privateKey: KeyObject; publicKey: KeyObject } {
  // Past the pool, a new key as PEM, read back: callers export these keys as JWKs, which on Node 20 can
  // deadlock on a key straight from generateKeyPairSync (see shared/keys/signing-key.ts).
  const pem =
    pool[next++] ??
    generateKeyPairSync('rsa', {
      modulusLength: 2048,
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    }).privateKey;
  const privateKey = createPrivateKey(pem);
  return { privateKey, publicKey: createPublicKey(privateKey) };
}
