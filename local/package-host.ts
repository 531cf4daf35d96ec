/**
 * Serves a built package folder (what azd deploys: `npm run package` → dist/package) on the local
 * host: loads its package.json `main` as the Functions Node.js worker does, with a stand-in for the
 * worker's `@azure/functions-core` module that collects the HTTP functions the app registers and the
 * programming model it sets, and invokes them as the worker does: through that model (the app's own
 * copy of @azure/functions), with the request and the answer in the worker's RPC shape. What runs
 * here is the deployed bundle alone, not the source tree.
 *
 *   node dist/local/package-host.js [folder]    (default: the working directory; PORT, HOST as for `tokex serve`)
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Module from 'node:module';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { HttpMethod } from '@azure/functions';
import { functionLog, type HostFunction, type LocalHost, startHost } from './host.js';

interface Binding {
  readonly type: string;
  readonly direction?: string;
  readonly methods?: HttpMethod[];
  readonly route?: string;
}
interface FunctionMetadata {
  readonly name: string;
  readonly bindings: Record<string, Binding>;
}
/** The worker's HTTP data (RpcHttp in the worker's protobuf): what the programming model converts from and to. */
interface RpcHttp {
  readonly method?: string;
  readonly url?: string;
  readonly headers?: Record<string, string>;
  readonly query?: Record<string, string>;
  readonly params?: Record<string, string>;
  readonly body?: { readonly bytes?: Uint8Array; readonly string?: string };
  readonly statusCode?: string;
}
/** The part of @azure/functions' ProgrammingModel and InvocationModel the worker drives. */
interface ProgrammingModel {
  getInvocationModel(coreCtx: object): {
    getArguments(): Promise<{ context: unknown; inputs: unknown[] }>;
    invokeFunction(context: unknown, inputs: unknown[], handler: (...args: unknown[]) => unknown): Promise<unknown>;
    getResponse(context: unknown, result: unknown): Promise<{ returnValue?: { http?: RpcHttp } }>;
  };
}

/** The package is not a Functions app this host can serve (the entry point's own failures print themselves). */
class PackageError extends Error {
  override name = 'PackageError';
}

/** Loads the app in `dir` and returns the HTTP functions it registered, invoked through its programming model. */
export async function loadPackage(dir: string): Promise<HostFunction[]> {
  const registered: { metadata: FunctionMetadata; callback: (...args: unknown[]) => unknown }[] = [];
  let model: ProgrammingModel | undefined;
  const core = {
    version: '4.0.0-local',
    hostVersion: '4.0.0-local',
    registerHook: () => ({ dispose() {} }),
    setProgrammingModel: (m: ProgrammingModel) => {
      model = m;
    },
    getProgrammingModel: () => model,
    registerFunction: (metadata: FunctionMetadata, callback: (...args: unknown[]) => unknown) => {
      registered.push({ metadata, callback });
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
  if (!model) throw new PackageError(`${main} set no programming model: it does not load @azure/functions`);
  const programmingModel = model;
  return registered.flatMap(({ metadata, callback }) => {
    const [triggerName, trigger] = Object.entries(metadata.bindings).find(([, b]) => b.type === 'httpTrigger') ?? [];
    if (!triggerName || !trigger) return [];
    const log = functionLog(metadata.name);
    return [
      {
        name: metadata.name,
        methods: trigger.methods ?? ['GET', 'POST'],
        route: trigger.route ?? metadata.name,
        invoke: async ({ body, ...request }) => {
          const invocationId = randomUUID();
          const http: RpcHttp = { ...request, ...(body !== undefined && { body: { bytes: body } }) };
          const invocation = programmingModel.getInvocationModel({
            invocationId,
            metadata,
            state: 'invocation',
            request: { invocationId, inputData: [{ name: triggerName, data: { http } }], triggerMetadata: {} },
            log: (level: string, _category: string, message: string) => log(level, message),
          });
          const { context, inputs } = await invocation.getArguments();
          const result = await invocation.invokeFunction(context, inputs, callback);
          const out = (await invocation.getResponse(context, result)).returnValue?.http;
          return {
            status: Number(out?.statusCode ?? 200),
            headers: out?.headers ?? {},
            body: Buffer.from(out?.body?.bytes ?? out?.body?.string ?? ''),
          };
        },
      },
    ];
  });
}

export async function servePackage(dir: string, options: { port: number; host: string }): Promise<LocalHost> {
  return startHost(await loadPackage(dir), options);
}

const isMain = process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(import.meta.filename);
if (isMain) {
  try {
    const host = await servePackage(resolve(process.argv[2] ?? '.'), { port: Number(process.env.PORT ?? 7071), host: process.env.HOST ?? '127.0.0.1' });
    console.error(JSON.stringify({ time: new Date().toISOString(), level: 'info', message: 'tokex listening', url: host.url }));
  } catch (err) {
    // The entry point has printed its own reason ("tokex: …").
    if (err instanceof PackageError) console.error(`package-host: ${err.message}`);
    process.exitCode = 1;
  }
}
