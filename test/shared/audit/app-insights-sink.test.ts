/**
 * When the Application Insights worker starts: not at startup, but once the first audit record has
 * been answered (or after the idle delay, or at shutdown). The built module, so its worker file
 * exists; the real SDK in that worker, exporting to the HTTPS ingestion fake.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, it } from 'vitest';
import type * as SinkModule from '../../../shared/audit/app-insights-sink.js';
import type { AuditRecord } from '../../../shared/audit/record.js';
import type * as LogModule from '../../../shared/log.js';
import { FakeIngestion } from '../../fakes/app-insights-ingestion.js';

const DIST = new URL('../../../dist/shared/', import.meta.url);
let appInsightsSink: typeof SinkModule.appInsightsSink;
let log: typeof LogModule.log;
/**
 * One ingestion fake per test: a sink stays subscribed to the log after its test, so with a shared
 * fake another test's (ready) sink could deliver this test's diagnostic before this test's sink.
 */
const ingestions: FakeIngestion[] = [];
const newIngestion = async () => {
  const ingestion = await FakeIngestion.start();
  ingestions.push(ingestion);
  return ingestion;
};

beforeAll(async () => {
  ({ appInsightsSink } = (await import(new URL('audit/app-insights-sink.js', DIST).href)) as typeof SinkModule);
  ({ log } = (await import(new URL('log.js', DIST).href)) as typeof LogModule);
});
afterAll(() => Promise.all(ingestions.map((i) => i.close())));

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

// Side by side: each waits for its own worker thread to load the SDK and export (about 2 s).
describe.concurrent('the worker thread', () => {
  it('stays idle through startup, starts once the first record has been answered, and delivers what waited', async ({ expect }) => {
    const ingestion = await newIngestion();
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

  it('diagnostics alone start it after the idle delay', async ({ expect }) => {
    const ingestion = await newIngestion();
    const sink = appInsightsSink(ingestion.connectionString(), { idleStartMs: 100 });
    log.warn('only a diagnostic, no request');
    expect(sink.state).toBe('idle');
    await until(() => ingestion.traces().some((t) => t.data.baseData.message === 'only a diagnostic, no request'));
    expect(sink.state).toBe('ready');
    await sink.flush();
  });

  it('flush with nothing sent returns at once and starts nothing', async ({ expect }) => {
    const ingestion = await newIngestion();
    const sink = appInsightsSink(ingestion.connectionString(), { idleStartMs: 600_000 });
    await sink.flush();
    expect(sink.state).toBe('idle');
  });
});

// After the concurrent block: an error starts every idle sink, which would disturb the cases above.
it('an error diagnostic (a failed startup) starts it without waiting for a request', async ({ expect }) => {
  const ingestion = await newIngestion();
  const sink = appInsightsSink(ingestion.connectionString(), { idleStartMs: 600_000 });
  log.warn('a warning waits');
  await new Promise((r) => setImmediate(r));
  expect(sink.state).toBe('idle');
  log.error('tokex startup failed (stand-in)');
  await new Promise((r) => setImmediate(r));
  expect(sink.state).toBe('loading');
  await until(() => ingestion.traces().some((t) => t.data.baseData.message === 'tokex startup failed (stand-in)'));
  expect(ingestion.traces().some((t) => t.data.baseData.message === 'a warning waits')).toBe(true);
  await sink.flush();
});
