import { app } from '@azure/functions';
import { loadSettings } from '../shared/settings.js';
import { startTokex } from '../shared/startup.js';
import { createRoutes } from './routes.js';
import { Starter } from './starter.js';

// The Functions host loads this file (package.json "main"). Every function is registered first, so
// the host never falls back to running none; then startup runs within its deadline. Bad settings or
// policy reject this module: the worker reports "unable to load entry point" with the message naming
// the setting. Anything that may pass (Key Vault unreachable, the deadline) is retried on the next
// request with backoff, and requests meanwhile get 503 with Retry-After.
const starter = new Starter(() => startTokex(loadSettings(process.env, 'azure')));

app.setup({ enableHttpStream: false });
for (const { name, methods, route, handler } of createRoutes(starter)) {
  app.http(name, { methods: [...methods], route, authLevel: 'anonymous', handler });
}
// Deliver queued audit telemetry before the worker goes away.
app.hook.appTerminate(() => starter.flush());

const ready = starter.ready();
// Node builds its fetch classes (undici, ~30 ms) on first use, and the first invocation's
// HttpRequest needs them: build them now, while startup waits on Key Vault.
setImmediate(() => new Request('http://localhost/'));
try {
  await ready;
} catch (err) {
  console.error(`tokex: ${(err as Error).message}`);
  throw err;
}
