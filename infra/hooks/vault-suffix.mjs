/**
 * The Key Vault name's random suffix (TOKEX_KEY_VAULT_SUFFIX in the azd environment): see the comment on
 * keyVaultNameSuffix in infra/main.bicep. Set with `azd env set`, which stores it in .azure/<env>/.env.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export const SUFFIX_VARIABLE = 'TOKEX_KEY_VAULT_SUFFIX';

/** Six characters of [a-z0-9]: valid anywhere in a vault name. */
export function newSuffix(bytes = randomBytes(6)) {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  return [...bytes].map((b) => alphabet[b % alphabet.length]).join('');
}

/** @param {string} value */
export function setSuffix(value) {
  execFileSync('azd', ['env', 'set', SUFFIX_VARIABLE, value], { stdio: ['ignore', 'ignore', 'inherit'] });
}
