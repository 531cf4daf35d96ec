/**
 * When the Application Insights worker starts: not at startup, but once the first audit record has
 * been answered (or after the idle delay, or at shutdown). The built module, so its worker file
 * exists; the real SDK in that worker, exporting to the HTTPS ingestion fake.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type * as SinkModule from '../../../shared/audit/app-insights-sink.js';
import type { AuditRecord } from '../../../shared/audit/record.js';
import type * as LogModule from '../../../shared/log.js';
import { FakeIngestion } from '../../fakes/app-insights-ingestion.js';

const DIST = new URL('../../../dist/shared/', import.meta.url);
let ingestion: FakeIngestion;
let appInsightsSink: typeof SinkModule.appInsightsSink;
let log: typeof LogModule.log;

beforeAll(async () => {
  ingestion = await FakeIngestion.start();
  ({ appInsightsSink } = (await import(new URL('audit/app-insights-sink.js', DIST).href)) as typeof SinkModule);
  ({ log } = (await import(new URL('log.js', DIST).href)) as typeof LogModule);
});
afterAll(() => ingestion?.close());

const record = (): AuditRecord => ({
  time: new Date().toISOString(),
  event: 'token.exchange',
  outcome: 'granted',
  reason: 'ok',
  correlationId: randomUUID(),
  durationMs: 1.5,
});

async function until(condition: () => boolean, timeoutMs = 45_000): Promise<void> {
  for (const started = Date.now(); !condition(); ) {
    if (Date.now() - started > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

it('stays idle through startup, starts once the first record has been answered, and delivers what waited', async () => {
  const sink = appInsightsSink(ingestion.connectionString(), { idleStartMs: 600_000 });
  log.warn('a startup diagnostic, before any request');
  expect(sink.state).toBe('idle');
  const first = record();
  await sink.write(first);
  // Same turn as the write: the request's answer is still to be written, so no thread yet.
  expect(sink.state).toBe('idle');
  await new Promise((r) => setImmediate(r));
  expect(sink.state).toBe('loading');
  await until(() => ingestion.events().some((e) => e.data.baseData.properties?.correlationId === first.correlationId));
  expect(sink.state).toBe('ready');
  expect(ingestion.traces().some((t) => t.data.baseData.message === 'a startup diagnostic, before any request')).toBe(true);
  await sink.flush();
});

it('diagnostics alone start it after the idle delay', async () => {
  // Its own ingestion: the first test's sink, still subscribed to the log, sends this trace too.
  const own = await FakeIngestion.start();
  try {
    const sink = appInsightsSink(own.connectionString(), { idleStartMs: 100 });
    log.warn('only a diagnostic, no request');
    expect(sink.state).toBe('idle');
    await until(() => own.traces().some((t) => t.data.baseData.message === 'only a diagnostic, no request'));
    expect(sink.state).toBe('ready');
    await sink.flush();
  } finally {
    await own.close();
  }
});

it('flush with nothing sent returns at once and starts nothing', async () => {
  const sink = appInsightsSink(ingestion.connectionString(), { idleStartMs: 600_000 });
  await sink.flush();
  expect(sink.state).toBe('idle');
});
