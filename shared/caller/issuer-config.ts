/** A trusted issuer of subject tokens, with defaults applied (compiled from the policy's `issuers:`). */
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
  /** Claims holding a space-delimited set (Entra's `scp`): conditions match each token on its own. */
  readonly spaceDelimited: readonly string[];
}
