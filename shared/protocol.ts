/**
 * The protocol's constants, in one place (RFC 8693 §3, RFC 6749). Dependency-free: the client
 * (`tokex/client`) imports it without loading any of the server's dependencies.
 */
export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const TOKEN_TYPE_ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';
export const TOKEN_TYPE_JWT = 'urn:ietf:params:oauth:token-type:jwt';
/** The Entra convention: `<resource>/.default` asks for everything granted for the resource. */
export const DEFAULT_SCOPE_SUFFIX = '/.default';
