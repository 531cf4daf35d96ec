import type { CallerKind } from '../caller/caller.js';
import type { IssuerConfig } from '../caller/issuer-config.js';
import type { Matcher } from './glob.js';
import type { IdentityEntry } from './schema.js';

export type { IssuerConfig };

export type IdentityConfig = IdentityEntry & { readonly name: string };

/** One claim condition: the claim holds any of `matchers` (or, for an array claim, an element does). */
export interface ClaimCondition {
  readonly claim: string;
  /** The values as written in the policy (globs included). */
  readonly values: readonly string[];
  readonly matchers: readonly Matcher[];
}

export type Grant =
  | { readonly kind: 'entra'; readonly target: string; readonly identity: string; readonly onBehalfOf: boolean }
  | { readonly kind: 'minted'; readonly target: string; readonly scopes: readonly string[]; readonly lifetimeSeconds: number }
  | { readonly kind: 'secrets'; readonly patterns: readonly string[]; readonly matchers: readonly Matcher[] };

/** `when.actor`: who must act for the subject (RFC 8693 delegation). */
export interface ActorCondition {
  readonly issuer: string;
  readonly conditions: readonly ClaimCondition[];
}

export interface Rule {
  readonly name: string;
  readonly issuer: string;
  /** The caller kinds the rule admits; undefined: any. */
  readonly kinds: readonly CallerKind[] | undefined;
  readonly conditions: readonly ClaimCondition[];
  /** Set: the rule holds only with an actor token that meets it. Unset: only without an actor token. */
  readonly actor: ActorCondition | undefined;
  readonly grants: readonly Grant[];
}

/** A loaded, checked policy: what every request is matched against. */
export interface Policy {
  readonly source: string;
  readonly issuers: readonly IssuerConfig[];
  readonly identities: ReadonlyMap<string, IdentityConfig>;
  readonly rules: readonly Rule[];
  /** The line in `source` of a document path (for warnings). */
  readonly locate: (path: readonly PropertyKey[]) => number;
}
