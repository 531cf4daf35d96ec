import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/core-auth';
import { endpointProblem, exchangeToken, TokexExchangeError } from './exchange.js';

export interface TokexCredentialOptions {
  /** tokex's base URL. */
  readonly endpoint: string;
  /** The scope the caller's own token is requested for: the tokex API's, e.g. `api://tokex/.default`. */
  readonly scope: string;
  /**
   * Where the caller's own token comes from. Default: DefaultAzureCredential, so an interactive or
   * Azure CLI sign-in, a service principal from the environment, or a managed identity all work.
   */
  readonly credential?: TokenCredential;
  /** Per exchange. Default 15 s. */
  readonly timeoutMs?: number;
}

/** Reuse an exchanged token until this long before it expires (half its life, for short ones). */
const REFRESH_BEFORE_EXPIRY_MS = 5 * 60_000;

/**
 * A TokenCredential for any Azure SDK client that gets its tokens through tokex: `getToken(scopes)`
 * exchanges the caller's own token (RFC 8693) for what the policy grants for the scopes' resource.
 * Tokens are cached per (resource, scopes) until 5 minutes before expiry; concurrent requests for
 * the same one share one exchange. Refusals and outages throw TokexExchangeError, which carries
 * the OAuth error code and tokex's correlation id.
 */
export class TokexCredential implements TokenCredential {
  readonly #options: TokexCredentialOptions;
  #credential: Promise<TokenCredential> | undefined;
  readonly #cache = new Map<string, { token: AccessToken; refreshAt: number }>();
  readonly #inFlight = new Map<string, Promise<AccessToken>>();

  constructor(options: TokexCredentialOptions) {
    const problem = endpointProblem(options.endpoint);
    if (problem !== undefined) throw new TypeError(`TokexCredential: "endpoint": ${problem}`);
    if (!options.scope) throw new TypeError('TokexCredential: "scope" (the tokex API scope, e.g. api://tokex/.default) is required');
    this.#options = options;
  }

  async getToken(scopes: string | string[], options: GetTokenOptions = {}): Promise<AccessToken> {
    const target = targetOf(scopes);
    const key = `${target.resource} ${target.scope ?? ''}`;
    const cached = this.#cache.get(key);
    if (cached && cached.refreshAt > Date.now()) return cached.token;
    let pending = this.#inFlight.get(key);
    if (!pending) {
      pending = this.#exchange(target, toAbortSignal(options.abortSignal));
      this.#inFlight.set(key, pending);
      void pending.finally(() => this.#inFlight.delete(key)).catch(() => {});
    }
    return pending;
  }

  async #exchange(target: { resource: string; scope: string | undefined }, signal: AbortSignal | undefined): Promise<AccessToken> {
    this.#credential ??= defaultCredential(this.#options.credential);
    const credential = await this.#credential;
    const subject = await credential.getToken(this.#options.scope, signal ? { abortSignal: signal } : {});
    if (!subject) throw new TokexExchangeError('caller_token_unavailable', undefined, undefined, `no token for ${this.#options.scope}`);
    const result = await exchangeToken({
      endpoint: this.#options.endpoint,
      subjectToken: subject.token,
      resource: target.resource,
      ...(target.scope !== undefined && { scope: target.scope }),
      ...(this.#options.timeoutMs !== undefined && { timeoutMs: this.#options.timeoutMs }),
      ...(signal && { signal }),
    });
    const lifetime = result.expiresOnTimestamp - Date.now();
    const token: AccessToken = {
      token: result.accessToken,
      expiresOnTimestamp: result.expiresOnTimestamp,
      refreshAfterTimestamp: result.expiresOnTimestamp - Math.min(REFRESH_BEFORE_EXPIRY_MS, lifetime / 2),
      tokenType: 'Bearer',
    };
    this.#cache.set(`${target.resource} ${target.scope ?? ''}`, { token, refreshAt: token.refreshAfterTimestamp! });
    return token;
  }
}

/** Azure SDKs pass an AbortSignalLike; fetch wants a real AbortSignal. */
type AbortSignalLike = NonNullable<GetTokenOptions['abortSignal']>;
function toAbortSignal(like: AbortSignalLike | undefined): AbortSignal | undefined {
  if (like === undefined || like instanceof AbortSignal) return like;
  const controller = new AbortController();
  if (like.aborted) controller.abort();
  else like.addEventListener('abort', () => controller.abort());
  return controller.signal;
}

async function defaultCredential(given: TokenCredential | undefined): Promise<TokenCredential> {
  if (given) return given;
  const { DefaultAzureCredential } = await import('@azure/identity');
  return new DefaultAzureCredential();
}

/**
 * Azure SDK scopes name a resource and a permission: `https://vault.azure.net/.default`,
 * `https://workspace.internal/jobs.read`. All must share one resource; `.default` (alone) asks for
 * everything the policy allows, other names are passed as tokex scopes.
 */
export function targetOf(scopes: string | readonly string[]): { resource: string; scope: string | undefined } {
  const list = (typeof scopes === 'string' ? [scopes] : [...scopes]).filter((s) => s !== '');
  if (list.length === 0) throw new TypeError('TokexCredential: at least one scope is required');
  const split = list.map((s) => {
    const cut = s.lastIndexOf('/');
    if (cut <= 0 || !/^[a-z][a-z0-9+.-]*:/i.test(s)) throw new TypeError(`TokexCredential: scope "${s}" does not name a resource (<resource>/<scope>)`);
    return { resource: s.slice(0, cut), name: s.slice(cut + 1) };
  });
  const resource = split[0]!.resource;
  if (split.some((s) => s.resource !== resource)) throw new TypeError('TokexCredential: all scopes must name the same resource');
  const names = split.map((s) => s.name);
  if (names.includes('.default')) {
    if (names.length > 1) throw new TypeError('TokexCredential: ".default" cannot be combined with other scopes');
    return { resource, scope: undefined };
  }
  return { resource, scope: names.join(' ') };
}
