/**
 * Serves a built package folder (what azd deploys: `npm run package` → dist/package) on the local
 * host: loads its package.json `main` as the Functions Node.js worker does, with a stand-in for the
 * worker's `@azure/functions-core` module that collects the HTTP functions the app registers, and
 * serves those handlers. What runs here is the deployed bundle, not the source tree.
 *
 *   node dist/local/package-host.js [folder]    (default: the working directory; PORT, HOST as for `tokex serve`)
 */
import { readFileSync } from 'node:fs';
import Module from 'node:module';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { HttpHandler, HttpMethod } from '@azure/functions';
import type { Route } from '../functions/routes.js';
import { type LocalHost, startLocalHost } from './host.js';

interface HttpBinding {
  readonly type: string;
  readonly methods?: HttpMethod[];
  readonly route?: string;
}

/** Loads the app in `dir` and returns the HTTP functions it registered, as routes. */
export async function loadPackage(dir: string): Promise<Route[]> {
  const routes: Route[] = [];
  const core = {
    version: '4.0.0-local',
    hostVersion: '4.0.0-local',
    registerHook: () => ({ dispose() {} }),
    setProgrammingModel: () => {},
    getProgrammingModel: () => undefined,
    registerFunction: (metadata: { name: string; bindings: Record<string, HttpBinding> }, handler: HttpHandler) => {
      const trigger = Object.values(metadata.bindings).find((b) => b.type === 'httpTrigger');
      if (trigger) routes.push({ name: metadata.name, methods: trigger.methods ?? ['GET', 'POST'], route: trigger.route ?? metadata.name, handler });
      return { dispose() {} };
    },
  };
  // As the worker does (setupCoreModule.ts): the module exists only inside the host process.
  const proto = Module.prototype as unknown as { require: (id: string) => unknown };
  proto.require = new Proxy(proto.require, {
    apply: (target, self, args: [string]) => (args[0] === '@azure/functions-core' ? core : Reflect.apply(target, self, args)),
  });
  const { main } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { main: string };
  await import(pathToFileURL(join(dir, main)).href);
  return routes;
}

export async function servePackage(dir: string, options: { port: number; host: string }): Promise<LocalHost> {
  return startLocalHost(await loadPackage(dir), options);
}

const isMain = process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(import.meta.filename);
if (isMain) {
  try {
    const host = await servePackage(resolve(process.argv[2] ?? '.'), { port: Number(process.env.PORT ?? 7071), host: process.env.HOST ?? '127.0.0.1' });
    console.error(JSON.stringify({ time: new Date().toISOString(), level: 'info', message: 'tokex listening', url: host.url }));
  } catch {
    // The entry point has printed the reason ("tokex: …").
    process.exitCode = 1;
  }
}
