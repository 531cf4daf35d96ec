/** A secret as /credentials returns it. `value` never reaches a log, an error or an audit record. */
export interface SecretValue {
  readonly name: string;
  readonly value: string;
  readonly version: string;
  readonly contentType: string | null;
  readonly expiresOn: Date | null;
  /** Key Vault's `nbf`: not to be used before this time. */
  readonly notBefore: Date | null;
}

/** Where secrets come from: Key Vault in Azure, `.local/secrets.json` on the local host. */
export interface SecretStore {
  /**
   * The latest (or the given) version; undefined when the secret does not exist. Names compare
   * case-insensitively, as in Key Vault, and the answer carries the name as stored. Throws TokexError 503s.
   */
  get(name: string, options?: { version?: string; signal?: AbortSignal }): Promise<SecretValue | undefined>;
}
