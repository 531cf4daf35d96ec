import type { AuditRecord } from './record.js';

/** Application Insights custom event names per audit event. */
export const EVENT_NAMES = { 'token.exchange': 'TokenExchange', 'credential.read': 'CredentialRead' } as const;

/**
 * An audit record as custom-event properties: nested fields as dotted keys (`caller.objectId`),
 * arrays space-joined, everything a string; `durationMs` goes to measurements instead.
 */
export function flattenRecord(record: AuditRecord): { properties: Record<string, string>; measurements: Record<string, number> } {
  const properties: Record<string, string> = {};
  const visit = (value: unknown, key: string) => {
    if (value === undefined || value === null) return;
    if (Array.isArray(value)) properties[key] = value.join(' ');
    else if (typeof value === 'object') for (const [k, v] of Object.entries(value)) visit(v, key ? `${key}.${k}` : k);
    else properties[key] = String(value);
  };
  const { durationMs, ...rest } = record;
  visit(rest, '');
  return { properties, measurements: { durationMs } };
}
