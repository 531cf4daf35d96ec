/**
 * The Python client (clients/python) with the real Azure SDK for Python (Debian's python3-azure, in
 * the system Python): installed offline into a fresh virtualenv, then its pytest suite run against
 * the built local host and the HTTPS fakes. Python or the SDK missing is a failure, not a skip.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeAzureMl } from '../fakes/azure-ml.js';
import { FakeKeyVault } from '../fakes/key-vault.js';
import { FakeManagedIdentity } from '../fakes/managed-identity.js';
import { FakeIssuer } from '../fakes/oidc-issuer.js';
import { throwawayTls } from '../fakes/tls.js';
import { LocalTokex } from '../helpers/local-host.js';

const run = promisify(execFile);
const SYSTEM_PYTHON = '/usr/bin/python3';
const PACKAGE = resolve(import.meta.dirname, '../../clients/python');
const MI_RESOURCE_ID =
  '/subscriptions/00000000-0000-0000-0000-000000000001/resourcegroups/rg-ml/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-training';

let idp: FakeIssuer;
/** tokex's own managed identity: what it gets downstream tokens as. */
let mi: FakeManagedIdentity;
/** The Python job's managed identity: gives it JWTs for tokex's API. */
let callerMi: FakeManagedIdentity;
let vault: FakeKeyVault;
let ml: FakeAzureMl;
let tokex: LocalTokex;
const scratch = mkdtempSync(join(tmpdir(), 'tokex-python-'));
const venvPython = join(scratch, 'venv', 'bin', 'python');

async function python(executable: string, args: string[], env: Record<string, string> = {}, timeout = 120_000): Promise<{ code: number; out: string }> {
  const base = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: scratch,
    PYTHONDONTWRITEBYTECODE: '1',
    PIP_NO_INDEX: '1',
    PIP_DISABLE_PIP_VERSION_CHECK: '1',
  };
  try {
    const { stdout, stderr } = await run(executable, args, { env: { ...base, ...env }, cwd: scratch, timeout, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string; message: string };
    return { code: typeof e.code === 'number' ? e.code : -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}${e.stdout || e.stderr ? '' : e.message}` };
  }
}

beforeAll(async () => {
  // Fail here, loudly, when CI lacks what .ci/run installs.
  // Found, not imported (pytest imports them soon enough): importing setuptools prints a warning
  // about distutils, and azure-ai-ml needs the pydash stand-in, which only its test puts on sys.path.
  const probe = await python(SYSTEM_PYTHON, [
    '-c',
    [
      'from importlib.util import find_spec',
      'from importlib.metadata import version',
      // find_spec of a dotted name raises when a parent package is missing.
      'def found(m):',
      '    try: return find_spec(m) is not None',
      '    except ModuleNotFoundError: return False',
      'missing = [m for m in ("azure.core", "azure.identity", "azure.keyvault.secrets", "azure.ai.ml", "aiohttp", "pytest", "setuptools", "pip") if not found(m)]',
      'assert not missing, f"not installed: {missing}"',
      'print(", ".join(f"{p} {version(p)}" for p in ("azure-core", "azure-identity", "azure-keyvault-secrets", "azure-ai-ml")))',
    ].join('\n'),
  ]);
  if (probe.code !== 0) {
    throw new Error(
      `${SYSTEM_PYTHON} with the Azure SDK for Python is required (apt-get install python3-azure python3-pytest python3-venv python3-pip; .ci/run does):\n${probe.out}`,
    );
  }
  console.log(`Azure SDK for Python: ${probe.out.trim().replace(/\n/g, ', ')}`);
  // The install needs none of what follows: it runs beside the fakes' and tokex's start (the tests await it).
  void installPackage();

  idp = await FakeIssuer.start();
  [mi, callerMi, vault, ml] = await Promise.all([
    FakeManagedIdentity.start(),
    FakeManagedIdentity.start({
      // What Entra gives a user-assigned managed identity for tokex's API: an app token with roles and xms_mirid.
      issue: (resource) => idp.token({ aud: resource, sub: 'mi-training', oid: 'mi-training', roles: ['Jobs.Train'], xms_mirid: MI_RESOURCE_ID }),
    }),
    FakeKeyVault.start(),
    FakeAzureMl.start(),
  ]);
  vault.set('db-password', 'from-the-vault');
  tokex = await LocalTokex.start(
    `
issuers: [{ name: idp, issuer: "${idp.issuer}", audience: api://tokex }]
identities:
  job-identity: { type: managed-identity }
rules:
  - name: training-jobs
    when: { issuer: idp, kind: managed-identity, claims: { roles: Jobs.Train } }
    grant:
      - { entra: "https://vault.azure.net", identity: job-identity }
      - { entra: "https://management.azure.com", identity: job-identity }
      - { entra: "https://ml.azure.com", identity: job-identity }
      - { minted: "https://workspace.internal", scopes: [jobs.read, jobs.submit], lifetime: 15m }
`,
    mi.env(),
  );
}, 60_000);

afterAll(async () => {
  await tokex?.stop();
  await Promise.all([idp?.close(), mi?.close(), callerMi?.close(), vault?.close(), ml?.close()]);
  rmSync(scratch, { recursive: true, force: true });
});

let installation: Promise<{ venv: { code: number; out: string }; install: { code: number; out: string } }> | undefined;

/** The package installed into a fresh virtualenv, once, for whichever test runs first (any order). */
function installPackage() {
  installation ??= (async () => {
    // A copy, so the build leaves nothing in the worktree.
    const source = join(scratch, 'tokex-python');
    cpSync(PACKAGE, source, { recursive: true, filter: (p) => !/(__pycache__|\.egg-info|\/build)$/.test(p) });
    // No pip of its own (ensurepip costs some 3 s): the venv's python runs the system pip (seen through
    // --system-site-packages), which installs into the venv all the same (the first test checks where).
    const venv = await python(SYSTEM_PYTHON, ['-m', 'venv', '--without-pip', '--system-site-packages', join(scratch, 'venv')]);
    const install = await python(venvPython, ['-m', 'pip', 'install', '--no-build-isolation', '--no-index', source]);
    return { venv, install };
  })();
  return installation;
}

describe('clients/python', () => {
  it('pip install --no-build-isolation works offline into a fresh virtualenv (no pip of its own; the system site packages, pip included)', async () => {
    const { venv, install } = await installPackage();
    expect(venv.out).toBe('');
    expect(install.code, install.out).toBe(0);
    expect(install.out).toMatch(/Successfully installed tokex-0\.1\.0/);
    const where = await python(venvPython, ['-c', 'import tokex, tokex.aio; print(tokex.__version__, tokex.__file__)']);
    expect(where.code, where.out).toBe(0);
    expect(where.out.trim()).toMatch(new RegExp(`^0\\.1\\.0 ${scratch}/venv/lib/python3\\.\\d+/site-packages/tokex/__init__\\.py$`));
  }, 180_000);

  it('pytest: SecretClient and MLClient with TokexCredential, against tokex and the fakes', async () => {
    expect((await installPackage()).install.code).toBe(0);
    const tls = throwawayTls();
    const user = await idp.token({ aud: 'api://tokex', sub: 'someone', oid: 'someone', scp: 'access_as_user' });
    const result = await python(
      venvPython,
      ['-m', 'pytest', '-v', '-p', 'no:cacheprovider', '-W', 'ignore::DeprecationWarning', join(scratch, 'tokex-python', 'tests')],
      {
        TOKEX_TEST_ENDPOINT: tokex.url,
        TOKEX_TEST_VAULT_URL: vault.url,
        TOKEX_TEST_ML_URL: ml.url,
        TOKEX_TEST_USER_TOKEN: user,
        AZUREML_DEV_URL_MFE: ml.url,
        ...callerMi.env(),
        // The fakes' throwaway CA: requests (sync) reads REQUESTS_CA_BUNDLE, aiohttp's default context SSL_CERT_FILE.
        REQUESTS_CA_BUNDLE: tls.caBundle,
        SSL_CERT_FILE: tls.caBundle,
      },
      170_000,
    );
    console.log(result.out);
    expect(result.code, result.out).toBe(0);
    // Only passes: the closing line names nothing else (skipped, xfailed, errors, warnings).
    expect(result.out).toMatch(/^=+ \d+ passed in [\d.]+s =+$/m);

    // The caller's own tokens came from its managed identity, for tokex's API only.
    expect([...callerMi.issuedFor.values()].every((r) => r === 'api://tokex')).toBe(true);
    expect(callerMi.issued.length).toBeGreaterThan(0);
    // Every token the vault and Azure ML saw is one tokex's managed identity was issued for that resource.
    // tokex asked its identity once for the vault (its cache served the rest); the vault saw exactly that token.
    const forVault = [...mi.issuedFor].filter(([, resource]) => resource === 'https://vault.azure.net').map(([token]) => token);
    expect(forVault).toHaveLength(1);
    expect([...vault.bearers]).toEqual(forVault);
    expect(vault.readCount('db-password')).toBe(2); // the sync and the async SecretClient
    const armRead = ml.requests.find((r) => r.method === 'GET' && r.path.endsWith('/workspaces/ws-training/batchEndpoints/score-nightly'));
    const scoring = ml.requests.find((r) => r.method === 'POST' && r.path === '/score/score-nightly/jobs');
    expect(mi.issuedFor.get(armRead?.bearer ?? '')).toBe('https://management.azure.com');
    expect(mi.issuedFor.get(scoring?.bearer ?? '')).toBe('https://ml.azure.com');
    expect(ml.requests.every((r) => r.bearer !== undefined && mi.issuedFor.has(r.bearer))).toBe(true);

    // tokex audited each exchange with the caller's kind; no token in its output or the test's.
    const granted = tokex.auditRecords().filter((r) => r.outcome === 'granted' && r.request?.target === 'https://ml.azure.com');
    expect(granted.length).toBeGreaterThan(0);
    expect(granted[0]).toMatchObject({ rule: 'training-jobs', caller: { kind: 'managed-identity' }, grant: { kind: 'entra', identity: 'job-identity' } });
    const refusedUser = tokex.auditRecords().find((r) => r.caller?.subject === 'someone');
    expect(refusedUser).toMatchObject({ outcome: 'denied', reason: 'no_rule', caller: { kind: 'user' } });
    for (const token of [...mi.issued, ...callerMi.issued, user]) {
      expect(result.out).not.toContain(token);
      expect(tokex.stdout + tokex.stderr).not.toContain(token);
    }
  }, 180_000);
});
