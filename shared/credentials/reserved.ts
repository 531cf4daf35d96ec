import { kvSecretName } from '../patterns.js';
import type { Policy } from '../policy/policy.js';

/**
 * The Key Vault secrets tokex itself uses: its signing key (`TOKEX_SIGNING_KEY=kv:…`) and every
 * identity's `clientSecret` / `certificate`. /credentials never serves them, whatever a policy's
 * globs say: a policy author's `"*"` must not hand out the keys to everything else. Lower-cased,
 * since Key Vault names compare case-insensitively.
 */
export function reservedSecretNames(policy: Pick<Policy, 'identities'>, signingKeySecret: string | undefined): ReadonlySet<string> {
  const references = [signingKeySecret];
  for (const identity of policy.identities.values()) {
    if (identity.type === 'service-principal') references.push(identity.clientSecret, identity.certificate);
  }
  return new Set(references.filter((r): r is string => r !== undefined).map((r) => kvSecretName(r).toLowerCase()));
}

export function isReservedSecret(name: string, reserved: ReadonlySet<string>): boolean {
  return reserved.has(name.toLowerCase());
}
