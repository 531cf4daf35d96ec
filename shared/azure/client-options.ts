import type { TokenCredentialOptions } from '@azure/identity';
import type { SecretClientOptions } from '@azure/keyvault-secrets';
import { isLoopbackUrl } from '../url.js';

/**
 * Retries inside the 10 s downstream deadline: three attempts at most, backing off from 200 ms,
 * honouring Retry-After (core-rest-pipeline does), never waiting more than 3 s between attempts.
 */
const RETRY = { maxRetries: 2, retryDelayInMs: 200, maxRetryDelayInMs: 3_000 } as const;

/**
 * SecretClient options. The challenge-resource check (the vault host must end in the resource the
 * 401 challenge names) is relaxed only for a vault on loopback, where a local fake stands in.
 */
export function secretClientOptions(vaultUrl: string): SecretClientOptions {
  return { retryOptions: RETRY, disableChallengeResourceVerification: isLoopbackUrl(new URL(vaultUrl)) };
}

/**
 * Credential options. Instance discovery (a call to login.microsoftonline.com) is skipped only for
 * an authority on loopback, where it could never succeed.
 */
export function credentialOptions(authorityHost: string | undefined): TokenCredentialOptions & { disableInstanceDiscovery?: boolean } {
  const options: TokenCredentialOptions & { disableInstanceDiscovery?: boolean } = { retryOptions: RETRY };
  if (authorityHost !== undefined) {
    options.authorityHost = authorityHost;
    if (isLoopbackUrl(new URL(authorityHost))) options.disableInstanceDiscovery = true;
  }
  return options;
}
