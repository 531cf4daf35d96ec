import { quote, TokexError } from '../errors.js';

export const MAX_TOKEN_BYTES = 16 * 1024;
/** Compact JWS: three base64url segments, no padding, nothing else (RFC 8725bis "check JWT format"). */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export interface ParsedJws {
  readonly header: Record<string, unknown>;
  /** The payload segment, still base64url: a JWS payload need not be JSON. */
  readonly payloadSegment: string;
}

export interface DecodedToken {
  readonly header: Record<string, unknown>;
  readonly payload: Record<string, unknown>;
}

/**
 * Checks that `token` is exactly a compact JWS of sane size and decodes its header, refusing
 * anything else: too large, JSON serialization, JWE, padding or stray characters, invalid UTF-8,
 * a header that is not a JSON object or repeats a key.
 */
export function parseCompactJws(token: string): ParsedJws {
  if (token.length > MAX_TOKEN_BYTES) throw new TokexError('token_too_large', `token is ${token.length} bytes (max ${MAX_TOKEN_BYTES})`);
  if (!COMPACT_JWS.test(token)) throw new TokexError('malformed_token', describeShape(token));
  const [h, p] = token.split('.') as [string, string, string];
  return { header: decodeJsonSegment(h, 'header'), payloadSegment: p };
}

/**
 * Decodes a JWT without verifying it. The claims are untrusted until the signature is verified;
 * they only pick the issuer and its keys.
 */
export function decodeCompactJws(token: string): DecodedToken {
  const { header, payloadSegment } = parseCompactJws(token);
  return { header, payload: decodeJsonSegment(payloadSegment, 'payload') };
}

function describeShape(token: string): string {
  const segments = token.split('.').length;
  if (token.trimStart().startsWith('{')) return 'JSON-serialized JWS (only compact JWS is accepted)';
  if (segments === 5) return 'five segments (a JWE; only compact JWS is accepted)';
  if (segments !== 3) return `${segments} segments (a compact JWS has 3)`;
  return 'a segment holds characters outside base64url (padding, whitespace or other)';
}

export function decodeJsonSegment(segment: string, what: 'header' | 'payload'): Record<string, unknown> {
  // base64url without padding never has length ≡ 1 (mod 4); Buffer would silently drop the extra char.
  if (segment.length % 4 === 1) throw new TokexError('malformed_token', `${what} is not valid base64url`);
  let text: string;
  try {
    text = utf8.decode(Buffer.from(segment, 'base64url'));
  } catch {
    throw new TokexError('malformed_token', `${what} is not valid UTF-8`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new TokexError('malformed_token', `${what} is not JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TokexError('malformed_token', `${what} is not a JSON object`);
  }
  const duplicate = firstDuplicateKey(text);
  if (duplicate !== undefined) throw new TokexError('malformed_token', `${what} repeats the key ${quote(duplicate)}`);
  return value as Record<string, unknown>;
}

/**
 * JSON.parse keeps the last of duplicate keys, so `{"alg":"RS256","alg":"none"}` would mean different
 * things to different parsers. Scans already-valid JSON and returns the first key repeated in an object.
 */
export function firstDuplicateKey(json: string): string | undefined {
  const stack: { keys: Set<string> | undefined; expectKey: boolean }[] = [];
  for (let i = 0; i < json.length; i++) {
    const c = json[i];
    if (c === '"') {
      let j = i + 1;
      while (json[j] !== '"') j += json[j] === '\\' ? 2 : 1;
      const top = stack[stack.length - 1];
      if (top?.keys && top.expectKey) {
        const key = JSON.parse(json.slice(i, j + 1)) as string;
        if (top.keys.has(key)) return key;
        top.keys.add(key);
        top.expectKey = false;
      }
      i = j;
    } else if (c === '{') stack.push({ keys: new Set(), expectKey: true });
    else if (c === '[') stack.push({ keys: undefined, expectKey: false });
    else if (c === '}' || c === ']') stack.pop();
    else if (c === ',') {
      const top = stack[stack.length - 1];
      if (top?.keys) top.expectKey = true;
    }
  }
  return undefined;
}
