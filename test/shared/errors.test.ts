/**
 * The one table from reason to answer, for both endpoints, and what the caller is told: the
 * parameter for a malformed request, never the claim or rule for a refused token.
 */
import { describe, expect, it } from 'vitest';
import { answerFor, quote, REASONS, type Reason, type TokexError } from '../../shared/errors.js';
import { parseTokenRequest } from '../../shared/exchange/request.js';
import { errorResult } from '../../shared/http-result.js';

const notes = { request: () => {}, subjectToken: () => {}, actorToken: () => {} };
const CID = '00000000-0000-4000-8000-000000000000';

/** What POST /token tells the caller when parsing `body` (as `contentType`) fails. */
function told(body: string, contentType = 'application/x-www-form-urlencoded'): { status: number; error: string; description: string } {
  try {
    parseTokenRequest(contentType, body, notes);
  } catch (err) {
    const failure = err as TokexError;
    const result = errorResult('token', failure.reason, CID, { detail: failure.detail });
    const b = result.body as { error: string; error_description: string };
    return { status: result.status, error: b.error, description: b.error_description };
  }
  throw new Error('parsed');
}

const form = (params: Record<string, string>) =>
  new URLSearchParams({
    grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
    subject_token: 'a.b.c',
    subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
    audience: 'x',
    ...params,
  }).toString();

describe('the error table', () => {
  it('every reason answers on both endpoints; /credentials uses 401 with a challenge for token problems, 403 for policy', () => {
    for (const reason of Object.keys(REASONS) as Reason[]) {
      for (const endpoint of ['token', 'credentials'] as const) expect(answerFor(reason, endpoint).status, `${reason} ${endpoint}`).toBeGreaterThanOrEqual(200);
    }
    expect(answerFor('expired', 'credentials')).toMatchObject({ status: 401, error: 'invalid_token', challenge: 'Bearer error="invalid_token"' });
    expect(answerFor('malformed_request', 'credentials')).toMatchObject({ status: 401, challenge: 'Bearer' });
    expect(answerFor('caller_denied', 'token')).toMatchObject({ status: 400, error: 'invalid_request' });
    expect(answerFor('caller_denied', 'credentials')).toMatchObject({ status: 403, error: 'access_denied' });
    expect(answerFor('no_rule', 'credentials')).toMatchObject({ status: 403, error: 'access_denied' });
    expect(answerFor('downstream_unavailable', 'credentials')).toMatchObject({ status: 503, error: 'temporarily_unavailable' });
    const headers = errorResult('credentials', 'invalid_signature', CID).headers;
    expect(headers).toMatchObject({ 'www-authenticate': 'Bearer error="invalid_token"', 'x-correlation-id': CID, 'cache-control': 'no-store' });
    expect(errorResult('token', 'downstream_unavailable', CID, { retryAfter: 7 }).headers['retry-after']).toBe('7');
  });

  it('a malformed request is told which parameter, with the correlation id', () => {
    expect(told(form({}), 'application/json')).toEqual({
      status: 400,
      error: 'invalid_request',
      description: `Content-Type must be application/x-www-form-urlencoded (got "application/json"). (correlation id ${CID})`,
    });
    expect(told(form({ subject_token: '' })).description).toBe(`subject_token is missing. (correlation id ${CID})`);
    expect(told(form({ resource: 'https://r' })).description).toBe(`resource and audience are both given. (correlation id ${CID})`);
    expect(told(`${form({})}&scope=a&scope=b`).description).toBe(`scope is repeated. (correlation id ${CID})`);
    expect(told(form({ grant_type: 'password' }))).toMatchObject({
      error: 'unsupported_grant_type',
      description: expect.stringMatching(/^grant_type must be urn:ietf:params:oauth:grant-type:token-exchange \(got "password"\)/),
    });
  });

  it('a refused token or policy is told nothing but the generic message and the correlation id', () => {
    const detail = 'aud "api://x" is not one of api://tokex';
    expect((errorResult('token', 'wrong_audience', CID, { detail }).body as { error_description: string }).error_description).toBe(
      `The subject token is not acceptable. (correlation id ${CID})`,
    );
    expect((errorResult('token', 'scope_not_allowed', CID, { detail: 'scope "a" …' }).body as { error_description: string }).error_description).toBe(
      `A requested scope is not available for this target. (correlation id ${CID})`,
    );
  });

  it('quote() JSON-escapes and cuts values to 200 characters', () => {
    expect(quote('a"\n\u0000')).toBe('"a\\"\\n\\u0000"');
    expect(quote('x'.repeat(1000))).toHaveLength(200);
    expect(quote(['a', 1])).toBe('["a",1]');
  });
});
