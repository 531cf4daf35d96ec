import type { Auditor } from './audit/auditor.js';
import type { CallerValidator } from './caller/validate.js';
import type { DenyList } from './deny/deny-list.js';
import type { EntraTokenProvider } from './grants/entra.js';
import type { SigningKeys } from './keys/signing-key.js';
import type { SecretStore } from './keyvault/secret-store.js';
import type { Policy } from './policy/policy.js';
import type { Settings } from './settings.js';

/** Everything a request needs, built once at startup (see shared/startup.ts). */
export interface Tokex {
  readonly settings: Settings;
  readonly policy: Policy;
  readonly validator: CallerValidator;
  readonly signingKeys: SigningKeys;
  /** Entra tokens for `entra` grants. */
  readonly entra: EntraTokenProvider;
  /** Secrets for /credentials (cached). */
  readonly secrets: SecretStore;
  readonly auditor: Auditor;
  /** The most one request may spend on downstream calls (Key Vault, Entra), retries included. */
  readonly downstreamDeadlineMs: number;
  /** The kill switch in force now (TOKEX_DENY_LIST; empty when unset). */
  readonly denyList: () => DenyList;
  readonly now: () => number;
}
