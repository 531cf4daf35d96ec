/**
 * Every identifier pattern tokex checks, in one place. Dependency-free (the client may import it).
 */

/** A GUID (Entra tenant, object and client ids), any case. */
// Spelled without the `i` flag so the generated JSON Schema (policy.schema.json) means the same.
export const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
/** Issuer, identity and rule names: no colon, so `<issuer>:<sub>` subjects cannot collide. */
export const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** RFC 6749 §3.3 scope-token characters. */
export const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;
/** A Key Vault secret name: 1-127 letters, digits and hyphens. */
export const SECRET_NAME = /^[0-9A-Za-z-]{1,127}$/;
/** A secret-name glob in a policy: a secret name that may hold `*`. */
export const SECRET_GLOB = /^[0-9A-Za-z*-]{1,127}$/;
/** `kv:<secret-name>`: a reference to a Key Vault secret in settings and policies. */
export const KV_REFERENCE = /^kv:[0-9A-Za-z-]{1,127}$/;

/** The secret name of a `kv:` reference. */
export function kvSecretName(reference: string): string {
  return reference.slice('kv:'.length);
}
