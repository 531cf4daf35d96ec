import { describe, expect, it } from 'vitest';
import { Auditor } from '../../../shared/audit/auditor.js';
import { EVENT_NAMES, flattenRecord } from '../../../shared/audit/flatten.js';
import type { AuditRecord } from '../../../shared/audit/record.js';
import type { AuditSink } from '../../../shared/audit/sink.js';

const record = (): AuditRecord => ({
  time: '2026-11-26T10:00:00.000Z',
  event: 'token.exchange',
  outcome: 'granted',
  reason: 'ok',
  correlationId: 'c-1',
  caller: { issuer: 'https://idp', objectId: 'o-1', kind: 'app' },
  request: { target: 'https://w', scopes: ['a', 'b'] },
  rule: 'r',
  grant: { kind: 'minted', scopes: ['a', 'b'], expiresAt: '2026-11-26T10:10:00.000Z', jti: 'j-1' },
  subjectTokenId: 'sha256:0123456789abcdef',
  durationMs: 1.25,
  clientIp: '127.0.0.1',
});

describe('Application Insights event shape', () => {
  it('flattens to dotted string properties, arrays space-joined, durationMs as the only measurement', () => {
    const { properties, measurements } = flattenRecord(record());
    expect(measurements).toEqual({ durationMs: 1.25 });
    expect(properties).toEqual({
      time: '2026-11-26T10:00:00.000Z',
      event: 'token.exchange',
      outcome: 'granted',
      reason: 'ok',
      correlationId: 'c-1',
      'caller.issuer': 'https://idp',
      'caller.objectId': 'o-1',
      'caller.kind': 'app',
      'request.target': 'https://w',
      'request.scopes': 'a b',
      rule: 'r',
      'grant.kind': 'minted',
      'grant.scopes': 'a b',
      'grant.expiresAt': '2026-11-26T10:10:00.000Z',
      'grant.jti': 'j-1',
      subjectTokenId: 'sha256:0123456789abcdef',
      clientIp: '127.0.0.1',
    });
    expect(EVENT_NAMES).toEqual({ 'token.exchange': 'TokenExchange', 'credential.read': 'CredentialRead' });
  });
});

describe('TOKEX_AUDIT_REQUIRED', () => {
  const sink = (name: string, durable: boolean, ok: boolean, seen: AuditRecord[] = []): AuditSink => ({
    name,
    durable,
    write: async (r) => {
      if (!ok) throw new Error('down');
      seen.push({ ...r });
    },
  });

  it('with a durable sink configured, the stdout line alone does not count', async () => {
    const lines: AuditRecord[] = [];
    const auditor = new Auditor([sink('stdout', false, true, lines), sink('file', true, false)], true);
    const r = record();
    expect(await auditor.write(r)).toBe(false);
    expect(lines[0]).toMatchObject({ outcome: 'failed', reason: 'audit_unavailable' });
  });

  it('one durable sink accepting is enough; best effort never refuses', async () => {
    expect(await new Auditor([sink('file', true, false), sink('ai', true, true)], true).write(record())).toBe(true);
    expect(await new Auditor([sink('stdout', false, true), sink('file', true, false)], false).write(record())).toBe(true);
  });

  it('with only the log line configured, the log line is the audit', async () => {
    expect(await new Auditor([sink('stdout', false, true)], true).write(record())).toBe(true);
    expect(await new Auditor([sink('stdout', false, false)], true).write(record())).toBe(false);
  });
});
