/**
 * `npm run bench` (first part): process spawn → first granted exchange, with and without an
 * Application Insights connection string, so the SDK's cost on a cold start is visible.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Command } from 'commander';
import { loadDevIssuerKey, mintDevToken } from '../local/dev-issuer.js';
import { loadSettings } from '../shared/settings.js';
import { freePort } from './free-port.js';

const root = resolve(import.meta.dirname, '../..');
const { runs } = new Command()
  .name('cold-start')
  .description('spawn → first granted exchange, with and without Application Insights')
  .option('--runs <n>', 'runs of each variant', (v) => Number(v), 5)
  .parse()
  .opts<{ runs: number }>();


/** Milliseconds from spawn to listening and to the first 200 from POST /token. */
async function coldStart(appInsights: boolean): Promise<{ listening: number; firstExchange: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'tokex-cold-'));
  const env: Record<string, string> = { PORT: String(await freePort()), TOKEX_LOCAL_DIR: join(dir, '.local'), TOKEX_POLICY: join(root, 'policy.dev.yaml') };
  // Nothing listens on port 9: the exporter's sends fail quietly in its worker; the load cost is what is measured.
  if (appInsights) env.APPLICATIONINSIGHTS_CONNECTION_STRING = 'InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://127.0.0.1:9/';
  const settings = loadSettings(env, 'local');
  await loadDevIssuerKey(settings);
  const subject = await mintDevToken(settings, { subject: 'cold' });
  const body = new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: subject, subject_token_type: 'urn:ietf:params:oauth:token-type:jwt', audience: 'https://workspace.internal' }).toString();

  const started = performance.now();
  const child = spawn(process.execPath, [join(root, 'dist/cli/tokex.js'), 'serve'], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let listening = NaN;
  child.stderr!.on('data', (d: Buffer) => {
    if (Number.isNaN(listening) && d.toString().includes('tokex listening')) listening = performance.now() - started;
  });
  try {
    for (;;) {
      try {
        const res = await fetch(`http://127.0.0.1:${env.PORT}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
        if (res.status === 200) return { listening, firstExchange: performance.now() - started };
        throw new Error(`status ${res.status}`);
      } catch (err) {
        if ((err as { cause?: { code?: string } }).cause?.code !== 'ECONNREFUSED') throw err;
        if (performance.now() - started > 30_000) throw new Error('tokex did not answer within 30 s');
        await new Promise((r) => setTimeout(r, 2));
      }
    }
  } finally {
    child.kill('SIGKILL');
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const results = { without: [] as { listening: number; firstExchange: number }[], with: [] as { listening: number; firstExchange: number }[] };
for (let i = 0; i < runs; i++) {
  results.without.push(await coldStart(false));
  results.with.push(await coldStart(true));
}
console.log(`cold start, spawn → first granted exchange (median of ${runs}; min–max):`);
for (const [label, rs] of [['without Application Insights', results.without], ['with Application Insights   ', results.with]] as const) {
  const first = rs.map((r) => r.firstExchange);
  console.log(`  ${label}  ${median(first).toFixed(0)} ms (${Math.min(...first).toFixed(0)}–${Math.max(...first).toFixed(0)}); listening after ${median(rs.map((r) => r.listening)).toFixed(0)} ms`);
}
