/**
 * When the Application Insights worker starts: not at startup, but once the first audit record has
 * been answered (or after the idle delay, or on an error, or at shutdown), and that what waited is
 * then delivered to it. The worker here is a stand-in that records what it is sent
 * (recording-worker.mjs): the real one loads the SDK, a second or two of CPU per thread. The real SDK
 * in the real worker, exporting to the ingestion fake, is tested through the server
 * (app-insights.test.ts) and in the deployed package (test/deploy/package.test.ts).
 */
import { randomUUID } from 'node:crypto';
import { BroadcastChannel } from 'node:worker_threads';
import { afterAll, describe, it } from 'vitest';
import { type AppInsightsSink, appInsightsSink, type TelemetryMessage } from '../../../shared/audit/app-insights-sink.js';
import type { AuditRecord } from '../../../shared/audit/record.js';
import { log } from '../../../shared/log.js';

/**
 * Each sink reports to a channel of its own: a sink stays subscribed to the log after its test, so a
 * shared one could get this test's diagnostic from another test's (ready) sink.
 */
const channels: BroadcastChannel[] = [];
afterAll(() => {
  for (const channel of channels) channel.close();
});

/** A sink whose worker is the recording stand-in, and what that worker has been sent so far. */
function recordingSink(idleStartMs: number): { sink: AppInsightsSink; sent: TelemetryMessage[] } {
  const name = `recording-${randomUUID()}`;
  const sent: TelemetryMessage[] = [];
  const channel = new BroadcastChannel(name);
  channel.onmessage = (event) => sent.push((event as MessageEvent).data as TelemetryMessage);
  channels.push(channel);
  const sink = appInsightsSink(name, { idleStartMs, workerModule: new URL('./recording-worker.mjs', import.meta.url) });
  return { sink, sent };
}
const traced = (sent: TelemetryMessage[], message: string) => sent.some((m) => m.type === 'trace' && m.message === message);

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
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.concurrent('the worker thread', () => {
  it('stays idle through startup, starts once the first record has been answered, and delivers what waited', async ({ expect }) => {
    const { sink, sent } = recordingSink(600_000);
    log.warn('a startup diagnostic, before any request');
    expect(sink.state).toBe('idle');
    const first = record();
    await sink.write(first);
    // Same turn as the write: the request's answer is still to be written, so no thread yet.
    expect(sink.state).toBe('idle');
    await new Promise((r) => setImmediate(r));
    expect(sink.state).toBe('loading');
    await until(() => sent.some((m) => m.type === 'event' && m.operationId === first.correlationId));
    expect(sink.state).toBe('ready');
    // In the order they came: the diagnostic from before the request first (the cases beside this
    // one log too, and every sink hears them).
    const names = sent.map((m) => (m.type === 'event' ? m.name : m.type === 'trace' ? m.message : m.type));
    expect(names.filter((n) => n === 'a startup diagnostic, before any request' || n === 'TokenExchange')).toEqual([
      'a startup diagnostic, before any request',
      'TokenExchange',
    ]);
    // Once ready, straight through.
    const second = record();
    await sink.write(second);
    await until(() => sent.some((m) => m.type === 'event' && m.operationId === second.correlationId));
    await sink.flush();
  });

  it('diagnostics alone start it after the idle delay', async ({ expect }) => {
    const { sink, sent } = recordingSink(100);
    log.warn('only a diagnostic, no request');
    expect(sink.state).toBe('idle');
    await until(() => traced(sent, 'only a diagnostic, no request'));
    expect(sink.state).toBe('ready');
    await sink.flush();
  });

  it('flush with nothing sent returns at once and starts nothing', async ({ expect }) => {
    const { sink } = recordingSink(600_000);
    await sink.flush();
    expect(sink.state).toBe('idle');
  });
});

// After the concurrent block: an error starts every idle sink, which would disturb the cases above.
it('an error diagnostic (a failed startup) starts it without waiting for a request', async ({ expect }) => {
  const { sink, sent } = recordingSink(600_000);
  log.warn('a warning waits');
  await new Promise((r) => setImmediate(r));
  expect(sink.state).toBe('idle');
  log.error('tokex startup failed (stand-in)');
  await new Promise((r) => setImmediate(r));
  expect(sink.state).toBe('loading');
  await until(() => traced(sent, 'tokex startup failed (stand-in)'));
  expect(sink.state).toBe('ready');
  expect(traced(sent, 'a warning waits')).toBe(true);
  await sink.flush();
});
