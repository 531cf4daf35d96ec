import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { appInsightsSink } from './audit/app-insights-sink.js';
import { Auditor } from './audit/auditor.js';
import { fileSink } from './audit/file-sink.js';
import type { AuditSink } from './audit/sink.js';
import { stdoutSink } from './audit/stdout-sink.js';
import { entraProfile } from './caller/entra.js';
import { type IssuerKeys, remoteIssuerKeys } from './caller/issuer-keys.js';
import { CallerValidator, type TrustedIssuer } from './caller/validate.js';
import { reservedSecretNames } from './credentials/reserved.js';
import { DOWNSTREAM_DEADLINE_MS } from './deadline.js';
import { type DenyList, EMPTY_DENY_LIST } from './deny/deny-list.js';
import { DenyListWatcher, fileDenyListSource, keyVaultDenyListSource, type Schedule } from './deny/watcher.js';
import { ConfigError } from './errors.js';
import { EntraTokenProvider } from './grants/entra.js';
import { KeyVaultSigningKeys } from './keys/key-vault-signing-keys.js';
import { loadOrCreateKeyFile } from './keys/local-key-file.js';
import { generateSigningKey, type SigningKeys, signingKeyFrom } from './keys/signing-key.js';
import { CachedSecretStore } from './keyvault/cached-store.js';
import type { KeyVaultSecretStore } from './keyvault/key-vault-store.js';
import { LocalSecretStore } from './keyvault/local-store.js';
import { log } from './log.js';
import { loadPolicyFile } from './policy/load.js';
import { indexRules } from './policy/match.js';
import type { IssuerConfig, Policy } from './policy/policy.js';
import { policyWarnings } from './policy/warnings.js';
import type { Settings } from './settings.js';
import type { Tokex } from './tokex.js';

export interface StartOptions {
  /** Issuers the host brings (the local host's dev issuer); never present in Azure. */
  readonly builtInIssuers?: readonly TrustedIssuer[];
  readonly now?: () => number;
  /** Downstream deadline and failure backoff: the defaults in production, shorter in tests. */
  readonly downstreamDeadlineMs?: number;
  readonly failureBackoffMs?: number;
  /** How the deny-list refresh is scheduled (tests drive it); default every 30 s. */
  readonly denyListSchedule?: Schedule;
}

/**
 * Builds everything once: policy, trusted issuers, Key Vault, signing keys, downstream identities,
 * audit sinks. Any bad setting or policy throws a ConfigError whose message names it. Only the
 * signing key is read from Key Vault here; issuers' keys and downstream tokens are fetched on use.
 */
export async function startTokex(settings: Settings, options: StartOptions = {}): Promise<Tokex> {
  const now = options.now ?? (() => Date.now());
  const builtIns = options.builtInIssuers ?? [];
  const policy = loadPolicyFile(settings.policyPath, {
    ownIssuer: settings.issuer,
    builtInIssuers: builtIns.map((b) => b.config),
    mode: settings.mode,
    env: settings.env,
  });
  indexRules(policy);
  const validator = buildValidator(policy, (config) => builtIns.find((b) => b.config.name === config.name)?.keys ?? remoteIssuerKeys(config, now), now);

  // tokex reaches Key Vault as itself: its managed identity in Azure (AZURE_CLIENT_ID picks a user-assigned one).
  // In Azure KEY_VAULT_URL is always set (the signing key lives there); locally, secrets.json stands in.
  const vault = settings.keyVaultUrl === undefined ? undefined : await keyVaultStore(settings.keyVaultUrl);
  const secrets = new CachedSecretStore(vault ?? new LocalSecretStore(join(settings.localDir, 'secrets.json')), now);
  const signingKeys = await loadSigningKeys(settings, policy, vault, now);
  const downstreamDeadlineMs = options.downstreamDeadlineMs ?? DOWNSTREAM_DEADLINE_MS;
  const entra = new EntraTokenProvider(policy.identities, secrets, settings.authorityHost, {
    now,
    deadlineMs: downstreamDeadlineMs,
    ...(options.failureBackoffMs !== undefined && { failureBackoffMs: options.failureBackoffMs }),
  });
  const denyList = await startDenyList(settings, vault, options.denyListSchedule);
  // Last of what can fail: a failed attempt (retried with backoff) leaves no sink subscribed to the log.
  const auditor = new Auditor(auditSinks(settings), settings.auditRequired);
  const reservedSecrets = reservedSecretNames(policy, settings.signingKeySecret);
  for (const warning of policyWarnings(policy, { reservedSecrets })) {
    log.warn('policy warning', { file: policy.source, line: warning.line, path: warning.path, warning: warning.message });
  }
  return { settings, policy, validator, signingKeys, entra, secrets, auditor, now, downstreamDeadlineMs, denyList };
}

/** The validator of a policy's issuers, each with its keys: the server's and `tokex policy explain`'s. */
export function buildValidator(policy: Policy, keysFor: (config: IssuerConfig) => IssuerKeys, now: () => number): CallerValidator {
  const issuers: TrustedIssuer[] = policy.issuers.map((config) => ({ config, keys: keysFor(config) }));
  return new CallerValidator(issuers, { now, profiles: { entra: entraProfile } });
}

/** The kill switch: read now (startup fails without it when configured), then every 30 s. */
async function startDenyList(settings: Settings, vault: KeyVaultSecretStore | undefined, schedule: Schedule | undefined): Promise<() => DenyList> {
  if (settings.denyList === undefined) return () => EMPTY_DENY_LIST;
  const source = settings.denyList.startsWith('kv:')
    ? keyVaultDenyListSource(vault!, settings.denyList.slice('kv:'.length))
    : fileDenyListSource(settings.denyList);
  const watcher = await DenyListWatcher.start(source, schedule ? { schedule } : {});
  return () => watcher.current();
}

/** The Azure SDKs load only when a vault is configured: the local host without one starts without them. */
async function keyVaultStore(vaultUrl: string): Promise<KeyVaultSecretStore> {
  const [{ DefaultAzureCredential }, { KeyVaultSecretStore }] = await Promise.all([import('@azure/identity'), import('./keyvault/key-vault-store.js')]);
  return new KeyVaultSecretStore(vaultUrl, new DefaultAzureCredential());
}

async function loadSigningKeys(settings: Settings, policy: Policy, vault: KeyVaultSecretStore | undefined, now: () => number): Promise<SigningKeys> {
  if (settings.signingKeySecret !== undefined && vault !== undefined) {
    const lifetimes = policy.rules.flatMap((r) => r.grants.flatMap((g) => (g.kind === 'minted' ? [g.lifetimeSeconds] : [])));
    const keys = await KeyVaultSigningKeys.load(vault, settings.signingKeySecret.slice('kv:'.length), Math.max(600, ...lifetimes), now);
    keys.startRefreshing();
    return keys;
  }
  const file = join(settings.localDir, 'signing-key.json');
  const current = await signingKeyFrom(
    loadOrCreateKeyFile(file, () => generateSigningKey('ES256')),
    file,
  );
  return { current, previous: [] };
}

function auditSinks(settings: Settings): AuditSink[] {
  const sinks: AuditSink[] = [stdoutSink];
  if (settings.auditFile !== undefined) {
    try {
      appendFileSync(settings.auditFile, '', { mode: 0o600 });
    } catch (err) {
      throw new ConfigError(`TOKEX_AUDIT_FILE: cannot be written (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    sinks.push(fileSink(settings.auditFile));
  }
  // Loaded only when configured, in a worker thread: never on the request path, never without a connection string.
  if (settings.appInsightsConnectionString !== undefined) sinks.push(appInsightsSink(settings.appInsightsConnectionString));
  return sinks;
}
