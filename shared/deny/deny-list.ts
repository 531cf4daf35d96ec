import { z } from 'zod';
import type { Caller } from '../caller/caller.js';
import { ConfigError, quote } from '../errors.js';

/**
 * The kill switch (TOKEX_DENY_LIST): callers by issuer name and `oid` or `sub`, whole issuers, and
 * whole rules, refused with reason `caller_denied` whatever the policy says. Edited with `tokex deny`.
 */
const callerEntry = z.union([
  z.strictObject({ issuer: z.string().min(1), oid: z.string().min(1) }),
  z.strictObject({ issuer: z.string().min(1), sub: z.string().min(1) }),
]);

export const denyListSchema = z.strictObject({
  callers: z.array(callerEntry).default([]),
  issuers: z.array(z.string().min(1)).default([]),
  rules: z.array(z.string().min(1)).default([]),
});

export type DenyList = z.infer<typeof denyListSchema>;
export type DeniedCaller = DenyList['callers'][number];

export const EMPTY_DENY_LIST: DenyList = { callers: [], issuers: [], rules: [] };

/** Parses the deny-list document (JSON); an empty document is an empty list. */
export function parseDenyList(text: string, source: string): DenyList {
  if (text.trim() === '') return EMPTY_DENY_LIST;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ConfigError(`${source}: the deny-list is not JSON`);
  }
  const parsed = denyListSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(`${source}: the deny-list is not valid (${issue?.path.join('.') || 'top'}: ${issue?.message})`);
  }
  return parsed.data;
}

export function formatDenyList(list: DenyList): string {
  return `${JSON.stringify(list, null, 2)}\n`;
}

/** Why `caller` is denied, or undefined. */
export function whyCallerDenied(list: DenyList, caller: Caller): string | undefined {
  if (list.issuers.includes(caller.issuerName)) return `issuer ${caller.issuerName} is on the deny-list`;
  for (const entry of list.callers) {
    if (entry.issuer !== caller.issuerName) continue;
    if ('oid' in entry && caller.objectId === entry.oid) return `caller ${caller.issuerName} oid ${quote(entry.oid)} is on the deny-list`;
    if ('sub' in entry && caller.subject === entry.sub) return `caller ${caller.issuerName} sub ${quote(entry.sub)} is on the deny-list`;
  }
  return undefined;
}

export function sameEntry(a: DeniedCaller, b: DeniedCaller): boolean {
  return a.issuer === b.issuer && ('oid' in a ? 'oid' in b && a.oid === b.oid : 'sub' in b && a.sub === b.sub);
}
