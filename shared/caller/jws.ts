import { compactVerify, errors, type JWTVerifyGetKey } from 'jose';
import { quote, TokexError } from '../errors.js';
import { parseCompactJws } from './decode.js';
import { keyVerifier } from './key-verifier.js';

/** Header parameters that would let the token choose its own key: never followed (RFC 8725 §3.10). */
const KEY_CARRYING_HEADERS = ['jku', 'x5u', 'jwk', 'x5c'] as const;

/** Header rules that hold for every issuer: nothing that picks its own key, no extensions, a string `kid`. */
export function checkJwsHeader(header: Record<string, unknown>): void {
  for (const name of KEY_CARRYING_HEADERS) {
    if (name in header) throw new TokexError('forbidden_header', `header carries "${name}"`);
  }
  // tokex understands no JWS extension, so any `crit` names one it does not (RFC 7515 §4.1.11).
  if ('crit' in header) throw new TokexError('forbidden_header', 'header carries "crit"');
  if ('kid' in header && typeof header.kid !== 'string') throw new TokexError('malformed_token', 'header "kid" is not a string');
}

/** `alg` must be on the allow-list, compared exactly: `none`, `None` and `rs256` are not `RS256`. */
export function checkAlgorithm(header: Record<string, unknown>, algorithms: readonly string[]): void {
  if (typeof header.alg !== 'string' || !algorithms.includes(header.alg)) {
    throw new TokexError('algorithm_not_allowed', `alg ${quote(header.alg)} is not allowed (allowed: ${algorithms.join(', ')})`);
  }
}

/**
 * Verifies the signature with a key from `getKey` (the issuer's own key set) and nothing else.
 * jose fetches, parses and selects the key; the signature itself is checked synchronously by
 * node:crypto with the key imported once as a KeyObject (see key-verifier.ts), in jose's order:
 * algorithm allowed, key selected, signature decodable, key usable for the algorithm, signature
 * valid, payload decodable. A key that is not a CryptoKey goes through jose's own verify instead.
 */
export async function verifySignature(
  token: string,
  getKey: JWTVerifyGetKey,
  algorithms: readonly string[],
  header: Record<string, unknown> = parseCompactJws(token).header,
): Promise<void> {
  try {
    checkAlgorithm(header, algorithms);
    const first = token.indexOf('.');
    const last = token.lastIndexOf('.');
    const signature = token.slice(last + 1);
    const payload = token.slice(first + 1, last);
    const key = await getKey(header as Parameters<JWTVerifyGetKey>[0], { protected: token.slice(0, first), payload, signature });
    const verifier = keyVerifier(key, header.alg as string);
    if (verifier === undefined) {
      await compactVerify(token, key, { algorithms: [...algorithms] });
      return;
    }
    // base64url without padding is never ≡ 1 (mod 4) long; jose refuses such a segment as undecodable.
    if (signature.length % 4 === 1) throw new TokexError('malformed_token', 'JWS rejected (signature is not base64url)');
    if (!verifier(Buffer.from(token.slice(0, last), 'latin1'), Buffer.from(signature, 'base64url'))) {
      throw new TokexError('invalid_signature', 'signature does not verify');
    }
    if (payload.length % 4 === 1) throw new TokexError('malformed_token', 'JWS rejected (payload is not base64url)');
  } catch (err) {
    throw signatureRefusal(err);
  }
}

/**
 * The whole JWS check tokex applies to a subject token before reading its claims: format, header
 * rules, algorithm allow-list, signature. (The validator runs these same steps, picking the
 * allow-list and keys by issuer in between.)
 */
export async function verifyJws(token: string, getKey: JWTVerifyGetKey, algorithms: readonly string[]): Promise<Record<string, unknown>> {
  const { header } = parseCompactJws(token);
  checkJwsHeader(header);
  checkAlgorithm(header, algorithms);
  await verifySignature(token, getKey, algorithms, header);
  return header;
}

function signatureRefusal(err: unknown): TokexError {
  if (err instanceof TokexError) return err;
  if (err instanceof errors.JWSSignatureVerificationFailed) return new TokexError('invalid_signature', 'signature does not verify');
  if (err instanceof errors.JWKSNoMatchingKey) return new TokexError('unknown_key', 'no key of the issuer matches the header');
  // Two published keys with the token's kid: which one is meant is ambiguous, so neither is used.
  if (err instanceof errors.JWKSMultipleMatchingKeys) return new TokexError('unknown_key', 'several keys of the issuer match the header');
  if (err instanceof errors.JOSEAlgNotAllowed) return new TokexError('algorithm_not_allowed', 'alg not allowed');
  if (err instanceof errors.JOSEError) return new TokexError('malformed_token', `JWS rejected (${err.code})`);
  // A published key unusable for the algorithm (wrong curve, too short, not on its curve) fails
  // key import: jose throws a TypeError, WebCrypto a DOMException (DataError).
  if (err instanceof TypeError || (err instanceof DOMException && err.name === 'DataError')) {
    return new TokexError('invalid_signature', `key unusable for the algorithm (${err.message.slice(0, 80)})`);
  }
  return new TokexError('internal_error', `signature verification failed unexpectedly: ${(err as Error).name}`, { cause: err });
}
