/**
 * Wycheproof's JSON Web Signature and JSON Web Key vectors (Apache-2.0, copied with their licence
 * into test/vectors/wycheproof/), run through verifyJws: the format, header,
 * algorithm and signature checks tokex applies to every subject token.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createLocalJWKSet, type JSONWebKeySet, type JWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { verifyJws } from '../../shared/caller/jws.js';
import { TokexError } from '../../shared/errors.js';
import { ASYMMETRIC_ALGORITHMS } from '../../shared/policy/schema.js';

const DIR = resolve(import.meta.dirname, '../vectors/wycheproof');
const FILES = ['json_web_signature_test.json', 'json_web_key_test.json'] as const;

/** Vectors whose expected result tokex does not give, each for a stated reason. */
const WHY = {
  hmac: 'HMAC cannot be configured for a caller issuer (RFC 8725 §3.1); every HS* token is refused',
  emptyPayload: 'an empty payload is valid JWS but never a JWT claims set; tokex requires a non-empty payload segment',
  jwkAlg:
    'the JWK declares another alg than the JWS header (a PS256 key used for PS384; an "ES521" key for ES512); jose, and so tokex, use a key only for the alg it declares',
  strictBase64: 'a character outside base64url inside a segment: Wycheproof tolerates it, tokex accepts only strict compact JWS (RFC 8725bis)',
  roca: 'ROCA-vulnerable RSA moduli are not detected: tokex trusts the keys its configured issuer publishes and does not fingerprint them',
} as const;
const DEVIATIONS: Record<string, { why: keyof typeof WHY; verdict: string }> = {
  'json_web_signature_test.json#259': { why: 'emptyPayload', verdict: 'malformed_token' },
  'json_web_signature_test.json#264': { why: 'emptyPayload', verdict: 'malformed_token' },
  'json_web_signature_test.json#268': { why: 'emptyPayload', verdict: 'malformed_token' },
  'json_web_signature_test.json#272': { why: 'emptyPayload', verdict: 'malformed_token' },
  'json_web_signature_test.json#320': { why: 'emptyPayload', verdict: 'malformed_token' },
  'json_web_signature_test.json#325': { why: 'emptyPayload', verdict: 'malformed_token' },
  'json_web_signature_test.json#346': { why: 'jwkAlg', verdict: 'unknown_key' },
  'json_web_signature_test.json#350': { why: 'jwkAlg', verdict: 'unknown_key' },
  'json_web_signature_test.json#347': { why: 'jwkAlg', verdict: 'unknown_key' },
  'json_web_signature_test.json#351': { why: 'jwkAlg', verdict: 'unknown_key' },
  'json_web_signature_test.json#372': { why: 'strictBase64', verdict: 'malformed_token' },
  'json_web_signature_test.json#373': { why: 'strictBase64', verdict: 'malformed_token' },
  'json_web_key_test.json#7': { why: 'roca', verdict: 'valid' },
};

interface Vector {
  tcId: number;
  comment: string;
  jws: string;
  result: 'valid' | 'invalid' | 'acceptable';
}
interface Group {
  type: string;
  comment?: string;
  public?: JWK | JSONWebKeySet;
  private?: JWK | JSONWebKeySet;
  tests: Vector[];
}

function headerAlg(jws: string): string | undefined {
  try {
    return (JSON.parse(Buffer.from(jws.split('.')[0] ?? '', 'base64url').toString()) as { alg?: string }).alg;
  } catch {
    return undefined;
  }
}

/** tokex's verdict: 'valid' or the refusal reason. The issuer's allow-list is the vector's alg when tokex can express it. */
async function verdictOf(jws: string, jwks: JSONWebKeySet): Promise<string> {
  const alg = headerAlg(jws) ?? (jwks.keys[0]?.alg as string | undefined) ?? 'RS256';
  const algorithms = (ASYMMETRIC_ALGORITHMS as readonly string[]).includes(alg) ? [alg] : ['RS256'];
  try {
    await verifyJws(jws, createLocalJWKSet(jwks), algorithms);
    return 'valid';
  } catch (err) {
    if (err instanceof TokexError) return err.reason;
    throw err;
  }
}

describe('Wycheproof JWS/JWK vectors', () => {
  for (const file of FILES) {
    it(`${file}: every vector gives its expected result, or a listed deviation`, async () => {
      const data = JSON.parse(readFileSync(resolve(DIR, file), 'utf8')) as { numberOfTests: number; testGroups: Group[] };
      const tally = { agree: 0, deviations: [] as string[] };
      let total = 0;
      for (const group of data.testGroups) {
        const key = (group.public ?? group.private)!;
        const jwks: JSONWebKeySet = 'keys' in key ? key : { keys: [key] };
        for (const vector of group.tests) {
          total++;
          const verdict = await verdictOf(vector.jws, jwks);
          expect(verdict, `tcId ${vector.tcId} must never be a server error`).not.toBe('internal_error');
          const listed = DEVIATIONS[`${file}#${vector.tcId}`];
          const isHmac = /^HS/.test(headerAlg(vector.jws) ?? '');
          if (listed) {
            expect(verdict, `tcId ${vector.tcId} (${vector.comment})`).toBe(listed.verdict);
            tally.deviations.push(`#${vector.tcId} ${vector.comment}: expected ${vector.result}, tokex ${verdict} — ${WHY[listed.why]}`);
          } else if (isHmac && vector.result === 'valid') {
            expect(verdict, `tcId ${vector.tcId} (${vector.comment})`).toBe('algorithm_not_allowed');
            tally.deviations.push(`#${vector.tcId} ${vector.comment}: expected valid, tokex algorithm_not_allowed — ${WHY.hmac}`);
          } else if (vector.result === 'acceptable') {
            tally.agree++;
          } else {
            expect(verdict === 'valid' ? 'valid' : 'invalid', `tcId ${vector.tcId} (${vector.comment}) gave ${verdict}`).toBe(vector.result);
            tally.agree++;
          }
        }
      }
      expect(total).toBe(data.numberOfTests);
      console.log(`${file}: ${total} vectors, ${tally.agree} as expected, ${tally.deviations.length} listed deviations:\n  ${tally.deviations.join('\n  ')}`);
    });
  }
});
