import { TokexError } from '../errors.js';

export const CLOCK_TOLERANCE_SECONDS = 60;

/**
 * The registered time claims of a verified token: `exp` required, and none of `exp`, `nbf`, `iat`
 * off by more than the clock tolerance. Each is a number of seconds or the token is malformed.
 */
export function checkTimeClaims(claims: Record<string, unknown>, nowSeconds: number): void {
  for (const name of ['exp', 'nbf', 'iat'] as const) {
    const value = claims[name];
    if (value === undefined) {
      if (name === 'exp') throw new TokexError('missing_claim', 'no "exp" claim');
      continue;
    }
    if (typeof value !== 'number' || !Number.isFinite(value)) throw new TokexError('malformed_token', `"${name}" is not a number`);
  }
  if ((claims.exp as number) <= nowSeconds - CLOCK_TOLERANCE_SECONDS) throw new TokexError('expired', '"exp" is past (beyond the clock tolerance)');
  if (typeof claims.nbf === 'number' && claims.nbf > nowSeconds + CLOCK_TOLERANCE_SECONDS) {
    throw new TokexError('not_yet_valid', '"nbf" is in the future (beyond the clock tolerance)');
  }
  if (typeof claims.iat === 'number' && claims.iat > nowSeconds + CLOCK_TOLERANCE_SECONDS) {
    throw new TokexError('not_yet_valid', '"iat" is in the future (beyond the clock tolerance)');
  }
}

/** `aud`: one string, exactly one of the configured audiences (Entra never issues arrays). */
export function checkAudience(claims: Record<string, unknown>, audiences: readonly string[]): void {
  if (claims.aud === undefined) throw new TokexError('missing_claim', 'no "aud" claim');
  if (typeof claims.aud !== 'string') throw new TokexError('wrong_audience', '"aud" is not a single string');
  if (!audiences.includes(claims.aud)) throw new TokexError('wrong_audience', '"aud" is not an audience of the issuer');
}
