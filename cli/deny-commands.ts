import { resolve } from 'node:path';
import { type DeniedCaller, type DenyList, formatDenyList, parseDenyList, sameEntry } from '../shared/deny/deny-list.js';
import { type DenyListSource, fileDenyListSource, keyVaultDenyListSource } from '../shared/deny/watcher.js';
import { ConfigError, TokexError } from '../shared/errors.js';
import { loadSettings, withLocalSettings } from '../shared/settings.js';
import type { CliSettings } from './context.js';

/** One entry of the deny-list, as `tokex deny add|remove` takes it. */
export type DenyEntry = { readonly caller: DeniedCaller } | { readonly issuer: string } | { readonly rule: string };

/**
 * The deny-list the server reads (TOKEX_DENY_LIST, or `--list`): a Key Vault secret, through the
 * same KeyVaultSecretStore (SecretClient) the server uses, or a file.
 */
export async function denyListSource(list: string | undefined, where: CliSettings): Promise<DenyListSource> {
  const settings = loadSettings(withLocalSettings({ ...where.env, ...(list !== undefined && { TOKEX_DENY_LIST: list }) }, where.cwd), 'local');
  if (settings.denyList === undefined) throw new ConfigError('TOKEX_DENY_LIST: not set (give --list kv:<secret> or a file)');
  if (!settings.denyList.startsWith('kv:')) return fileDenyListSource(resolve(where.cwd, settings.denyList), settings.denyList);
  const [{ DefaultAzureCredential }, { KeyVaultSecretStore }] = await Promise.all([import('@azure/identity'), import('../shared/keyvault/key-vault-store.js')]);
  return keyVaultDenyListSource(new KeyVaultSecretStore(settings.keyVaultUrl!, new DefaultAzureCredential()), settings.denyList.slice('kv:'.length));
}

/** Reads the list; an absent one (a first `add`) counts as empty. */
async function readList(source: DenyListSource, allowAbsent: boolean): Promise<DenyList> {
  try {
    return parseDenyList(await source.read(), source.name);
  } catch (err) {
    if (allowAbsent && !(err instanceof ConfigError)) return parseDenyList('', source.name);
    if (err instanceof ConfigError) throw err;
    const why = err instanceof TokexError ? err.detail : (err as Error).message;
    if (/\(ENOENT\)$/.test(why)) throw new ConfigError(`${source.name}: no deny-list there yet (\`tokex deny add\` creates it)`);
    throw new ConfigError(`${source.name}: ${why}`);
  }
}

/** Adds or removes one entry and writes the list back; returns the new list. */
export async function editDenyList(source: DenyListSource, op: 'add' | 'remove', entry: DenyEntry): Promise<DenyList> {
  const list = await readList(source, op === 'add');
  const next: DenyList = { callers: [...list.callers], issuers: [...list.issuers], rules: [...list.rules] };
  const before = list.callers.length + list.issuers.length + list.rules.length;
  if ('caller' in entry) {
    next.callers = next.callers.filter((c) => !sameEntry(c, entry.caller));
    if (op === 'add') next.callers.push(entry.caller);
  } else {
    const [key, value] = 'issuer' in entry ? (['issuers', entry.issuer] as const) : (['rules', entry.rule] as const);
    next[key] = next[key].filter((v) => v !== value);
    if (op === 'add') next[key].push(value);
  }
  if (op === 'remove' && next.callers.length + next.issuers.length + next.rules.length === before) {
    throw new ConfigError(`${source.name}: that entry is not on the deny-list (see \`tokex deny list\`)`);
  }
  await source.write(formatDenyList(next));
  return next;
}

export async function listDenyList(source: DenyListSource): Promise<string> {
  const list = await readList(source, false);
  const lines = [
    ...list.issuers.map((i) => `issuer ${i}`),
    ...list.rules.map((r) => `rule ${r}`),
    ...list.callers.map((c) => `caller ${c.issuer} ${'oid' in c ? `oid ${c.oid}` : `sub ${c.sub}`}`),
  ];
  return lines.length === 0 ? `${source.name}: empty` : `${source.name}:\n${lines.map((l) => `  ${l}`).join('\n')}`;
}

/** `--caller ISSUER --oid X | --sub X`, `--issuer NAME` or `--rule NAME`: exactly one entry. */
export function entryFrom(opts: { caller?: string; oid?: string; sub?: string; issuer?: string; rule?: string }): DenyEntry {
  const given = [opts.caller, opts.issuer, opts.rule].filter((v) => v !== undefined).length;
  if (given !== 1) throw new ConfigError('deny: give exactly one of --caller ISSUER (with --oid or --sub), --issuer NAME or --rule NAME');
  if (opts.issuer !== undefined) return { issuer: opts.issuer };
  if (opts.rule !== undefined) return { rule: opts.rule };
  if ((opts.oid === undefined) === (opts.sub === undefined)) throw new ConfigError('deny: --caller needs exactly one of --oid or --sub');
  return { caller: opts.oid !== undefined ? { issuer: opts.caller!, oid: opts.oid } : { issuer: opts.caller!, sub: opts.sub! } };
}
