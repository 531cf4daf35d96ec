/**
 * The Application Insights audit sink with the real SDK (applicationinsights 3, its Azure Monitor
 * exporter) against an HTTPS fake of the ingestion endpoint.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { AuditRecord } from '../../../shared/audit/record.js';
import { FakeIngestion } from '../../fakes/app-insights-ingestion.js';
import { FakeIssuer } from '../../fakes/oidc-issuer.js';
import { throwawayTls } from '../../fakes/tls.js';
import { exchangeForm, LocalTokex } from '../../helpers/local-host.js';

let idp: FakeIssuer;
let ingestion: FakeIngestion;
let tokex: LocalTokex;
let records: AuditRecord[] = [];
const secrets: string[] = [];

beforeAll(async () => {
  [idp, ingestion] = await Promise.all([FakeIssuer.start(), FakeIngestion.start()]);
  tokex = await LocalTokex.start(
    `
issuers: [{ name: idp, issuer: "${idp.issuer}", audience: api://tokex }]
rules:
  - name: jobs
    when: { issuer: idp, claims: { roles: Jobs.Train } }
    grant:
      - { minted: "https://workspace.internal", scopes: [jobs.read, jobs.submit] }
      - secrets: [storage-*]
`,
    { APPLICATIONINSIGHTS_CONNECTION_STRING: ingestion.connectionString(), NODE_EXTRA_CA_CERTS: throwawayTls().caBundle },
  );
  const secretValue = `storage-secret-${Math.random().toString(36).slice(2)}`;
  secrets.push(secretValue);
  writeFileSync(join(tokex.env.TOKEX_LOCAL_DIR!, 'secrets.json'), JSON.stringify({ 'storage-key': secretValue }));

  // Straight after startup, while the SDK is still loading in its worker: these records are queued.
  const ids: string[] = [];
  const track = (res: { headers: Headers }) => ids.push(res.headers.get('x-correlation-id')!);
  for (const scope of ['jobs.read', 'jobs.submit', 'jobs.delete']) {
    const subject = await idp.token({ sub: `job-${scope}`, aud: 'api://tokex', roles: ['Jobs.Train'] });
    secrets.push(subject);
    const res = await tokex.exchange(exchangeForm(subject, { audience: 'https://workspace.internal', scope }));
    if (typeof res.body.access_token === 'string') secrets.push(res.body.access_token);
    track(res);
  }
  track(await tokex.exchange(exchangeForm('not-a-token', { audience: 'https://workspace.internal' })));
  const bearer = await idp.token({ sub: 'reader', aud: 'api://tokex', roles: ['Jobs.Train'] });
  secrets.push(bearer);
  for (const name of ['storage-key', 'payroll']) {
    const res = await fetch(`${tokex.url}/credentials/${name}`, { headers: { authorization: `Bearer ${bearer}` } });
    track(res);
  }
  for (const id of ids) await tokex.auditFor(id);
  // The SDK loads in its worker while requests go on; how long that takes depends on the machine's
  // load, so wait (bounded) for the queued records to arrive rather than for a fixed time.
  await until(() => ingestion.events().length >= 6, 45_000);

  // Shutdown: a record written just before SIGTERM still reaches ingestion, because the local
  // host flushes the audit sinks before exiting (the exporter would otherwise hold it for ~1 s).
  const last = await tokex.exchange(exchangeForm('still-not-a-token', { audience: 'https://workspace.internal' }));
  ids.push(last.headers.get('x-correlation-id')!);
  await tokex.auditFor(ids.at(-1)!);
  records = tokex.auditRecords();
  await tokex.stop();
}, 90_000);

async function until(condition: () => boolean, timeoutMs: number): Promise<void> {
  for (const started = Date.now(); !condition(); ) {
    if (Date.now() - started > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

afterAll(async () => {
  await tokex?.stop();
  await Promise.all([idp?.close(), ingestion?.close()]);
});

it('receives exactly one custom event per request, TokenExchange or CredentialRead', () => {
  expect(records).toHaveLength(7);
  expect(ingestion.events('TokenExchange')).toHaveLength(5);
  expect(ingestion.events('CredentialRead')).toHaveLength(2);
  expect(ingestion.events()).toHaveLength(7);
});

it('carries the record as dotted properties, durationMs as a measurement, the correlation id as operation id', () => {
  for (const record of records) {
    const event = ingestion.events().find((e) => e.data.baseData.properties?.correlationId === record.correlationId);
    expect(event, record.correlationId).toBeDefined();
    const { properties, measurements } = event!.data.baseData;
    expect(properties).toMatchObject({ event: record.event, outcome: record.outcome, reason: record.reason });
    if (record.caller)
      expect(properties).toMatchObject({ 'caller.subject': record.caller.subject, 'caller.kind': record.caller.kind, 'caller.issuer': record.caller.issuer });
    if (record.request?.scopes) expect(properties!['request.scopes']).toBe(record.request.scopes.join(' '));
    if (record.grant) expect(properties).toMatchObject({ 'grant.kind': record.grant.kind });
    if (record.request?.secret) expect(properties!['request.secret']).toBe(record.request.secret);
    expect(measurements?.durationMs).toBe(record.durationMs);
    expect(properties).not.toHaveProperty('durationMs');
    expect(event!.tags['ai.operation.id']).toBe(record.correlationId.replace(/-/g, ''));
  }
  const granted = ingestion.events('TokenExchange').filter((e) => e.data.baseData.properties?.outcome === 'granted');
  expect(granted.map((e) => e.data.baseData.properties?.['grant.scopes']).sort()).toEqual(['jobs.read', 'jobs.submit']);
});

it('sends diagnostics as traces', () => {
  expect(ingestion.traces().some((t) => t.data.baseData.message === 'tokex listening')).toBe(true);
});

it('never sends a token or secret value', () => {
  expect(secrets.length).toBeGreaterThanOrEqual(7);
  const sent = ingestion.bodies.join('\n');
  for (const s of secrets) expect(sent.includes(s), `sent ${s.slice(0, 12)}…`).toBe(false);
});
