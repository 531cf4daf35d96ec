import { isIP } from 'node:net';

/** True for 127.0.0.0/8, ::1 and localhost: the only hosts where plain http is allowed. */
export function isLoopbackUrl(url: URL): boolean {
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

/** https anywhere; http only on loopback (issuer, discovery and JWKS URLs). */
export function isAllowedFetchUrl(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  return url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackUrl(url));
}

/** An absolute URI in the RFC 3986 sense: a scheme, then something (used for `resource`). */
export function isAbsoluteUri(value: string): boolean {
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:[^\s]+$/.test(value)) return false;
  try {
    new URL(value);
    return !value.includes('#');
  } catch {
    return false;
  }
}
