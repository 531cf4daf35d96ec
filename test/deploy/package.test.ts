/**
 * The deployed artifact, deployed offline: `npm run package` builds it, the files azd would keep
 * (its `.funcignore`, with gitignore semantics from the `ignore` package) are copied to a folder of
 * their own, and a stand-in for the Functions Node.js worker (functions-worker.mjs) loads the entry
 * point from there the way the worker does, then runs the recorded `token` handler in Azure mode
 * against the HTTPS fakes: signing key from Key Vault through the managed identity, caller token
 * from an OIDC issuer, audit events to Application Insights.
 */
import { execFile, spawn } from 'node:child_process';
import { createHash, generateKeyPairSync, randomUUID } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { promisify } from 'node:util';
import { runInNewContext } from 'node:vm';
import { Worker } from 'node:worker_threads';
import { unzipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { LEFT_OUT_EXPORTERS, leftOutModule } from '../../tools/otel-exporters-left-out.js';
import { keptByFuncignore } from '../../tools/package.js';
import { FakeIngestion } from '../fakes/app-insights-ingestion.js';
import { FakeKeyVault } from '../fakes/key-vault.js';
import { FakeManagedIdentity } from '../fakes/managed-identity.js';
import { FakeIssuer } from '../fakes/oidc-issuer.js';
import { throwawayTls } from '../fakes/tls.js';
import { freePort } from '../helpers/local-host.js';

const root = resolve(import.meta.dirname, '../..');
const WORKER = join(import.meta.dirname, 'functions-worker.mjs');
const run = promisify(execFile);
/** The node that runs the deployed app: this one, or another (TOKEX_DEPLOY_NODE=/path/to/node22) to try the runtime Azure uses. */
const WORKER_NODE = process.env.TOKEX_DEPLOY_NODE ?? process.execPath;

interface Report {
  loaded: boolean;
  loadError?: string;
  functions: { name: string; bindings: Record<string, { type: string; direction: string; methods?: string[]; route?: string; authLevel?: string }> }[];
  hooks: string[];
  response?: { status: number; headers: Record<string, string>; jsonBody: Record<string, unknown> };
}

/** Builds the package into a scratch folder with the built tools/package.js, as `npm run package` does. */
async function buildInto(dir: string): Promise<{ out: string; zip: string; meta: string; stdout: string }> {
  const out = join(dir, 'package');
  // GOGC=off: esbuild's garbage collector is a fifth of its CPU in these one-shot builds (which peak at
  // some 500 MB without it); what it builds is the same.
  const { stdout } = await run(process.execPath, [join(root, 'dist/tools/package.js'), out], { cwd: root, env: { PATH: process.env.PATH, GOGC: 'off' } });
  return { out, zip: join(dir, 'package.zip'), meta: join(dir, 'package.meta.json'), stdout };
}

/** What azd does with the built folder: copies the files .funcignore keeps to a folder of their own. */
function deployAsAzd(out: string): string {
  const target = mkdtempSync(join(tmpdir(), 'tokex-wwwroot-'));
  for (const file of keptByFuncignore(out)) {
    mkdirSync(dirname(join(target, file)), { recursive: true });
    copyFileSync(join(out, file), join(target, file));
  }
  return target;
}

/** Runs the worker stand-in on `app` in a process of its own; the app folder is its working directory, as in Azure. */
async function worker(
  app: string,
  env: Record<string, string>,
  invoke?: { name: string; request: Record<string, unknown> },
): Promise<Report & { stderr: string }> {
  const args = [WORKER, app];
  if (invoke) {
    const file = join(mkdtempSync(join(tmpdir(), 'tokex-invoke-')), 'request.json');
    writeFileSync(file, JSON.stringify(invoke));
    args.push('--invoke', file);
  }
  const { stdout, stderr } = await run(WORKER_NODE, args, { cwd: app, env: { PATH: process.env.PATH, ...env }, maxBuffer: 16 * 1024 * 1024 });
  const line = stdout.split('\n').find((l) => l.startsWith('@@report '));
  if (!line) throw new Error(`no report from the worker stand-in: ${stderr}`);
  return { ...(JSON.parse(line.slice('@@report '.length)) as Report), stderr };
}

/** Bundle files holding any module of these packages, from esbuild's metafile. */
function filesHolding(meta: string, packages: readonly string[]): Set<string> {
  const { outputs } = JSON.parse(readFileSync(meta, 'utf8')) as { outputs: Record<string, { inputs: Record<string, unknown> }> };
  const holding = new Set<string>();
  for (const [output, { inputs }] of Object.entries(outputs)) {
    if (Object.keys(inputs).some((input) => packages.some((p) => input.includes(`node_modules/${p}/`)))) holding.add(output.split('/').pop()!);
  }
  return holding;
}

/** Bundle files the entry point imports statically, transitively (what loading it loads before any code runs). */
function staticClosure(meta: string, entry: string): Set<string> {
  const { outputs } = JSON.parse(readFileSync(meta, 'utf8')) as { outputs: Record<string, { imports: { path: string; kind: string; external?: boolean }[] }> };
  const byName = new Map(Object.entries(outputs).map(([path, output]) => [path.split('/').pop()!, output]));
  const seen = new Set<string>();
  const visit = (name: string) => {
    if (seen.has(name)) return;
    seen.add(name);
    for (const imported of byName.get(name)?.imports ?? [])
      if (imported.kind === 'import-statement' && !imported.external) visit(imported.path.split('/').pop()!);
  };
  visit(entry);
  return seen;
}

const LAZY = ['@azure/identity', '@azure/keyvault-secrets', 'applicationinsights'] as const;
let built: Awaited<ReturnType<typeof buildInto>>;
/** The determinism test's second build, from the same sources: it runs beside the first (two esbuild processes). */
let rebuilt: ReturnType<typeof buildInto>;
let app: string;

beforeAll(async () => {
  rebuilt = buildInto(mkdtempSync(join(tmpdir(), 'tokex-package-')));
  // Awaited by its test; a failure is reported there, not as an unhandled rejection here.
  rebuilt.catch(() => {});
  built = await buildInto(mkdtempSync(join(tmpdir(), 'tokex-package-')));
  app = deployAsAzd(built.out);
});

describe('npm run package', () => {
  it('prints the file count and size; the folder azd zips holds a bundle, host.json and package.json, no node_modules, no sources', () => {
    expect(built.stdout).toMatch(/^package: .*package \(\d+ files, \d+ KiB\); .*package\.zip \(\d+ KiB\)$/m);
    const files = keptByFuncignore(built.out);
    const manifest = JSON.parse(readFileSync(join(built.out, 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(manifest).toMatchObject({ type: 'module', main: 'index.js' });
    expect(Object.keys(manifest)).not.toContain('dependencies');
    expect(files).toEqual(expect.arrayContaining(['index.js', 'app-insights-worker.js', 'host.json', 'package.json']));
    expect(readFileSync(join(built.out, 'host.json'), 'utf8')).toBe(readFileSync(join(root, 'host.json'), 'utf8'));
    for (const file of files) {
      expect(file).toMatch(/^(index|app-insights-worker|chunk-[A-Z0-9]+)\.js$|^(host|package)\.json$|^policy\.yaml$/);
    }
    expect(existsSync(join(built.out, 'node_modules'))).toBe(false);
    // zod's messages in other languages are left out (English is what tokex's policy errors use).
    const inputs = Object.values(
      (JSON.parse(readFileSync(built.meta, 'utf8')) as { outputs: Record<string, { inputs: Record<string, unknown> }> }).outputs,
    ).flatMap((o) => Object.keys(o.inputs));
    expect(inputs.filter((i) => /zod\/v4\/locales\/(?!en\.js|index\.js)/.test(i))).toEqual([]);
    // Nor the OpenTelemetry exporters Azure Monitor never has NodeSDK build, with gRPC and protobufjs.
    const leftOut = [...LEFT_OUT_EXPORTERS, '@grpc/grpc-js', 'protobufjs'];
    expect(inputs.filter((i) => leftOut.some((name) => i.includes(`node_modules/${name}/`)))).toEqual([]);
  });

  it('what stands in for a left-out exporter throws, naming it, if anything calls it; reading or printing it does not', () => {
    const module = { exports: {} as Record<string, new () => unknown> };
    runInNewContext(leftOutModule('@opentelemetry/exporter-zipkin'), { module });
    expect(() => new module.exports.ZipkinExporter!()).toThrow(
      "@opentelemetry/exporter-zipkin is left out of tokex's package (tools/otel-exporters-left-out.ts), yet OpenTelemetry's NodeSDK tried to use it",
    );
    expect([module.exports.then, module.exports.__esModule, module.exports.toJSON]).toEqual([undefined, undefined, undefined]);
    expect([String(module.exports), JSON.stringify(module.exports)]).toEqual(['[object Object]', '{}']);
  });

  it('.funcignore (copied into the folder azd zips) keeps every file but itself; the zip holds exactly those files', () => {
    expect(readFileSync(join(built.out, '.funcignore'), 'utf8')).toBe(readFileSync(join(root, '.funcignore'), 'utf8'));
    const kept = keptByFuncignore(built.out);
    const all = readdirSync(built.out, { recursive: true, encoding: 'utf8' }).map((f) => f.split(sep).join('/'));
    expect(kept).toEqual(all.filter((f) => f !== '.funcignore').sort());
    // Every pattern is rooted: a folder named like an excluded one, deeper down, is kept.
    for (const line of readFileSync(join(root, '.funcignore'), 'utf8').split('\n')) if (line && !line.startsWith('#')) expect(line).toMatch(/^\//);
    expect(Object.keys(unzipSync(readFileSync(built.zip))).sort()).toEqual(kept);
  });

  it('azure.yaml points azd at that folder, built locally by the package script', () => {
    const azd = parse(readFileSync(join(root, 'azure.yaml'), 'utf8')) as { requiredVersions: { azd: string }; services: { api: Record<string, unknown> } };
    const scripts = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    expect(azd.services.api).toMatchObject({ project: '.', language: 'ts', host: 'function', dist: 'dist/package', remoteBuild: false });
    expect(scripts.package).toBe('npm run build && node dist/tools/package.js');
    expect(azd.requiredVersions.azd).toBe('>= 1.23.13');
  });

  it('is deterministic: building again gives the same zip, byte for byte', async () => {
    const again = await rebuilt;
    const digest = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
    expect(digest(again.zip)).toBe(digest(built.zip));
  });
});

// Side by side: each case runs the deployed folder in a process of its own.
describe.concurrent('the deployed folder, loaded as the Functions Node.js worker loads it', () => {
  let bare: Promise<Report & { stderr: string; modules: string[] }> | undefined;
  /**
   * One run of the worker stand-in with no tokex settings at all (startup fails for good, after every
   * function was registered), logging each module it loads; for the two cases below, in either order.
   */
  const loadBare = () =>
    (bare ??= (async () => {
      const log = join(mkdtempSync(join(tmpdir(), 'tokex-loads-')), 'loads.txt');
      writeFileSync(log, '');
      const report = await worker(app, { TOKEX_LOAD_LOG: log });
      const modules = readFileSync(log, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((url) => url.split('/').pop()!);
      return { ...report, modules };
    })());

  it('registers the five functions with their methods, routes and authLevel, and the appTerminate hook, before startup runs', async ({ expect }) => {
    const report = await loadBare();
    const http = report.functions.map((f) => {
      const trigger = Object.values(f.bindings).find((b) => b.type === 'httpTrigger')!;
      const output = Object.values(f.bindings).find((b) => b.direction === 'out')!;
      return { name: f.name, methods: trigger.methods, route: trigger.route, authLevel: trigger.authLevel, out: output.type };
    });
    expect(http).toEqual([
      { name: 'token', methods: ['POST'], route: 'token', authLevel: 'anonymous', out: 'http' },
      { name: 'credentials', methods: ['GET'], route: 'credentials/{name}', authLevel: 'anonymous', out: 'http' },
      { name: 'jwks', methods: ['GET'], route: '.well-known/jwks.json', authLevel: 'anonymous', out: 'http' },
      { name: 'metadata', methods: ['GET'], route: '.well-known/oauth-authorization-server', authLevel: 'anonymous', out: 'http' },
      { name: 'health', methods: ['GET'], route: 'health', authLevel: 'anonymous', out: 'http' },
    ]);
    expect(report.hooks).toEqual(['appTerminate']);
    // The worker turns a rejected entry point into "Worker was unable to load entry point": loud, with the setting named.
    expect(report.loaded).toBe(false);
    expect(report.loadError).toBe('TOKEX_ISSUER: required when running in Azure (the https URL of this Function App)');
    expect(report.stderr).toContain('tokex: TOKEX_ISSUER: required when running in Azure');
  });

  it('loading the entry point loads none of @azure/identity, @azure/keyvault-secrets, applicationinsights', async ({ expect }) => {
    const lazy = filesHolding(built.meta, LAZY);
    expect(lazy.size).toBeGreaterThan(0);
    expect([...staticClosure(built.meta, 'index.js')].filter((f) => lazy.has(f))).toEqual([]);
    const { modules } = await loadBare();
    expect(modules).toContain('index.js');
    expect(modules.filter((f) => lazy.has(f))).toEqual([]);
  });

  describe('in Azure mode against the fakes', () => {
    let idp: FakeIssuer;
    let mi: FakeManagedIdentity;
    let vault: FakeKeyVault;
    let ingestion: FakeIngestion;
    /** A deployment of its own: the policy written into it is not seen by the cases beside these. */
    let azureApp: string;
    beforeAll(async () => {
      [idp, mi, vault, ingestion] = await Promise.all([FakeIssuer.start(), FakeManagedIdentity.start(), FakeKeyVault.start(), FakeIngestion.start()]);
      vault.set('tokex-signing', generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'sec1', format: 'pem' }) as string);
      azureApp = deployAsAzd(built.out);
      // The policy ships in the package (TOKEX_POLICY is relative to the app folder, as in Azure).
      writeFileSync(
        join(azureApp, 'policy.yaml'),
        `issuers: [{ name: idp, issuer: "${idp.issuer}", audience: api://tokex }]\nrules:\n  - { name: jobs, when: { issuer: idp }, grant: [{ minted: "https://workspace.internal", scopes: [jobs.submit] }] }\n`,
      );
    });
    afterAll(() => Promise.all([idp?.close(), mi?.close(), vault?.close(), ingestion?.close()]));
    const azureSettings = () => ({
      ...mi.env(),
      NODE_EXTRA_CA_CERTS: throwawayTls().caBundle,
      TOKEX_ISSUER: 'https://tokex.example.net',
      TOKEX_SIGNING_KEY: 'kv:tokex-signing',
      KEY_VAULT_URL: vault.url,
      TOKEX_POLICY: 'policy.yaml',
    });

    it('local/package-host.js serves the deployed folder over HTTP through its own programming model (what npm run bench measures)', async ({ expect }) => {
      const port = await freePort();
      const child = spawn(WORKER_NODE, [join(root, 'dist/local/package-host.js'), azureApp], {
        cwd: azureApp,
        env: { PATH: process.env.PATH, PORT: String(port), ...azureSettings() },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      try {
        await new Promise<void>((resolve, reject) => {
          let stderr = '';
          child.stderr!.on('data', (d: Buffer) => {
            stderr += d.toString();
            if (stderr.includes('tokex listening')) resolve();
          });
          child.once('exit', (code) => reject(new Error(`package host exited with ${code}: ${stderr}`)));
        });
        const health = await fetch(`http://127.0.0.1:${port}/health`);
        expect(health.status).toBe(200);
        const jwks = (await (await fetch(`http://127.0.0.1:${port}/.well-known/jwks.json`)).json()) as { keys: { kty: string }[] };
        expect(jwks.keys.map((k) => k.kty)).toEqual(['EC']);
        // A granted exchange: the form body in, the JSON answer and its headers out, through the RPC shapes.
        const exchange = await fetch(`http://127.0.0.1:${port}/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({
            grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
            subject_token: await idp.token({ sub: 'bench', aud: 'api://tokex' }),
            subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
            audience: 'https://workspace.internal',
          }),
        });
        expect(exchange.status).toBe(200);
        expect(exchange.headers.get('content-type')).toMatch(/^application\/json/);
        expect(exchange.headers.get('cache-control')).toBe('no-store');
        expect(await exchange.json()).toMatchObject({ token_type: 'Bearer', scope: 'jobs.submit', access_token: expect.any(String) });
        // A route parameter reaches the handler: an unauthenticated credential read is 401 with its challenge.
        const credential = await fetch(`http://127.0.0.1:${port}/credentials/db-password`);
        expect([credential.status, credential.headers.get('www-authenticate')]).toEqual([401, 'Bearer']);
        expect((await fetch(`http://127.0.0.1:${port}/token`)).status).toBe(405);
        expect((await fetch(`http://127.0.0.1:${port}/nowhere`)).status).toBe(404);
      } finally {
        child.kill();
      }
    });

    it('the recorded token handler answers a real HttpRequest with a minted token: 200, audited to Application Insights', async ({ expect }) => {
      const subject = await idp.token({ sub: 'batch-job', aud: 'api://tokex' });
      const invocationId = randomUUID();
      const body = new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        subject_token: subject,
        subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
        audience: 'https://workspace.internal',
      }).toString();
      const report = await worker(
        azureApp,
        { ...azureSettings(), APPLICATIONINSIGHTS_CONNECTION_STRING: ingestion.connectionString() },
        {
          name: 'token',
          request: {
            invocationId,
            method: 'POST',
            url: 'https://tokex.example.net/token',
            headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': '203.0.113.5' },
            body: { string: body },
          },
        },
      );
      expect(report.loadError).toBeUndefined();
      expect(report.response).toMatchObject({ status: 200, headers: { 'x-correlation-id': invocationId } });
      expect(report.response!.jsonBody).toMatchObject({
        token_type: 'Bearer',
        scope: 'jobs.submit',
        issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      });
      // The signing key came from Key Vault, read as the managed identity.
      expect(vault.readCount('tokex-signing')).toBeGreaterThan(0);
      expect(mi.count('https://vault.azure.net')).toBeGreaterThan(0);
      // The Application Insights worker thread ran from the bundle: the appTerminate flush delivered the event.
      expect(ingestion.events('TokenExchange').map((e) => e.data.baseData.properties?.correlationId)).toContain(invocationId);
      expect(report.stderr).not.toContain(subject);
    });

    // The stand-ins are out of reach because Azure Monitor gives NodeSDK its processors, so NodeSDK reads
    // no exporter setting: with them set (and OTel's own error log on), the worker still exports, and
    // nothing left out is touched.
    it("the package's audit worker starts and exports with OTEL_*_EXPORTER settings present, touching nothing left out", async ({ expect }) => {
      const audit = new Worker(join(azureApp, 'app-insights-worker.js'), {
        workerData: { connectionString: ingestion.connectionString() },
        env: {
          ...process.env,
          OTEL_TRACES_EXPORTER: 'otlp,zipkin',
          OTEL_METRICS_EXPORTER: 'otlp,prometheus',
          OTEL_LOGS_EXPORTER: 'otlp',
          OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
          OTEL_LOG_LEVEL: 'error',
        },
        stdout: true,
        stderr: true,
      });
      let output = '';
      audit.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      audit.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      try {
        // The worker's answer, or what ended it (an uncaught error, an exit), whichever comes first.
        const reply = (type: string) =>
          new Promise<{ type: string; error?: string }>((resolve) => {
            const done = (message: { type: string; error?: string }) => {
              audit.off('message', listen).off('error', failed).off('exit', exited);
              resolve(message);
            };
            const listen = (message: { type: string; error?: string }) => (message.type === type || message.type === 'failed') && done(message);
            const failed = (err: Error) => done({ type: 'failed', error: `${err.name}: ${err.message}` });
            const exited = (code: number) => done({ type: 'failed', error: `exited with ${code}` });
            audit.on('message', listen).on('error', failed).on('exit', exited);
          });
        expect(await reply('ready')).toEqual({ type: 'ready' });
        const operationId = randomUUID();
        audit.postMessage({ type: 'event', name: 'TokenExchange', operationId, properties: { correlationId: operationId }, measurements: {} });
        const flushed = reply('flushed');
        audit.postMessage({ type: 'flush', id: 1 });
        expect(await flushed).toMatchObject({ type: 'flushed' });
        expect(ingestion.events('TokenExchange').map((e) => e.data.baseData.properties?.correlationId)).toContain(operationId);
        expect(output).not.toContain('left out');
      } finally {
        await audit.terminate();
      }
    });
  });
});
