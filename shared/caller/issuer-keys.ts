import { createLocalJWKSet, createRemoteJWKSet, customFetch, errors, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { TokexError } from '../errors.js';
import { isAllowedFetchUrl } from '../url.js';
import { FETCH_TIMEOUT_MS, FetchError, fetchJson } from './fetch-json.js';
import type { IssuerConfig } from './issuer-config.js';

/** After a successful fetch, an unknown `kid` may trigger another only after this long. */
export const JWKS_COOLDOWN_MS = 30_000;
/** How long a fetched key set is trusted before it is fetched again. */
export const JWKS_MAX_AGE_MS = 10 * 60_000;
/** How long known keys stay usable while the issuer's JWKS endpoint cannot be reached. */
export const JWKS_STALE_GRACE_MS = 24 * 3600_000;
/** After a failed fetch, how long requests use the last good keys without trying again. */
const RETRY_AFTER_FAILURE_MS = 30_000;

/**
 * One key set of an issuer as fetched: a new object whenever the set is fetched again, so whatever
 * was verified with it can tell it is no longer current. `freshUntil`: fetch time + JWKS_MAX_AGE_MS.
 */
export interface KeySetGeneration {
  readonly freshUntil: number;
}

/** The keys of one issuer. `jwks()` is the last set seen (for the Entra key–issuer binding). */
export interface IssuerKeys {
  readonly getKey: JWTVerifyGetKey;
  jwks(): JSONWebKeySet | undefined;
  /** The key set in use now (undefined before the first fetch). */
  generation(): KeySetGeneration | undefined;
}

/** Keys held in memory (the local host's dev issuer): one generation, never stale. */
export function staticIssuerKeys(jwks: JSONWebKeySet): IssuerKeys {
  const generation: KeySetGeneration = { freshUntil: Infinity };
  return { getKey: createLocalJWKSet(jwks), jwks: () => jwks, generation: () => generation };
}

/**
 * Keys fetched from the issuer's JWKS (found by OIDC discovery when `jwksUri` is not configured),
 * cached by jose's remote key set; when the endpoint is down, the last good set keeps working for
 * up to 24 h. A fetch failure with no usable keys is `downstream_unavailable` (503), not a refusal.
 */
/** `fetchTimeoutMs`: the deadline of each discovery or JWKS fetch (tests shorten it). */
export function remoteIssuerKeys(issuer: IssuerConfig, now: () => number = () => Date.now(), fetchTimeoutMs = FETCH_TIMEOUT_MS): IssuerKeys {
  let remote: ReturnType<typeof createRemoteJWKSet> | undefined;
  let locating: Promise<ReturnType<typeof createRemoteJWKSet>> | undefined;
  let lastGood: { jwks: JSONWebKeySet; at: number; getKey: JWTVerifyGetKey; freshUntil: number } | undefined;
  let failedAt = -Infinity;

  const remoteSet = async () => {
    if (remote) return remote;
    locating ??= locateJwks(issuer, fetchTimeoutMs).then(
      (uri) =>
        (remote = createRemoteJWKSet(new URL(uri), {
          cooldownDuration: JWKS_COOLDOWN_MS,
          cacheMaxAge: JWKS_MAX_AGE_MS,
          // Our fetch: deadline, size cap, no redirects, and a body that is JSON or a FetchError.
          [customFetch]: async (url: string, init: { signal?: AbortSignal }) =>
            new Response(JSON.stringify(await fetchJson(url, init.signal, fetchTimeoutMs)), { status: 200, headers: { 'content-type': 'application/json' } }),
        })),
      (err: unknown) => {
        failedAt = now();
        // Let the next request try discovery again, but not before the retry pause.
        setTimeout(() => (locating = undefined), RETRY_AFTER_FAILURE_MS).unref();
        throw unavailable(issuer, err);
      },
    );
    return locating;
  };

  const remember = (set: ReturnType<typeof createRemoteJWKSet>) => {
    const jwks = set.jwks();
    if (jwks && jwks !== lastGood?.jwks) {
      const at = now();
      lastGood = { jwks, at, getKey: createLocalJWKSet(jwks), freshUntil: at + JWKS_MAX_AGE_MS };
    }
  };

  const getKey: JWTVerifyGetKey = async (header, token) => {
    const usable = lastGood && now() - lastGood.at < JWKS_STALE_GRACE_MS ? lastGood : undefined;
    if (usable && now() - failedAt < RETRY_AFTER_FAILURE_MS) return usable.getKey(header, token);
    const set = await remoteSet();
    try {
      const key = await set(header, token);
      remember(set);
      return key;
    } catch (err) {
      if (!isFetchFailure(err)) {
        remember(set);
        throw err;
      }
      failedAt = now();
      if (usable) return usable.getKey(header, token);
      throw unavailable(issuer, err);
    }
  };

  return { getKey, jwks: () => lastGood?.jwks, generation: () => lastGood };
}

async function locateJwks(issuer: IssuerConfig, timeoutMs: number): Promise<string> {
  if (issuer.jwksUri) return issuer.jwksUri;
  const url = issuer.discoveryUrl;
  const doc = (await fetchJson(url, undefined, timeoutMs)) as { issuer?: unknown; jwks_uri?: unknown } | null;
  if (typeof doc !== 'object' || doc === null) throw new FetchError(`${url}: not a JSON object`);
  if (doc.issuer !== issuer.issuer) throw new FetchError(`${url}: "issuer" does not match the configured issuer`);
  if (typeof doc.jwks_uri !== 'string' || !isAllowedFetchUrl(doc.jwks_uri)) {
    throw new FetchError(`${url}: "jwks_uri" missing or not https`);
  }
  return doc.jwks_uri;
}

function isFetchFailure(err: unknown): boolean {
  return err instanceof FetchError || err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid;
}

function unavailable(issuer: IssuerConfig, err: unknown): TokexError {
  if (err instanceof TokexError) return err;
  return new TokexError('downstream_unavailable', `keys of issuer "${issuer.name}" unavailable: ${(err as Error).message}`, {
    retryAfter: 30,
  });
}
