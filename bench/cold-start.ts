/**
 * `npm run bench` (first part): process spawn → first granted exchange of the deployed package
 * (dist/package, as azd ships it), in Azure mode: settings from the environment, the signing key
 * from Key Vault through the managed identity, audit telemetry to Application Insights, each an
 * HTTPS fake on loopback. The package is loaded by the local package host (the worker's way:
 * package.json `main` with a stand-in for @azure/functions-core). Run with and without the
 * Application Insights connection string, so the SDK's cost on a cold start stays visible, and under
 * Node 22 (what Azure runs the package on: scripts/node22.mjs fetches it) as well as this Node.
 */
import { execFileSync, spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Command } from 'commander';
import { FakeIngestion } from '../test/fakes/app-insights-ingestion.js';
import { FakeKeyVault } from '../test/fakes/key-vault.js';
import { FakeManagedIdentity } from '../test/fakes/managed-identity.js';
import { FakeIssuer } from '../test/fakes/oidc-issuer.js';
import { throwawayTls } from '../test/fakes/tls.js';
import { keptByFuncignore } from '../tools/package.js';
import { freePort } from './free-port.js';

const root = resolve(import.meta.dirname, '../..');
const { runs, packageDir, node } = new Command()
  .name('cold-start')
  .description('spawn → first granted exchange of the deployed package, with and without Application Insights')
  .option('--runs <n>', 'runs of each variant', (v) => Number(v), 7)
  .option('--package-dir <dir>', 'the built package (npm run package)', join(root, 'dist/package'))
  .option(
    '--node <path>',
    'run the package under this Node binary (repeatable; default: Node 22 from scripts/node22.mjs, and this Node)',
    (v, acc: string[]) => [...acc, v],
    [],
  )
  .parse()
  .opts<{ runs: number; packageDir: string; node: string[] }>();

/** Azure's Node 22 first (the figure that counts), then this machine's Node if it is another. */
function runtimes(): string[] {
  if (node.length > 0) {
    for (const binary of node) version(binary);
    return node;
  }
  let azure: string;
  try {
    azure = execFileSync(process.execPath, [join(root, 'scripts/node22.mjs')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
  } catch {
    // scripts/node22.mjs has said why on stderr.
    console.error('cold-start: no Node 22 to run the package under; give one with --node PATH');
    process.exit(1);
  }
  return version(azure) === process.version ? [azure] : [azure, process.execPath];
}
/** `node --version` of a binary; a path that is not one ends the bench with one line saying so. */
function version(binary: string): string {
  try {
    return execFileSync(binary, ['--version'], { encoding: 'utf8' }).trim();
  } catch (err) {
    console.error(`cold-start: --node ${binary}: cannot run it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    process.exit(1);
  }
}

interface Run {
  readonly listening: number;
  readonly firstExchange: number;
  /** CPU the process used until then (all threads), where the platform tells: less swayed by a busy machine than wall time. */
  readonly cpu: number;
}

/** User + system CPU milliseconds of a live process, from /proc (Linux; NaN elsewhere). Clock ticks are 10 ms. */
function cpuMs(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return Number.NaN;
  }
}

const [idp, mi, vault, ingestion] = await Promise.all([FakeIssuer.start(), FakeManagedIdentity.start(), FakeKeyVault.start(), FakeIngestion.start()]);
vault.set('tokex-signing', generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'sec1', format: 'pem' }) as string);

// The files azd would ship, in a folder of their own, with a policy trusting the fake issuer.
const app = mkdtempSync(join(tmpdir(), 'tokex-cold-app-'));
for (const file of keptByFuncignore(resolve(packageDir))) {
  mkdirSync(dirname(join(app, file)), { recursive: true });
  copyFileSync(join(resolve(packageDir), file), join(app, file));
}
writeFileSync(
  join(app, 'policy.yaml'),
  `issuers: [{ name: idp, issuer: "${idp.issuer}", audience: api://tokex }]\nrules:\n  - { name: cold, when: { issuer: idp }, grant: [{ minted: "https://workspace.internal", scopes: [a] }] }\n`,
);
const body = new URLSearchParams({
  grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
  subject_token: await idp.token({ sub: 'cold', aud: 'api://tokex' }, { expiresIn: 3600 }),
  subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
  audience: 'https://workspace.internal',
}).toString();

/** Milliseconds from spawn to listening and to the first 200 from POST /token. */
async function coldStart(runtime: string, appInsights: boolean): Promise<Run> {
  const port = await freePort();
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    PORT: String(port),
    NODE_EXTRA_CA_CERTS: throwawayTls().caBundle,
    ...mi.env(),
    TOKEX_ISSUER: 'https://tokex.example.net',
    TOKEX_SIGNING_KEY: 'kv:tokex-signing',
    KEY_VAULT_URL: vault.url,
    TOKEX_POLICY: 'policy.yaml',
    ...(appInsights && { APPLICATIONINSIGHTS_CONNECTION_STRING: ingestion.connectionString() }),
  };
  const started = performance.now();
  const child = spawn(runtime, [join(root, 'dist/local/package-host.js'), app], { cwd: app, env, stdio: ['ignore', 'ignore', 'pipe'] });
  // The host listens once the entry point has loaded (startup included), as the Functions host
  // invokes a function only after the worker has loaded the app: then one request, no polling.
  let stderr = '';
  try {
    const listening = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`tokex did not listen within 30 s: ${stderr}`)), 30_000);
      child.stderr!.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (stderr.includes('tokex listening')) {
          clearTimeout(timer);
          resolve(performance.now() - started);
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`the package host exited with ${code}: ${stderr}`));
      });
    });
    const res = await fetch(`http://127.0.0.1:${port}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
    if (res.status !== 200) throw new Error(`status ${res.status}: ${await res.text()} ${stderr}`);
    return { listening, firstExchange: performance.now() - started, cpu: cpuMs(child.pid) };
  } finally {
    child.kill('SIGKILL');
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const results = new Map<string, { without: Run[]; with: Run[] }>();
try {
  for (const runtime of runtimes()) {
    const rs = { without: [] as Run[], with: [] as Run[] };
    results.set(runtime, rs);
    for (let i = 0; i < runs; i++) {
      rs.without.push(await coldStart(runtime, false));
      rs.with.push(await coldStart(runtime, true));
    }
  }
} finally {
  await Promise.all([idp.close(), mi.close(), vault.close(), ingestion.close()]);
}
console.log(`cold start of the deployed package, spawn → first granted exchange (median of ${runs}; min–max; load average ${loadavg()[0]!.toFixed(1)}):`);
for (const [runtime, rs] of results) {
  console.log(`  Node ${version(runtime)}${runtime === process.execPath ? ' (this machine)' : ''}`);
  for (const [label, variant] of [
    ['without Application Insights', rs.without],
    ['with Application Insights   ', rs.with],
  ] as const) {
    const first = variant.map((r) => r.firstExchange);
    console.log(
      `    ${label}  ${median(first).toFixed(0)} ms (${Math.min(...first).toFixed(0)}–${Math.max(...first).toFixed(0)}); listening after ${median(variant.map((r) => r.listening)).toFixed(0)} ms; CPU ${median(variant.map((r) => r.cpu)).toFixed(0)} ms`,
    );
  }
}
