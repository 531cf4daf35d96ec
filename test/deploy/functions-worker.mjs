/**
 * A stand-in for the Azure Functions Node.js worker, run as its own process:
 *   node functions-worker.mjs <app folder> [--invoke <request.json>]
 * Like the worker (setupCoreModule.ts, startApp.ts, loadScriptFile.ts), it serves
 * `@azure/functions-core` through Module.prototype.require, reads the app's package.json and
 * `await import()`s its `main`. It records what the app registers, optionally invokes the recorded
 * handler of one function with a real HttpRequest, and prints one JSON report on stdout.
 * Plain JavaScript: it must run with nothing but node, as the worker does.
 */
import { appendFileSync, readFileSync } from 'node:fs';
import Module, { createRequire, register } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [appDir, flag, requestFile] = process.argv.slice(2);
const functions = [];
const hooks = [];
let programmingModel;
const coreApi = {
  version: '3.99.0-stand-in',
  hostVersion: '4.1040.0',
  registerHook: (name, callback) => {
    hooks.push({ name, callback });
    return { dispose() {} };
  },
  setProgrammingModel: (model) => {
    programmingModel = model;
  },
  getProgrammingModel: () => programmingModel,
  registerFunction: (metadata, callback) => {
    functions.push({ metadata, callback });
    return { dispose() {} };
  },
  Disposable: class {
    dispose() {}
  },
};
Module.prototype.require = new Proxy(Module.prototype.require, {
  apply(target, thisArg, args) {
    return args[0] === '@azure/functions-core' ? coreApi : Reflect.apply(target, thisArg, args);
  },
});

// Every module file the app loads, for the test that keeps the Azure SDKs lazy.
if (process.env.TOKEX_LOAD_LOG) {
  const hooksUrl = `data:text/javascript,${encodeURIComponent(`
    import { appendFileSync } from 'node:fs';
    export async function load(url, context, next) {
      if (url.startsWith('file:')) appendFileSync(${JSON.stringify(process.env.TOKEX_LOAD_LOG)}, url + '\\n');
      return next(url, context);
    }`)}`;
  register(hooksUrl);
}

const report = { loaded: false, functions: [], hooks: [] };
const packageJson = JSON.parse(readFileSync(join(appDir, 'package.json'), 'utf8'));
try {
  await import(pathToFileURL(join(appDir, packageJson.main)).href);
  report.loaded = true;
} catch (err) {
  report.loadError = String(err?.message ?? err);
}
report.functions = functions.map((f) => f.metadata);
report.hooks = hooks.map((h) => h.name);

if (flag === '--invoke' && report.loaded) {
  // The request as the worker's invocation model would build it: a real HttpRequest and InvocationContext.
  // @azure/functions comes from the test's node_modules, not the app's (which has none).
  const { HttpRequest, InvocationContext } = createRequire(import.meta.url)('@azure/functions');
  const { name, request } = JSON.parse(readFileSync(requestFile, 'utf8'));
  const target = functions.find((f) => f.metadata.name === name);
  const response = await target.callback(new HttpRequest(request), new InvocationContext({ invocationId: request.invocationId, functionName: name }));
  report.response = { status: response.status, headers: response.headers, jsonBody: response.jsonBody };
  for (const hook of hooks.filter((h) => h.name === 'appTerminate')) await hook.callback({});
}
if (process.env.TOKEX_LOAD_LOG) appendFileSync(process.env.TOKEX_LOAD_LOG, '');
process.stdout.write(`\n@@report ${JSON.stringify(report)}\n`);
process.exit(0);
