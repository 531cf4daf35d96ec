import { createHash, createPrivateKey, randomUUID, X509Certificate } from 'node:crypto';
import { SignJWT } from 'jose';
import { TokexError } from '../errors.js';

const DEFAULT_AUTHORITY = 'https://login.microsoftonline.com';
/** Entra's lifetime for a client assertion is short; ten minutes, as MSAL uses. */
const ASSERTION_LIFETIME_SECONDS = 600;

/**
 * A client assertion signed with a service principal's certificate (PEM: private key and
 * certificate), as MSAL builds one: PS256, `x5t#S256` naming the certificate, `aud` the tenant's
 * token endpoint. OnBehalfOfCredential takes certificates only as file paths; this keeps the
 * Key Vault PEM in memory instead of writing a private key to disk.
 */
export function certificateAssertion(pem: string, tenantId: string, clientId: string, authorityHost: string | undefined): () => Promise<string> {
  let key: ReturnType<typeof createPrivateKey>;
  let thumbprint: string;
  try {
    key = createPrivateKey(pem);
    thumbprint = createHash('sha256').update(new X509Certificate(pem).raw).digest('base64url');
  } catch {
    throw new TokexError('downstream_unavailable', `the certificate of client ${clientId} is not a PEM private key and certificate`);
  }
  const audience = `${(authorityHost ?? DEFAULT_AUTHORITY).replace(/\/+$/, '')}/${tenantId}/oauth2/v2.0/token`;
  return async () => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({})
      .setProtectedHeader({ alg: 'PS256', typ: 'JWT', 'x5t#S256': thumbprint })
      .setIssuer(clientId)
      .setSubject(clientId)
      .setAudience(audience)
      .setJti(randomUUID())
      .setNotBefore(now)
      .setIssuedAt(now)
      .setExpirationTime(now + ASSERTION_LIFETIME_SECONDS)
      .sign(key);
  };
}
