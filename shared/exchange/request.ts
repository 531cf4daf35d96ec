import { quote, TokexError } from '../errors.js';
import { SCOPE_TOKEN } from '../patterns.js';
import { DEFAULT_SCOPE_SUFFIX, TOKEN_EXCHANGE_GRANT, TOKEN_TYPE_ACCESS_TOKEN, TOKEN_TYPE_JWT } from '../protocol.js';
import { isAbsoluteUri } from '../url.js';

const SUBJECT_TOKEN_TYPES = [TOKEN_TYPE_JWT, TOKEN_TYPE_ACCESS_TOKEN];
/** More scopes than this in one request is refused before the policy is consulted (and bounds the audit record). */
export const MAX_SCOPES = 50;
/** Parameters that must appear at most once (RFC 6749 §3.1: "MUST NOT be included more than once"). */
const SINGLE_PARAMETERS = [
  'grant_type',
  'subject_token',
  'subject_token_type',
  'requested_token_type',
  'resource',
  'audience',
  'scope',
  'actor_token',
  'actor_token_type',
  'client_id',
];

/** A well-formed RFC 8693 request. */
export interface ExchangeRequest {
  readonly subjectToken: string;
  readonly target: string;
  /** The requested scopes, or undefined when `scope` was omitted. */
  readonly scopes: readonly string[] | undefined;
  readonly requestedTokenType: string;
  /** The actor token (RFC 8693 §2.1, delegation), when one was given. */
  readonly actorToken: string | undefined;
}

/** Told what parsing learns as it goes, so a refusal is still audited with its target (the audit trail). */
export interface RequestNotes {
  request(part: { target?: string; scopes?: string[] }): void;
  subjectToken(token: string): void;
  actorToken(token: string): void;
}

/**
 * Parses `application/x-www-form-urlencoded` per RFC 8693 §2.1. Unknown parameters are ignored
 * (RFC 6749 §3.2); known ones repeated, or `resource` with `audience`, are `invalid_request`.
 * Each refusal's detail names the parameter: it is what the caller is told.
 */
export function parseTokenRequest(contentType: string | null, body: string, notes: RequestNotes): ExchangeRequest {
  const mediaType = contentType?.split(';')[0]?.trim().toLowerCase();
  if (mediaType !== 'application/x-www-form-urlencoded') {
    throw new TokexError(
      'malformed_request',
      `Content-Type must be application/x-www-form-urlencoded (${mediaType ? `got ${quote(mediaType.slice(0, 60))}` : 'none given'})`,
    );
  }
  const form = new URLSearchParams(body);
  for (const name of SINGLE_PARAMETERS) {
    if (form.getAll(name).length > 1) throw new TokexError('malformed_request', `${name} is repeated`);
  }
  const param = (name: string) => {
    const value = form.get(name);
    return value === null || value === '' ? undefined : value;
  };

  const grantType = param('grant_type');
  if (grantType === undefined) throw new TokexError('malformed_request', 'grant_type is missing');
  if (grantType !== TOKEN_EXCHANGE_GRANT)
    throw new TokexError('unsupported_grant_type', `grant_type must be ${TOKEN_EXCHANGE_GRANT} (got ${quote(grantType.slice(0, 100))})`);

  const scopeParam = form.get('scope');
  const scopes = scopeParam === null ? undefined : scopeParam.split(' ');
  if (scopes !== undefined && !scopes.every((s) => SCOPE_TOKEN.test(s))) {
    throw new TokexError('malformed_request', 'scope must be space-delimited scope tokens (RFC 6749 §3.3)');
  }
  if (scopes) notes.request({ scopes: [...scopes] });

  const resource = param('resource');
  const audience = param('audience');
  if (resource !== undefined && audience !== undefined) throw new TokexError('malformed_request', 'resource and audience are both given');
  const target = resource ?? audience ?? targetFromScopes(scopes);
  if (target !== undefined) notes.request({ target });

  const subjectToken = param('subject_token');
  if (subjectToken !== undefined) notes.subjectToken(subjectToken);

  const actorToken = param('actor_token');
  if (actorToken !== undefined) notes.actorToken(actorToken);
  // Before the policy, and it bounds the audit record.
  if (scopes !== undefined && scopes.length > MAX_SCOPES)
    throw new TokexError('malformed_request', `${scopes.length} scopes requested (at most ${MAX_SCOPES})`);
  if (subjectToken === undefined) throw new TokexError('malformed_request', 'subject_token is missing');
  const subjectTokenType = param('subject_token_type');
  if (subjectTokenType === undefined) throw new TokexError('malformed_request', 'subject_token_type is missing');
  if (!SUBJECT_TOKEN_TYPES.includes(subjectTokenType))
    throw new TokexError('unsupported_token_type', `subject_token_type must be ${TOKEN_TYPE_JWT} or ${TOKEN_TYPE_ACCESS_TOKEN}`);
  // RFC 8693 §2.1: actor_token_type is required with an actor_token and must not appear without one.
  const actorTokenType = param('actor_token_type');
  if (actorToken !== undefined && actorTokenType === undefined)
    throw new TokexError('malformed_request', 'actor_token_type is missing (required with actor_token)');
  if (actorToken === undefined && form.has('actor_token_type'))
    throw new TokexError('malformed_request', 'actor_token is missing (actor_token_type was given)');
  if (actorTokenType !== undefined && !SUBJECT_TOKEN_TYPES.includes(actorTokenType)) {
    throw new TokexError('unsupported_token_type', `actor_token_type must be ${TOKEN_TYPE_JWT} or ${TOKEN_TYPE_ACCESS_TOKEN}`);
  }
  const requestedTokenType = param('requested_token_type') ?? TOKEN_TYPE_ACCESS_TOKEN;
  if (!SUBJECT_TOKEN_TYPES.includes(requestedTokenType)) {
    throw new TokexError('unsupported_token_type', `requested_token_type must be ${TOKEN_TYPE_ACCESS_TOKEN} or ${TOKEN_TYPE_JWT}`);
  }

  if (target === undefined) throw new TokexError('malformed_request', 'resource or audience is missing (or give one scope of the form <resource>/.default)');
  if (resource !== undefined && !isAbsoluteUri(resource))
    throw new TokexError('target_not_allowed', `resource ${quote(resource.slice(0, 200))} is not an absolute URI`);
  return { subjectToken, target, scopes, requestedTokenType, actorToken };
}

/** `https://ml.azure.com/.default` names the target `https://ml.azure.com`, the Entra convention. */
function targetFromScopes(scopes: readonly string[] | undefined): string | undefined {
  const defaults = scopes?.filter((s) => s.endsWith(DEFAULT_SCOPE_SUFFIX)) ?? [];
  if (defaults.length !== 1) return undefined;
  const target = defaults[0]!.slice(0, -DEFAULT_SCOPE_SUFFIX.length);
  return target === '' ? undefined : target;
}
