/**
 * `npm run bench` (second part): what a minted exchange costs beside the crypto it cannot avoid (one
 * RS256 verify of the caller token, one ES256 sign of the new one), all measured in the same run on
 * the same machine: the raw bound with node:crypto KeyObjects on one thread; exchanges/s over HTTP
 * with distinct subject tokens and with one repeated token; the server's own CPU per exchange;
 * latency at a fixed rate; and exchangeToken() in-process with no HTTP. It reports; it does not
 * pass or fail. Loopback only, about a minute in all.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createPublicKey, randomUUID, sign, verify } from 'node:crypto';
import { mkdtempSync, openSync, readFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import autocannon from 'autocannon';
import { Command } from 'commander';
import { createLocalJWKSet, jwtVerify, SignJWT } from 'jose';
import { DEV_AUDIENCE, devIssuerUrl, devJwks, devTrustedIssuer, loadDevIssuerKey } from '../local/dev-issuer.js';
import { exchangeToken } from '../shared/exchange/token-exchange.js';
import { generateSigningKey, type SigningKey, signingKeyFrom } from '../shared/keys/signing-key.js';
import { loadSettings, type Settings } from '../shared/settings.js';
import { startTokex } from '../shared/startup.js';
import { benchAuditor } from './bench-auditor.js';
import { freePort } from './free-port.js';

const root = resolve(import.meta.dirname, '../..');
const options = new Command()
  .name('npm run bench --')
  .description('minted token exchanges over HTTP and in-process, against the crypto bound')
  .option('--seconds <n>', 'seconds of load per timed HTTP phase', (v) => Number(v), 5)
  .option('--connections <n>', 'concurrent keep-alive connections', (v) => Number(v), 16)
  .option('--tokens <n>', 'distinct subject tokens (each sent once per phase)', (v) => Number(v), 6000)
  .option('--rate <n>', 'requests/s of the fixed-rate latency phase', (v) => Number(v), 1000)
  .option('--cpu-prof <dir>', 'write a CPU profile of each server run (node --cpu-prof) into this folder')
  .parse()
  .opts<{ seconds: number; connections: number; tokens: number; rate: number; cpuProf?: string }>();

const CLOCK_TICKS = clockTicks();

function clockTicks(): number {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
}

/** User + system CPU of a process so far, in µs, from /proc/<pid>/stat (fields 14 and 15, in clock ticks). */
function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS) * 1e6;
}

interface Server {
  readonly child: ChildProcess;
  readonly url: string;
  stop(): Promise<void>;
}

async function startServer(env: Record<string, string>): Promise<Server> {
  const profile = options.cpuProf === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${resolve(options.cpuProf)}`];
  const child = spawn(process.execPath, [...profile, join(root, 'dist/bin/tokex.js'), 'serve'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    let err = '';
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('tokex listening')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`tokex exited ${code}: ${err}`)));
  });
  return {
    child,
    url: `http://127.0.0.1:${env.PORT}`,
    stop: async () => {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** A dev-issuer caller token signed directly with node:crypto (the bench needs thousands, fast). */
function devToken(key: SigningKey, settings: Settings, subject: string): string {
  const now = Math.floor(Date.now() / 1000);
  const header = Buffer.from(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid: key.kid })).toString('base64url');
  const claims = { iss: devIssuerUrl(settings), sub: subject, aud: DEV_AUDIENCE, iat: now, nbf: now, exp: now + 3600 };
  const input = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  return `${input}.${sign('sha256', Buffer.from(input), key.privateKey).toString('base64url')}`;
}

function formBody(token: string): string {
  return new URLSearchParams({
    grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
    subject_token: token,
    subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
    audience: 'https://workspace.internal',
    scope: 'jobs.read',
  }).toString();
}

/** The physical bound: one RS256 verify and one ES256 sign with imported KeyObjects, synchronously, one thread. */
function rawBound(issuerKey: SigningKey, signer: SigningKey, tokens: readonly string[], seconds: number): { wall: number; cpu: number } {
  const inputs = tokens.slice(0, 500).map((t) => {
    const dot = t.lastIndexOf('.');
    return { data: Buffer.from(t.slice(0, dot)), signature: Buffer.from(t.slice(dot + 1), 'base64url') };
  });
  const publicKey = createPublicKey(issuerKey.privateKey);
  const payload = Buffer.from('eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJiZW5jaCJ9');
  const cpu0 = process.cpuUsage();
  const end = performance.now() + seconds * 1000;
  let n = 0;
  for (; performance.now() < end; n++) {
    const { data, signature } = inputs[n % inputs.length]!;
    if (!verify('sha256', data, publicKey, signature)) throw new Error('bench token does not verify');
    sign('sha256', payload, { key: signer.privateKey, dsaEncoding: 'ieee-p1363' });
  }
  return { wall: n / seconds, cpu: n / cpuSeconds(cpu0) };
}

/** CPU seconds (user + system) of this process since `start`: on a shared machine, what a loop really cost. */
function cpuSeconds(start: NodeJS.CpuUsage): number {
  const { user, system } = process.cpuUsage(start);
  return (user + system) / 1e6;
}

/** The same two operations through jose (WebCrypto), for reference: what the bound used to be measured with. */
async function joseBound(issuerKey: SigningKey, signer: SigningKey, settings: Settings, tokens: readonly string[], seconds: number): Promise<number> {
  const keys = createLocalJWKSet(devJwks(issuerKey));
  const end = performance.now() + seconds * 1000;
  let n = 0;
  for (; performance.now() < end; n++) {
    const { payload } = await jwtVerify(tokens[n % tokens.length]!, keys, { algorithms: ['RS256'], issuer: devIssuerUrl(settings) });
    await new SignJWT({ scope: 'jobs.read' })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: signer.kid })
      .setSubject(payload.sub!)
      .setAudience('https://workspace.internal')
      .setIssuedAt()
      .setExpirationTime('10m')
      .sign(signer.privateKey);
  }
  return n / seconds;
}

interface LoadResult {
  readonly rate: number;
  readonly ok: number;
  readonly failed: number;
  readonly cpuPerExchangeUs: number;
  readonly p50: number;
  readonly p99: number;
}

/** One autocannon phase against `server`, with the server's CPU over exactly that phase. */
async function load(
  server: Server,
  bodies: readonly string[],
  shape: { amount?: number; duration?: number; overallRate?: number; connections?: number },
): Promise<LoadResult> {
  let next = 0;
  let lastAnswer = 0;
  const before = cpuMicros(server.child.pid!);
  const t0 = performance.now();
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: server.url,
        connections: shape.connections ?? options.connections,
        ...(shape.amount !== undefined && { amount: shape.amount }),
        ...(shape.duration !== undefined && { duration: shape.duration }),
        ...(shape.overallRate !== undefined && { overallRate: shape.overallRate }),
        requests: [
          {
            method: 'POST',
            path: '/token',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            setupRequest: (req) => ({ ...req, body: bodies[next++ % bodies.length] }),
          },
        ],
      },
      (err, res) => (err ? reject(err) : resolve(res)),
    );
    instance.on('response', () => {
      lastAnswer = performance.now();
    });
  });
  const cpu = cpuMicros(server.child.pid!) - before;
  const ok = result['2xx'];
  // Until the last answer, measured here: autocannon's own duration is whole seconds (it ends on a tick).
  const seconds = (lastAnswer - t0) / 1000;
  return {
    rate: ok / seconds,
    ok,
    failed: result.non2xx + result.errors + result.timeouts,
    cpuPerExchangeUs: ok > 0 ? cpu / (ok + result.non2xx) : NaN,
    p50: result.latency.p50,
    p99: result.latency.p99,
  };
}

/** exchangeToken() called directly, `concurrency` at a time, each body once: no HTTP, no host objects. */
async function inProcess(settings: Settings, bodies: readonly string[], concurrency: number): Promise<{ rate: number; perCpuSecond: number; ok: number }> {
  const dev = await devTrustedIssuer(settings);
  const started = await startTokex(settings, { builtInIssuers: [dev] });
  // The production audit writer, pointed at /dev/null instead of this process's stdout, written
  // synchronously as Node writes a stdout that is a file (the server's, in this bench).
  const devNull = openSync('/dev/null', 'w');
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      writeSync(devNull, chunk);
      done();
    },
  });
  const tokex = { ...started, auditor: benchAuditor(sink) };
  const encoded = bodies.map((b) => Buffer.from(b));
  // Warm the JIT on a few requests outside the measurement.
  for (let i = 0; i < 200; i++)
    await exchangeToken(tokex, { contentType: 'application/x-www-form-urlencoded', body: encoded[i]!, clientIp: '127.0.0.1', correlationId: randomUUID() });
  let next = 200;
  let ok = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < encoded.length) {
        const body = encoded[next++]!;
        const result = await exchangeToken(tokex, {
          contentType: 'application/x-www-form-urlencoded',
          body,
          clientIp: '127.0.0.1',
          correlationId: randomUUID(),
        });
        if (result.status === 200) ok++;
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(cpu0);
  await tokex.auditor.flush();
  return { rate: ok / seconds, perCpuSecond: ok / cpu, ok };
}

const f0 = (n: number) => (Number.isFinite(n) ? n.toFixed(0) : 'n/a');
const ratio = (n: number, bound: number) => (n / bound).toFixed(2);

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tokex-bench-'));
  const env = { PORT: String(await freePort()), TOKEX_LOCAL_DIR: join(dir, '.local'), TOKEX_POLICY: join(root, 'policy.dev.yaml') };
  const settings = loadSettings(env, 'local');
  const issuerKey = await loadDevIssuerKey(settings);
  const signer = await signingKeyFrom(JSON.stringify(generateSigningKey('ES256')), 'bench');

  let t = performance.now();
  const tokens = Array.from({ length: options.tokens }, (_, i) => devToken(issuerKey, settings, `bench-${i}`));
  const bodies = tokens.map(formBody);
  const repeated = [formBody(devToken(issuerKey, settings, 'bench-repeated'))];
  // Warm-up before each measured phase: distinct tokens (the verifying path) and one repeated (the remembered path).
  const warmupDistinct = Array.from({ length: 1000 }, (_, i) => formBody(devToken(issuerKey, settings, `bench-warmup-${i}`)));
  const warmup = [formBody(devToken(issuerKey, settings, 'bench-warmup'))];
  console.log(`${tokens.length} distinct subject tokens minted in ${((performance.now() - t) / 1000).toFixed(1)} s`);

  const measured = rawBound(issuerKey, signer, tokens, 2);
  // CPU time, not wall time: on a busy machine the loop is descheduled, which is no cost of the crypto.
  const bound = measured.cpu;
  const boundUs = 1e6 / bound;
  const jose = await joseBound(issuerKey, signer, settings, tokens, 1);

  // Each phase on a freshly started server, so no subject token is already in its verified-token cache.
  t = performance.now();
  let server = await startServer(env);
  let distinct: LoadResult;
  let same: LoadResult;
  try {
    await load(server, warmupDistinct, { amount: warmupDistinct.length });
    await load(server, warmup, { duration: 1 });
    distinct = await load(server, bodies, { amount: bodies.length });
    same = await load(server, repeated, { duration: options.seconds });
  } finally {
    await server.stop();
  }
  server = await startServer(env);
  let paced: LoadResult;
  try {
    await load(server, warmupDistinct, { amount: warmupDistinct.length });
    await load(server, warmup, { duration: 1 });
    const amount = Math.min(bodies.length, options.rate * options.seconds);
    paced = await load(server, bodies, { amount, overallRate: options.rate, connections: Math.max(options.connections, 32) });
  } finally {
    await server.stop();
  }
  const inproc = await inProcess(settings, bodies, options.connections);
  const elapsed = (performance.now() - t) / 1000;

  console.log(`crypto bound (node:crypto KeyObjects, RS256 verify + ES256 sign, sync, one thread):`);
  console.log(`  ${f0(bound)} /s per CPU second (${boundUs.toFixed(1)} µs of CPU each; ${f0(measured.wall)} /s of wall time)`);
  console.log(`  jose/WebCrypto path for reference: ${f0(jose)} /s of wall time, ${ratio(jose, measured.wall)} of the wall-time bound`);
  console.log(`minted exchanges over HTTP (loopback, keep-alive, ${options.connections} connections):`);
  console.log(
    `  distinct tokens  ${f0(distinct.rate).padStart(6)} /s   ${ratio(distinct.rate, bound)} of bound   server CPU ${f0(distinct.cpuPerExchangeUs)} µs/exchange = ${(distinct.cpuPerExchangeUs / boundUs).toFixed(1)}× crypto   (${distinct.ok} × 200, ${distinct.failed} other)`,
  );
  console.log(
    `  repeated token   ${f0(same.rate).padStart(6)} /s   ${ratio(same.rate, bound)} of bound   server CPU ${f0(same.cpuPerExchangeUs)} µs/exchange = ${(same.cpuPerExchangeUs / boundUs).toFixed(1)}× crypto   (${same.ok} × 200, ${same.failed} other)`,
  );
  console.log(`  at ${options.rate} requests/s (distinct tokens): p50 ${paced.p50} ms, p99 ${paced.p99} ms   (${paced.ok} × 200, ${paced.failed} other)`);
  console.log(`in-process exchangeToken() (no HTTP, distinct tokens, ${options.connections} concurrent):`);
  console.log(
    `  ${f0(inproc.perCpuSecond)} /s per CPU second   ${ratio(inproc.perCpuSecond, bound)} of bound   (${f0(inproc.rate)} /s of wall time, ${ratio(inproc.rate, measured.wall)} of the wall-time bound; ${inproc.ok} × 200)`,
  );
  // Issue 14's targets for these machines, each against this run's figures.
  const targets: [string, boolean][] = [
    ['HTTP distinct ≥ 0.25 of bound', distinct.rate / bound >= 0.25],
    ['HTTP repeated ≥ 0.3', same.rate / bound >= 0.3],
    ['server CPU ≤ 4× crypto', distinct.cpuPerExchangeUs / boundUs <= 4],
    ['in-process ≥ 0.6', inproc.perCpuSecond / bound >= 0.6],
    [`p99 ≤ 5 ms at ${options.rate}/s`, paced.p99 <= 5],
  ];
  console.log(`targets: ${targets.map(([name, met]) => `${name} ${met ? 'met' : 'NOT met'}`).join('; ')}`);
  console.log(`(${elapsed.toFixed(0)} s of load phases; on a shared machine other processes skew every figure)`);
}

await main();
