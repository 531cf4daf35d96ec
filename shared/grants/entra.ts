import type { TokenCredential } from '@azure/identity';
import { credentialOptions } from '../azure/client-options.js';
import { downstreamFailure } from '../azure/errors.js';
import { BoundedCache } from '../cache/bounded-cache.js';
import { DOWNSTREAM_DEADLINE_MS, withDeadline } from '../deadline.js';
import { TokexError } from '../errors.js';
import type { SecretStore, SecretValue } from '../keyvault/secret-store.js';
import type { IdentityConfig } from '../policy/policy.js';
import { certificateAssertion } from './client-assertion.js';

/** The audience of a managed identity's token that an app registration's federated credential trusts. */
export const TOKEN_EXCHANGE_AUDIENCE = 'api://AzureADTokenExchange';
/** Reuse a token until this long before it expires. */
export const REFRESH_BEFORE_EXPIRY_MS = 5 * 60_000;
/** After a failure, requests for the same (identity, resource) get the same 503 for this long instead of calling again. */
export const FAILURE_BACKOFF_MS = 1_000;

export interface EntraToken {
  readonly token: string;
  readonly expiresOnTimestamp: number;
}

/** Timing knobs; tests shorten them, production keeps the defaults. */
export interface EntraTokenProviderOptions {
  readonly now?: () => number;
  /** The most one token request may take, retries included. */
  readonly deadlineMs?: number;
  /** How long a failure is replayed to requests for the same (identity, resource). */
  readonly failureBackoffMs?: number;
}

/** Tokens kept at once, per (identity, resource) and, on behalf of users, per user too; least recently used out first. */
export const ENTRA_TOKEN_CACHE_ENTRIES = 10_000;

/**
 * Downstream Entra ID tokens for `<resource>/.default`, obtained as one of the policy's identities.
 * Cached per (identity, resource) until 5 minutes before expiry; concurrent misses share one call;
 * a failure is remembered for a second only. Every call runs under the 10 s downstream deadline.
 */
export class EntraTokenProvider {
  readonly #tokens: BoundedCache<string, EntraToken>;
  readonly #failures: BoundedCache<string, TokexError>;
  readonly #credentials = new Map<string, { credential: TokenCredential; secretVersion: string | undefined }>();

  private readonly now: () => number;
  readonly #deadlineMs: number;
  readonly #failureBackoffMs: number;

  constructor(
    private readonly identities: ReadonlyMap<string, IdentityConfig>,
    private readonly secrets: SecretStore,
    private readonly authorityHost: string | undefined,
    options: EntraTokenProviderOptions = {},
  ) {
    this.now = options.now ?? (() => Date.now());
    this.#deadlineMs = options.deadlineMs ?? DOWNSTREAM_DEADLINE_MS;
    this.#failureBackoffMs = options.failureBackoffMs ?? FAILURE_BACKOFF_MS;
    this.#tokens = new BoundedCache({ maxEntries: ENTRA_TOKEN_CACHE_ENTRIES, now: this.now });
    this.#failures = new BoundedCache({ maxEntries: ENTRA_TOKEN_CACHE_ENTRIES, now: this.now });
  }

  async getToken(identityName: string, resource: string): Promise<EntraToken> {
    return this.#cached(`${identityName}\n${resource}`, identityName, () => this.#fetch(identityName, resource));
  }

  /**
   * A token for `resource` *for the user* of `user.token` (Entra on-behalf-of), as the app
   * registration `identityName`. Cached per (identity, resource, user tid+oid): a user's later
   * tokens reuse it, another user never does. Entra refusing the user token (invalid_grant:
   * consent missing, another audience) is `obo_refused`, not a 503.
   */
  async getTokenOnBehalfOf(identityName: string, resource: string, user: OboUser): Promise<EntraToken> {
    const key = `${identityName}\n${resource}\n${user.tenantId}\n${user.objectId}`;
    return this.#cached(key, identityName, () => this.#fetchOnBehalfOf(identityName, resource, user.token));
  }

  /** The cache, single flight and failure backoff shared by both kinds of Entra token. */
  async #cached(key: string, identityName: string, fetch: () => Promise<EntraToken>): Promise<EntraToken> {
    const cached = this.#tokens.get(key);
    if (cached) return cached;
    const failure = this.#failures.get(key);
    if (failure) throw failure;
    return this.#tokens.load(key, async () => {
      try {
        const token = await fetch();
        const lifetime = token.expiresOnTimestamp - this.now();
        this.#failures.delete(key);
        return { value: token, until: token.expiresOnTimestamp - Math.min(REFRESH_BEFORE_EXPIRY_MS, lifetime / 2) };
      } catch (err) {
        const error = oboRefusal(err) ?? downstreamFailure(`Entra token for identity "${identityName}"`, err);
        // MSAL throttles a client for 60 s after a 5xx, replaying the error without a request.
        // tokex bounds its own retries (single flight, the backoff below), so it starts afresh.
        this.#credentials.delete(identityName);
        if (error.reason !== 'obo_refused') this.#failures.set(key, error, this.now() + this.#failureBackoffMs);
        throw error;
      }
    });
  }

  async #fetchOnBehalfOf(identityName: string, resource: string, userToken: string): Promise<EntraToken> {
    const identity = this.identities.get(identityName);
    if (!identity || (identity.type !== 'app' && identity.type !== 'service-principal')) {
      throw new TokexError('internal_error', `identity "${identityName}" cannot do on-behalf-of`);
    }
    const scope = `${resource.replace(/\/+$/, '')}/.default`;
    return withDeadline(
      `Entra on-behalf-of token for identity "${identityName}"`,
      async (signal) => {
        const { OnBehalfOfCredential } = await import('@azure/identity');
        const base = { tenantId: identity.tenantId, clientId: identity.clientId, userAssertionToken: userToken, ...credentialOptions(this.authorityHost) };
        // One credential per user token: OnBehalfOfCredential holds the user assertion it was built with.
        let credential: TokenCredential;
        if (identity.type === 'app') {
          credential = new OnBehalfOfCredential({ ...base, getAssertion: await this.#federatedAssertion(identity) });
        } else {
          const secret = await this.#secretOf(identity, signal);
          credential = identity.clientSecret
            ? new OnBehalfOfCredential({ ...base, clientSecret: secret.value })
            : new OnBehalfOfCredential({ ...base, getAssertion: certificateAssertion(secret.value, identity.tenantId, identity.clientId, this.authorityHost) });
        }
        const token = await credential.getToken(scope, { abortSignal: signal });
        if (!token) throw new TokexError('downstream_unavailable', `identity "${identityName}" returned no on-behalf-of token`);
        return { token: token.token, expiresOnTimestamp: token.expiresOnTimestamp };
      },
      this.#deadlineMs,
    );
  }

  async #fetch(identityName: string, resource: string): Promise<EntraToken> {
    const identity = this.identities.get(identityName);
    if (!identity) throw new TokexError('internal_error', `identity "${identityName}" is not in the policy`);
    const scope = `${resource.replace(/\/+$/, '')}/.default`;
    return withDeadline(
      `Entra token for identity "${identityName}"`,
      async (signal) => {
        const credential = await this.#credential(identity, signal);
        const token = await credential.getToken(scope, { abortSignal: signal });
        if (!token) throw new TokexError('downstream_unavailable', `identity "${identityName}" returned no token`);
        return { token: token.token, expiresOnTimestamp: token.expiresOnTimestamp };
      },
      this.#deadlineMs,
    );
  }

  /** One credential per identity; a service principal's is rebuilt when its Key Vault secret changes version. */
  async #credential(identity: IdentityConfig, signal: AbortSignal): Promise<TokenCredential> {
    const known = this.#credentials.get(identity.name);
    // Loaded on first use, not at startup: a policy without entra grants never pays for it.
    const { AzureCliCredential, ClientAssertionCredential, ClientCertificateCredential, ClientSecretCredential, ManagedIdentityCredential } = await import(
      '@azure/identity'
    );
    if (identity.type !== 'service-principal') {
      if (known) return known.credential;
      const credential =
        identity.type === 'managed-identity'
          ? new ManagedIdentityCredential({ ...(identity.clientId && { clientId: identity.clientId }), ...credentialOptions(undefined) })
          : identity.type === 'app'
            ? new ClientAssertionCredential(
                identity.tenantId,
                identity.clientId,
                await this.#federatedAssertion(identity),
                credentialOptions(this.authorityHost),
              )
            : new AzureCliCredential({ processTimeoutInMs: 10_000 });
      this.#credentials.set(identity.name, { credential, secretVersion: undefined });
      return credential;
    }
    const secret = await this.#secretOf(identity, signal);
    if (known && known.secretVersion === secret.version) return known.credential;
    const options = credentialOptions(this.authorityHost);
    const credential = identity.clientSecret
      ? new ClientSecretCredential(identity.tenantId, identity.clientId, secret.value, options)
      : new ClientCertificateCredential(identity.tenantId, identity.clientId, { certificate: secret.value }, options);
    this.#credentials.set(identity.name, { credential, secretVersion: secret.version });
    return credential;
  }

  /** A service principal's client secret or certificate PEM, from Key Vault. */
  async #secretOf(identity: Extract<IdentityConfig, { type: 'service-principal' }>, signal: AbortSignal): Promise<SecretValue> {
    const reference = (identity.clientSecret ?? identity.certificate)!;
    const secretName = reference.slice('kv:'.length);
    const secret = await this.secrets.get(secretName, { signal });
    if (!secret) throw new TokexError('downstream_unavailable', `Key Vault secret "${secretName}" of identity "${identity.name}" does not exist`);
    return secret;
  }

  /**
   * The client assertion of an `app` identity: tokex's managed identity's token for the token
   * exchange audience, which the app registration trusts as a federated credential. MSAL caches
   * managed-identity tokens, so this asks the identity endpoint about once a day, not per call.
   */
  async #federatedAssertion(identity: Extract<IdentityConfig, { type: 'app' }>): Promise<() => Promise<string>> {
    const { ManagedIdentityCredential } = await import('@azure/identity');
    const managed = new ManagedIdentityCredential({
      ...(identity.managedIdentityClientId && { clientId: identity.managedIdentityClientId }),
      ...credentialOptions(undefined),
    });
    const scope = `${(identity.assertionAudience ?? TOKEN_EXCHANGE_AUDIENCE).replace(/\/+$/, '')}/.default`;
    return async () => {
      const token = await managed.getToken(scope);
      if (!token) throw new TokexError('downstream_unavailable', `the managed identity gave no assertion for identity "${identity.name}"`);
      return token.token;
    };
  }
}

export interface OboUser {
  /** The user's Entra access token, the assertion Entra exchanges. */
  readonly token: string;
  readonly tenantId: string;
  readonly objectId: string;
}

/** An Entra refusal of the user assertion (HTTP 400 invalid_grant), as the caller's 400; anything else is not one. */
function oboRefusal(err: unknown): TokexError | undefined {
  const e = err as { name?: string; statusCode?: number; errorResponse?: { error?: string }; message?: string; cause?: { errorCode?: string } };
  const code = e?.errorResponse?.error ?? e?.cause?.errorCode ?? (typeof e?.message === 'string' ? /^(invalid_grant)\b/.exec(e.message)?.[1] : undefined);
  if (code !== 'invalid_grant') return undefined;
  return new TokexError('obo_refused', `Entra refused the on-behalf-of exchange: ${e.name ?? 'Error'} invalid_grant`, { cause: err });
}
