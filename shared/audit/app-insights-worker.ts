/**
 * Runs in a worker thread: loads the Application Insights SDK (about 600 ms of module loading) off
 * the request path, then turns messages from the main thread into telemetry.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { context, TraceFlags, trace } from '@opentelemetry/api';
import type { TelemetryMessage } from './app-insights-sink.js';

// The SDK's own usage telemetry would be an outbound call nobody configured.
process.env.APPLICATION_INSIGHTS_NO_STATSBEAT ??= 'true';

const port = parentPort!;
try {
  const { default: ai } = await import('applicationinsights');
  const setup = ai.setup((workerData as { connectionString: string }).connectionString);
  // Local (key) authentication disabled on the resource: ingest with Entra ID as tokex's managed
  // identity, configured the standard way (Authorization=AAD[;ClientId=<user-assigned client id>]).
  const auth = /(?:^|;)\s*Authorization=AAD\s*(?:;|$)/i.test(process.env.APPLICATIONINSIGHTS_AUTHENTICATION_STRING ?? '');
  if (auth) {
    const { ManagedIdentityCredential } = await import('@azure/identity');
    const clientId = /(?:^|;)\s*ClientId=([0-9a-f-]{36})/i.exec(process.env.APPLICATIONINSIGHTS_AUTHENTICATION_STRING ?? '')?.[1];
    ai.defaultClient.config.aadTokenCredential = clientId ? new ManagedIdentityCredential({ clientId }) : new ManagedIdentityCredential();
  }
  setup
    .setAutoCollectConsole(false)
    .setAutoCollectExceptions(false)
    .setAutoCollectPerformance(false, false)
    .setAutoCollectPreAggregatedMetrics(false)
    .setAutoCollectRequests(false)
    .setAutoCollectDependencies(false)
    .setAutoCollectHeartbeat(false)
    .setSendLiveMetrics(false)
    .start();
  const client = ai.defaultClient;

  /** The correlation id (a UUID) as the operation id: the trace id the exporter reads from the active context. */
  const withOperation = (operationId: string | undefined, send: () => void) => {
    const traceId = operationId?.replace(/-/g, '').toLowerCase();
    if (!traceId || !/^[0-9a-f]{32}$/.test(traceId)) return send();
    const spanContext = { traceId, spanId: traceId.slice(0, 16), traceFlags: TraceFlags.SAMPLED, isRemote: true };
    context.with(trace.setSpanContext(context.active(), spanContext), send);
  };

  port.on('message', (message: TelemetryMessage) => {
    switch (message.type) {
      case 'event':
        withOperation(message.operationId, () => client.trackEvent({ name: message.name, properties: message.properties, measurements: message.measurements }));
        break;
      case 'trace':
        withOperation(message.operationId, () => client.trackTrace({ message: message.message, severity: message.severity, properties: message.properties }));
        break;
      case 'flush':
        void client.flush().then(
          () => port.postMessage({ type: 'flushed', id: message.id }),
          () => port.postMessage({ type: 'flushed', id: message.id }),
        );
        break;
    }
  });
  port.postMessage({ type: 'ready' });
} catch (err) {
  port.postMessage({ type: 'failed', error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) });
}
