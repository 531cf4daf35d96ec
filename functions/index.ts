import { app } from '@azure/functions';
import { routes } from './routes.js';
import { tokex } from './runtime.js';

// The Functions host loads this file (package.json "main"). Settings and policy are checked
// before anything is registered, so a bad one stops the worker with one message naming it.
try {
  await tokex();
} catch (err) {
  console.error(`tokex: ${(err as Error).message}`);
  throw err;
}

app.setup({ enableHttpStream: false });
// Deliver queued audit telemetry before the worker goes away.
app.hook.appTerminate(async () => (await tokex()).auditor.flush());
for (const { name, methods, route, handler } of routes) {
  app.http(name, { methods: [...methods], route, authLevel: 'anonymous', handler });
}
