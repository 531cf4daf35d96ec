import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { Auditor } from './audit/auditor.js';
import { fileSink } from './audit/file-sink.js';
import type { AuditSink } from './audit/sink.js';
import { stdoutSink } from './audit/stdout-sink.js';
import { entraProfile } from './caller/entra.js';
import { remoteIssuerKeys } from './caller/issuer-keys.js';
import { CallerValidator, type TrustedIssuer } from './caller/validate.js';
import { ConfigError } from './errors.js';
import { loadOrCreateKeyFile } from './keys/local-key-file.js';
import { generateSigningKey, signingKeyFrom, type SigningKeys } from './keys/signing-key.js';
import { loadPolicyFile } from './policy/load.js';
import type { Settings } from './settings.js';
import type { Tokex } from './tokex.js';

export interface StartOptions {
  /** Issuers the host brings (the local host's dev issuer); never present in Azure. */
  readonly builtInIssuers?: readonly TrustedIssuer[];
  readonly now?: () => number;
}

/**
 * Builds everything once: policy, trusted issuers, signing keys, audit sinks. Any bad setting or
 * policy throws a ConfigError whose message names it; nothing is fetched from the network here.
 */
export async function startTokex(settings: Settings, options: StartOptions = {}): Promise<Tokex> {
  const now = options.now ?? (() => Date.now());
  const builtIns = options.builtInIssuers ?? [];
  const policy = loadPolicyFile(settings.policyPath, {
    ownIssuer: settings.issuer,
    builtInIssuers: builtIns.map((b) => b.config),
    mode: settings.mode,
  });
  const issuers: TrustedIssuer[] = policy.issuers.map(
    (config) => builtIns.find((b) => b.config.name === config.name) ?? { config, keys: remoteIssuerKeys(config, now) },
  );
  const validator = new CallerValidator(issuers, { now, profiles: { entra: entraProfile } });
  const signingKeys = await loadSigningKeys(settings);
  const auditor = new Auditor(auditSinks(settings));
  return { settings, policy, validator, signingKeys, auditor, now };
}

async function loadSigningKeys(settings: Settings): Promise<SigningKeys> {
  if (settings.signingKeySecret !== undefined) {
    throw new ConfigError('TOKEX_SIGNING_KEY: reading the signing key from Key Vault is not available in this build');
  }
  const file = join(settings.localDir, 'signing-key.json');
  const current = await signingKeyFrom(loadOrCreateKeyFile(file, () => generateSigningKey('ES256')), file);
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
  return sinks;
}
