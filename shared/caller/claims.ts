import { quote, TokexError } from '../errors.js';

export const CLOCK_TOLERANCE_SECONDS = 60;

/** `2026-11-26T10:00:00Z` for a NumericDate. */
export function isoSeconds(seconds: number): string {
  const date = new Date(seconds * 1000);
  return Number.isNaN(date.getTime()) ? String(seconds) : date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

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
    if (typeof value !== 'number' || !Number.isFinite(value)) throw new TokexError('malformed_token', `"${name}" ${quote(value)} is not a number`);
  }
  const now = Math.floor(nowSeconds);
  const exp = claims.exp as number;
  if (exp <= nowSeconds - CLOCK_TOLERANCE_SECONDS) {
    throw new TokexError('expired', `exp ${isoSeconds(exp)} is ${Math.round(now - exp)} s in the past (tolerance ${CLOCK_TOLERANCE_SECONDS} s)`);
  }
  for (const name of ['nbf', 'iat'] as const) {
    const value = claims[name];
    if (typeof value === 'number' && value > nowSeconds + CLOCK_TOLERANCE_SECONDS) {
      throw new TokexError(
        'not_yet_valid',
        `${name} ${isoSeconds(value)} is ${Math.round(value - now)} s in the future (tolerance ${CLOCK_TOLERANCE_SECONDS} s)`,
      );
    }
  }
}

/** `aud`: one string, exactly one of the configured audiences (Entra never issues arrays). */
export function checkAudience(claims: Record<string, unknown>, audiences: readonly string[]): void {
  if (claims.aud === undefined) throw new TokexError('missing_claim', 'no "aud" claim');
  if (typeof claims.aud !== 'string')
    throw new TokexError('wrong_audience', `aud ${quote(claims.aud)} is not a single string (expected one of ${audiences.join(', ')})`);
  if (!audiences.includes(claims.aud)) throw new TokexError('wrong_audience', `aud ${quote(claims.aud)} is not one of ${audiences.join(', ')}`);
}
