/**
 * Minted tokens are signed by node:crypto directly (no jose on that path): they must still be
 * exactly what jose expects of an RFC 9068 token — ES256 as IEEE P1363 r||s (64 bytes, not DER),
 * RS256 as PKCS#1 v1.5 — and verify against the published JWKS.
 */
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { describeCaller } from '../../../shared/caller/caller.js';
import { mintAccessToken } from '../../../shared/grants/minted.js';
import { generateSigningKey, publicJwks, type SigningAlgorithm, signingKeyFrom } from '../../../shared/keys/signing-key.js';
import { rsaKeyPair } from '../../fakes/rsa-keys.js';

describe('mintAccessToken', () => {
  for (const alg of ['ES256', 'RS256'] as const satisfies readonly SigningAlgorithm[]) {
    it(`${alg}: verifies with jose against the JWKS, with the header and claims of an at+jwt`, async () => {
      // RS256 from the run's pool of RSA keys (making one costs up to half a second of CPU); the README test
      // covers RS256 generation (the dev issuer's key on first use).
      const jwk = alg === 'RS256' ? rsaKeyPair().privateKey.export({ format: 'jwk' }) : generateSigningKey(alg);
      const key = await signingKeyFrom(JSON.stringify(jwk), 'test');
      const now = Math.floor(Date.now() / 1000);
      const caller = describeCaller('idp', 'entra', { iss: 'https://idp.example', sub: 'svc', azp: 'app-1', exp: now + 3600, tid: 't', oid: 'o' });
      const minted = await mintAccessToken(key, {
        issuer: 'https://tokex.example',
        caller,
        audience: 'https://w.internal',
        scopes: ['a', 'b'],
        lifetimeSeconds: 600,
        nowSeconds: now,
      });
      const { payload, protectedHeader } = await jwtVerify(minted.token, createLocalJWKSet(publicJwks({ current: key, previous: [] })), {
        issuer: 'https://tokex.example',
        audience: 'https://w.internal',
        typ: 'at+jwt',
        algorithms: [alg],
      });
      expect(protectedHeader).toEqual({ alg, typ: 'at+jwt', kid: key.kid });
      // (`sub` is left to the caller-identity rules; here only that it is there.)
      expect(payload).toMatchObject({ scope: 'a b', iss: 'https://tokex.example', aud: 'https://w.internal', iat: now, exp: now + 600, jti: minted.jti });
      expect(typeof payload.sub).toBe('string');
      expect(decodeProtectedHeader(minted.token).alg).toBe(alg);
      const signature = Buffer.from(minted.token.split('.')[2]!, 'base64url');
      expect(signature.byteLength).toBe(alg === 'ES256' ? 64 : 256);
    });
  }
});
