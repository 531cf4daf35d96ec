import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { type LogLevel, log } from '../log.js';
import { EVENT_NAMES, flattenRecord } from './flatten.js';
import type { AuditSink } from './sink.js';

/** Records and traces held while the SDK loads; past this they are dropped and counted. */
export const MAX_QUEUED = 10_000;
const FLUSH_TIMEOUT_MS = 5_000;

type Severity = 'Verbose' | 'Information' | 'Warning' | 'Error' | 'Critical';
export type TelemetryMessage =
  | { type: 'event'; name: string; operationId: string; properties: Record<string, string>; measurements: Record<string, number> }
  | { type: 'trace'; message: string; severity: Severity; operationId?: string; properties: Record<string, string> }
  | { type: 'flush'; id: number };

export interface AppInsightsSink extends AuditSink {
  /** Records dropped because the queue was full before the SDK was ready. */
  readonly dropped: number;
  /** `idle` until the worker is started (see appInsightsSink). */
  readonly state: 'idle' | 'loading' | 'ready' | 'failed';
  flush(): Promise<void>;
}

/** Diagnostics alone (no audit record yet) start the SDK after this long. */
export const IDLE_START_MS = 5_000;

export interface AppInsightsSinkOptions {
  /** Diagnostics alone start the worker after this long (default IDLE_START_MS). */
  readonly idleStartMs?: number;
  /**
   * The worker thread's module (default app-insights-worker.js, beside this one). Tests of when the
   * worker starts give one that only records what it is sent: the SDK's loading is a second of CPU.
   */
  readonly workerModule?: URL;
}

/**
 * Audit records as Application Insights custom events (`TokenExchange`, `CredentialRead`), and
 * diagnostics as traces. The SDK lives in a worker thread and is never waited for: until it is
 * ready, records wait in a bounded queue. The worker starts once the first audit record has been
 * answered (or an error is logged, or IDLE_START_MS after startup, or at shutdown), not during
 * startup: a thread and the SDK's modules cost some 40 ms of CPU plus 600 ms of loading, which on a
 * one-core instance would otherwise come out of the cold start's first exchange.
 */
export function appInsightsSink(connectionString: string, options: AppInsightsSinkOptions = {}): AppInsightsSink {
  let worker: Worker | undefined;
  let state: AppInsightsSink['state'] = 'idle';
  let dropped = 0;
  let queue: TelemetryMessage[] = [];
  let nextFlush = 0;
  const flushes = new Map<number, () => void>();
  let settled: () => void = () => {};
  const loaded = new Promise<void>((resolve) => (settled = resolve));

  const send = (message: TelemetryMessage): boolean => {
    if (state === 'failed') return false;
    if (state === 'ready' && worker) {
      worker.postMessage(message);
      return true;
    }
    if (queue.length >= MAX_QUEUED) {
      if (dropped++ % 1000 === 0) log.warn('Application Insights not ready; telemetry dropped', { dropped });
      return false;
    }
    queue.push(message);
    return true;
  };

  const onMessage = (message: { type: 'ready' } | { type: 'failed'; error: string } | { type: 'flushed'; id: number }) => {
    if (message.type === 'ready') {
      state = 'ready';
      for (const queued of queue) worker?.postMessage(queued);
      queue = [];
      if (dropped > 0)
        send({
          type: 'trace',
          severity: 'Warning',
          message: 'audit telemetry dropped while Application Insights was loading',
          properties: { dropped: String(dropped) },
        });
      settled();
    } else if (message.type === 'failed') {
      state = 'failed';
      queue = [];
      settled();
      log.error('Application Insights could not be started; audit records go to the other sinks only', { error: message.error });
    } else {
      flushes.get(message.id)?.();
    }
  };

  const start = () => {
    if (worker) return;
    clearTimeout(idleStart);
    state = 'loading';
    worker = new Worker(fileURLToPath(options.workerModule ?? new URL('./app-insights-worker.js', import.meta.url)), { workerData: { connectionString } });
    worker.unref();
    worker.on('message', onMessage);
    worker.on('error', (err) => {
      state = 'failed';
      settled();
      log.error('Application Insights worker failed', { error: err.name });
    });
  };
  const idleStart = setTimeout(start, options.idleStartMs ?? IDLE_START_MS);
  idleStart.unref();

  // Diagnostics become traces too (the listener never sees tokens: log callers never pass them).
  log.subscribe((level: LogLevel, message: string, fields: Record<string, unknown> | undefined) => {
    const properties: Record<string, string> = {};
    for (const [k, v] of Object.entries(fields ?? {})) properties[k] = typeof v === 'string' ? v : JSON.stringify(v);
    const severity: Severity = level === 'error' ? 'Error' : level === 'warn' ? 'Warning' : 'Information';
    send({ type: 'trace', message, severity, properties, ...(typeof fields?.correlationId === 'string' && { operationId: fields.correlationId }) });
    // An error (a failed startup above all) is not left waiting for a request that may never come.
    if (level === 'error' && !worker) setImmediate(start);
  });

  return {
    name: 'application-insights',
    durable: true,
    get dropped() {
      return dropped;
    },
    get state() {
      return state;
    },
    async write(record) {
      const { properties, measurements } = flattenRecord(record);
      if (!send({ type: 'event', name: EVENT_NAMES[record.event], operationId: record.correlationId, properties, measurements })) {
        throw new Error(state === 'failed' ? 'Application Insights is unavailable' : 'Application Insights queue is full');
      }
      // Not in this turn: the request's answer goes out first (immediates run after its continuation).
      if (!worker) setImmediate(start);
    },
    /** On shutdown: waits for the SDK if it is still loading, then for delivery; 5 s at most in all. */
    async flush() {
      if (!worker && queue.length === 0) return;
      start();
      const deadline = Date.now() + FLUSH_TIMEOUT_MS;
      await Promise.race([loaded, new Promise((r) => setTimeout(r, FLUSH_TIMEOUT_MS).unref())]);
      if (state !== 'ready') return;
      const id = nextFlush++;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
        flushes.set(id, () => {
          clearTimeout(timer);
          flushes.delete(id);
          resolve();
        });
        worker?.postMessage({ type: 'flush', id } satisfies TelemetryMessage);
      });
    },
  };
}
