import type { CallerKind } from '../caller/caller.js';
import type { IdentityEntry } from './schema.js';
import type { Matcher } from './glob.js';

/** A trusted issuer of subject tokens, with defaults applied. */
export interface IssuerConfig {
  readonly name: string;
  readonly kind: 'entra' | 'oidc';
  /** Exact issuer, or a template holding `{tenantid}` (Entra multi-tenant). */
  readonly issuer: string;
  readonly audiences: readonly string[];
  readonly jwksUri: string | undefined;
  readonly algorithms: readonly string[];
  readonly tenants: readonly string[] | undefined;
  /** Allowed header `typ` values, upper-cased; an absent `typ` is always allowed. */
  readonly types: readonly string[];
  /** Where OIDC discovery is, when `jwksUri` is not configured. */
  readonly discoveryUrl: string;
  /** Entra: a token must carry `scp` or `roles` (else it is an ID token). */
  readonly requireScpOrRoles: boolean;
}

export type IdentityConfig = IdentityEntry & { readonly name: string };

/** One claim condition: the claim holds any of `matchers` (or, for an array claim, an element does). */
export interface ClaimCondition {
  readonly claim: string;
  /** The values as written (for explanations). */
  readonly patterns: readonly string[];
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
  /** Risky but legal choices (policy/lint.ts), located like load errors. */
  readonly warnings: readonly PolicyWarning[];
}

export interface PolicyWarning {
  readonly line: number;
  readonly path: string;
  readonly message: string;
}
