/**
 * A stand-in for app-insights-worker.js in tests of when the sink starts its worker: ready at once
 * (the real one loads the SDK first, a second of CPU), it passes every telemetry message on to the test
 * over a BroadcastChannel named by its connection string, and answers flushes.
 */
import { BroadcastChannel, parentPort, workerData } from 'node:worker_threads';

const channel = new BroadcastChannel(workerData.connectionString);
parentPort.on('message', (message) => {
  if (message.type === 'flush') parentPort.postMessage({ type: 'flushed', id: message.id });
  else channel.postMessage(message);
});
parentPort.postMessage({ type: 'ready' });
