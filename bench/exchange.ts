/**
 * `npm run bench`: minted exchanges per second over HTTP on loopback, beside the cost of the crypto
 * each exchange cannot avoid (one RS256 verify of the caller token, one ES256 sign of the new one),
 * measured in the same run on the same machine. It reports; it does not pass or fail.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import { Command } from 'commander';
import { createLocalJWKSet, jwtVerify, SignJWT } from 'jose';
import { devIssuerUrl, devJwks, loadDevIssuerKey, mintDevToken } from '../local/dev-issuer.js';
import { generateSigningKey, signingKeyFrom } from '../shared/keys/signing-key.js';
import { loadSettings } from '../shared/settings.js';
import { freePort } from './free-port.js';

const root = resolve(import.meta.dirname, '../..');
const options = new Command()
  .name('npm run bench --')
  .description('benchmark minted token exchanges over HTTP against the crypto bound')
  .option('--duration <seconds>', 'seconds of load', (v) => Number(v), 10)
  .option('--connections <n>', 'concurrent keep-alive connections', (v) => Number(v), 16)
  .option('--tokens <n>', 'distinct pre-minted subject tokens', (v) => Number(v), 2000)
  .parse()
  .opts<{ duration: number; connections: number; tokens: number }>();


async function startServer(env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, [join(root, 'dist/cli/tokex.js'), 'serve'], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let err = '';
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('tokex listening')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`tokex exited ${code}: ${err}`)));
  });
  return child;
}

/** Iterations per second of exactly the unavoidable crypto: verify an RS256 caller token, sign an ES256 token. */
async function cryptoBound(settings: ReturnType<typeof loadSettings>, tokens: string[], seconds: number): Promise<number> {
  const issuerKey = await loadDevIssuerKey(settings);
  const keys = createLocalJWKSet(devJwks(issuerKey));
  const signer = await signingKeyFrom(JSON.stringify(generateSigningKey('ES256')), 'bench');
  const end = performance.now() + seconds * 1000;
  let n = 0;
  while (performance.now() < end) {
    const { payload } = await jwtVerify(tokens[n % tokens.length]!, keys, { algorithms: ['RS256'], issuer: devIssuerUrl(settings) });
    await new SignJWT({ scope: 'jobs.read' }).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: signer.kid })
      .setSubject(payload.sub!).setAudience('https://workspace.internal').setIssuedAt().setExpirationTime('10m').sign(signer.privateKey);
    n++;
  }
  return n / seconds;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tokex-bench-'));
  const env = { PORT: String(await freePort()), TOKEX_LOCAL_DIR: join(dir, '.local'), TOKEX_POLICY: join(root, 'policy.dev.yaml') };
  const settings = loadSettings(env, 'local');
  const server = await startServer(env);
  try {
    const tokens: string[] = [];
    for (let i = 0; i < options.tokens; i++) tokens.push(await mintDevToken(settings, { subject: `bench-${i}`, lifetimeSeconds: 3600 }));
    const bodies = tokens.map((t) =>
      new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        subject_token: t,
        subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
        audience: 'https://workspace.internal',
        scope: 'jobs.read',
      }).toString(),
    );
    let next = 0;
    const result = await autocannon({
      url: `http://127.0.0.1:${env.PORT}`,
      connections: options.connections,
      duration: options.duration,
      requests: [{
        method: 'POST',
        path: '/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        setupRequest: (req) => ({ ...req, body: bodies[next++ % bodies.length] }),
      }],
    });
    const bound = await cryptoBound(settings, tokens, 3);
    const rate = result.requests.average;
    console.log(`minted exchanges over HTTP (loopback, keep-alive, ${options.connections} connections, ${options.tokens} distinct subject tokens, ${options.duration} s):`);
    console.log(`  throughput   ${rate.toFixed(0)} exchanges/s   (${result['2xx']} × 2xx, ${result.non2xx} non-2xx, ${result.errors} errors)`);
    console.log(`  latency      p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms, max ${result.latency.max} ms`);
    console.log(`crypto bound (same run, one core): RS256 verify + ES256 sign with jose`);
    console.log(`  ${bound.toFixed(0)} iterations/s`);
    console.log(`ratio: ${(rate / bound * 100).toFixed(0)} % of the crypto bound`);
  } finally {
    server.kill('SIGTERM');
  }
}

await main();
