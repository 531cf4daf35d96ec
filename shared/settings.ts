import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from './errors.js';
import { KV_REFERENCE } from './patterns.js';
import { isLoopbackUrl } from './url.js';

/** Where tokex runs: the Azure Functions host, or the local host of `npm start`. */
export type RuntimeMode = 'azure' | 'local';

export interface Settings {
  readonly mode: RuntimeMode;
  readonly policyPath: string;
  /** tokex's own issuer (minted tokens, metadata); no trailing slash. */
  readonly issuer: string;
  /** `kv:<secret>` reference, or undefined locally (a key kept in `localDir`). */
  readonly signingKeySecret: string | undefined;
  readonly keyVaultUrl: string | undefined;
  /** AZURE_AUTHORITY_HOST: where service principals sign in (default: Azure public cloud). */
  readonly authorityHost: string | undefined;
  readonly auditFile: string | undefined;
  readonly auditRequired: boolean;
  /** TOKEX_PUBLISH_SCOPES: list minted scopes as `scopes_supported` in the metadata (default false: reveal no policy). */
  readonly publishScopes: boolean;
  readonly appInsightsConnectionString: string | undefined;
  /** TOKEX_DENY_LIST: `kv:<secret>` or a file path; undefined: no deny-list. */
  readonly denyList: string | undefined;
  readonly port: number;
  readonly host: string;
  /** Local host only: generated keys and local secrets. */
  readonly localDir: string;
  /** The TOKEX_* settings as given, for `${TOKEX_…}` references in the policy. */
  readonly env: Readonly<Record<string, string>>;
}

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Reads local.settings.json `Values` the way the Functions tooling does; the environment wins.
 * Only the local host does this: in Azure, app settings are the environment. The file is read from
 * `cwd` (default: the process's working directory) and named as `local.settings.json` in messages.
 */
export function withLocalSettings(env: Env, cwd?: string): Env {
  const file = 'local.settings.json';
  let text: string;
  try {
    text = readFileSync(cwd === undefined ? file : join(cwd, file), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return env;
    // The code, not the message: that would name the path as read, not as the user knows the file.
    throw new ConfigError(`${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).name})`);
  }
  let values: unknown;
  try {
    values = (JSON.parse(text) as { Values?: unknown }).Values;
  } catch {
    // Not the parser's message: it can quote the file, and the file holds connection strings.
    throw new ConfigError(`${file}: not valid JSON`);
  }
  if (values === undefined) return env;
  if (typeof values !== 'object' || values === null || Array.isArray(values)) {
    throw new ConfigError(`${file}: "Values" must be an object of strings`);
  }
  const merged: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(values)) {
    if (typeof value !== 'string') throw new ConfigError(`${file}: Values.${name} must be a string`);
    merged[name] = value;
  }
  return { ...merged, ...definedOnly(env) };
}

function definedOnly(env: Env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  return out;
}

/** Reads and checks every setting once; the first bad one stops startup with a message naming it. */
export function loadSettings(env: Env, mode: RuntimeMode): Settings {
  const get = (name: string): string | undefined => {
    const value = env[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  };

  const port = parsePort(get('PORT'));
  const host = get('HOST') ?? '127.0.0.1';

  const issuerSetting = get('TOKEX_ISSUER');
  if (mode === 'azure' && issuerSetting === undefined) {
    throw new ConfigError('TOKEX_ISSUER: required when running in Azure (the https URL of this Function App)');
  }
  const issuer = checkIssuer(issuerSetting ?? `http://localhost:${port}`);

  const signingKeySecret = get('TOKEX_SIGNING_KEY');
  if (signingKeySecret !== undefined && !KV_REFERENCE.test(signingKeySecret)) {
    throw new ConfigError('TOKEX_SIGNING_KEY: must be kv:<secret-name> (letters, digits and hyphens)');
  }
  if (mode === 'azure' && signingKeySecret === undefined) {
    throw new ConfigError('TOKEX_SIGNING_KEY: required when running in Azure (kv:<secret-name>)');
  }

  const keyVaultUrl = get('KEY_VAULT_URL');
  if (keyVaultUrl !== undefined) checkVaultUrl(keyVaultUrl);
  if (signingKeySecret !== undefined && keyVaultUrl === undefined) {
    throw new ConfigError('KEY_VAULT_URL: required because TOKEX_SIGNING_KEY names a Key Vault secret');
  }

  const appInsights = get('APPLICATIONINSIGHTS_CONNECTION_STRING');
  if (appInsights !== undefined && !/(^|;)\s*InstrumentationKey=[0-9a-f-]{36}\s*(;|$)/i.test(appInsights)) {
    throw new ConfigError('APPLICATIONINSIGHTS_CONNECTION_STRING: must hold InstrumentationKey=<guid> (copy it from the Application Insights resource)');
  }
  const authorityHost = get('AZURE_AUTHORITY_HOST');
  if (authorityHost !== undefined && !/^https:\/\/[^/]+/.test(authorityHost)) {
    throw new ConfigError(`AZURE_AUTHORITY_HOST: must be an https URL (got "${authorityHost}")`);
  }

  const denyList = get('TOKEX_DENY_LIST');
  if (denyList?.startsWith('kv:')) {
    if (!/^kv:[0-9A-Za-z-]{1,127}$/.test(denyList))
      throw new ConfigError('TOKEX_DENY_LIST: must be kv:<secret-name> (letters, digits and hyphens) or a file path');
    if (keyVaultUrl === undefined) throw new ConfigError('KEY_VAULT_URL: required because TOKEX_DENY_LIST names a Key Vault secret');
  }

  return {
    mode,
    authorityHost,
    denyList,
    policyPath: get('TOKEX_POLICY') ?? (mode === 'local' ? 'policy.dev.yaml' : 'policy.yaml'),
    issuer,
    signingKeySecret,
    keyVaultUrl,
    auditFile: get('TOKEX_AUDIT_FILE'),
    auditRequired: parseBoolean('TOKEX_AUDIT_REQUIRED', get('TOKEX_AUDIT_REQUIRED')),
    publishScopes: parseBoolean('TOKEX_PUBLISH_SCOPES', get('TOKEX_PUBLISH_SCOPES')),
    appInsightsConnectionString: appInsights,
    port,
    host,
    localDir: get('TOKEX_LOCAL_DIR') ?? '.local',
    env: Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[0].startsWith('TOKEX_') && e[1] !== undefined)),
  };
}

function parsePort(value: string | undefined): number {
  if (value === undefined) return 7071;
  if (!/^\d{1,5}$/.test(value) || Number(value) > 65535) {
    throw new ConfigError(`PORT: must be a port number from 0 to 65535 (got "${value}")`);
  }
  return Number(value);
}

function parseBoolean(name: string, value: string | undefined): boolean {
  if (value === undefined) return false;
  const lower = value.toLowerCase();
  if (lower === 'true') return true;
  if (lower === 'false') return false;
  throw new ConfigError(`${name}: must be true or false (got "${value}")`);
}

function checkIssuer(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`TOKEX_ISSUER: must be an absolute URL (got "${value}")`);
  }
  if (url.search || url.hash) throw new ConfigError('TOKEX_ISSUER: must not have a query or fragment (RFC 8414)');
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackUrl(url))) {
    throw new ConfigError(`TOKEX_ISSUER: must be https (http only on loopback) (got "${value}")`);
  }
  return value.replace(/\/+$/, '');
}

function checkVaultUrl(value: string): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`KEY_VAULT_URL: must be an absolute URL (got "${value}")`);
  }
  if (url.protocol !== 'https:') throw new ConfigError(`KEY_VAULT_URL: must be https (got "${value}")`);
}
