/**
 * Bicep cannot be compiled or deployed from these machines, so this reads infra/ as text and checks
 * it against the code: every setting the code needs in Azure is set, every role its calls need is
 * assigned (and nothing broader on the vault), and host.json/package.json are what the host expects.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { routes } from '../../functions/routes.js';
import { ConfigError } from '../../shared/errors.js';
import { loadSettings } from '../../shared/settings.js';

const root = resolve(import.meta.dirname, '../..');
const read = (path: string) => readFileSync(resolve(root, path), 'utf8');
const main = read('infra/main.bicep');
const functionApp = read('infra/app/function-app.bicep');
const rbac = read('infra/app/rbac.bicep');

/** The app settings main.bicep gives the Function App, with plausible values for Bicep expressions. */
function appSettings(): Record<string, string> {
  const block = /appSettings: \{([\s\S]*?)\n    \}/.exec(main)![1]!;
  const settings: Record<string, string> = {};
  for (const [, name, value] of block.matchAll(/^\s+([A-Z][A-Z0-9_]+): (.+)$/gm)) {
    settings[name!] = value!.startsWith("'")
      ? value!.slice(1, -1).replace(/\$\{[^}]+\}/g, 'x')
      : ({ 'string(auditRequired)': 'False', 'keyVault.outputs.uri': 'https://kv-x.vault.azure.net/', 'monitoring.outputs.connectionString': 'InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://x/' } as Record<string, string>)[value!] ?? `<${value}>`;
  }
  for (const [, name] of functionApp.matchAll(/^\s+(AzureWebJobsStorage__\w+):/gm)) settings[name!] = 'set-by-function-app.bicep';
  return settings;
}

describe('settings', () => {
  const settings = appSettings();

  it('main.bicep sets everything the code requires in Azure: loadSettings accepts exactly these', () => {
    const loaded = loadSettings(settings, 'azure');
    expect(loaded).toMatchObject({ mode: 'azure', issuer: 'https://x.azurewebsites.net', signingKeySecret: 'kv:x', keyVaultUrl: 'https://kv-x.vault.azure.net/', policyPath: '<policyFile>', auditRequired: false });
    expect(loaded.appInsightsConnectionString).toContain('InstrumentationKey=');
  });

  it('each required one, removed, stops startup naming it', () => {
    for (const name of ['TOKEX_ISSUER', 'TOKEX_SIGNING_KEY', 'KEY_VAULT_URL']) {
      const { [name]: _, ...without } = settings;
      expect(() => loadSettings(without, 'azure')).toThrow(ConfigError);
      expect(() => loadSettings(without, 'azure')).toThrow(new RegExp(`^(${name}|KEY_VAULT_URL): `));
    }
  });

  it('every TOKEX_* setting the code reads is set (TOKEX_LOCAL_DIR is the local host\'s only)', () => {
    const read = new Set([...readFileSync(resolve(root, 'shared/settings.ts'), 'utf8').matchAll(/get\('(TOKEX_\w+)'\)/g)].map((m) => m[1]));
    read.delete('TOKEX_LOCAL_DIR');
    expect(read.size).toBeGreaterThanOrEqual(5);
    for (const name of read) expect(Object.keys(settings), name).toContain(name);
  });

  it('the policy example only references settings main.bicep sets', () => {
    const refs = [...read('policy.example.yaml').matchAll(/\$\{(TOKEX_\w+)\}/g)].map((m) => m[1]);
    expect(refs.length).toBeGreaterThan(0);
    for (const name of refs) expect(Object.keys(settings), name).toContain(name);
  });

  it('host storage and Application Insights are reached through the managed identity, with no keys', () => {
    expect(settings).toMatchObject({ AzureWebJobsStorage__credential: 'set-by-function-app.bicep', APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD' });
    expect(functionApp).toContain("AzureWebJobsStorage__credential: 'managedidentity'");
    expect(Object.keys(settings)).not.toContain('AzureWebJobsStorage');
  });
});

describe('role assignments', () => {
  const roles = [...rbac.matchAll(/^var (\w+) = '([0-9a-f-]{36})'/gm)].map((m) => ({ name: m[1]!, id: m[2]! }));
  const assignments = [...rbac.matchAll(/resource (\w+) 'Microsoft\.Authorization\/roleAssignments@[\d-]+' = (?:if [^\n]*? )?\{([\s\S]*?)\n\}/g)].map((m) => ({
    name: m[1]!,
    scope: /scope: (\w+)/.exec(m[2]!)![1],
    role: /roleDefinitions', (\w+)\)/.exec(m[2]!)![1],
    principal: /principalId: (\w+)/.exec(m[2]!)![1],
  }));

  it('grants what the code calls need, to the app identity, at the narrowest scope', () => {
    expect(assignments).toHaveLength(4);
    const byRole = (id: string) => roles.find((r) => r.id === id)!.name;
    expect(assignments).toEqual(expect.arrayContaining([
      // SecretClient.getSecret / listPropertiesOfSecretVersions (credentials, SP secrets, signing key)
      { name: 'vaultRole', scope: 'vault', role: byRole('4633458b-17de-408a-b874-0445c86b69e6'), principal: 'principalId' },
      // AzureWebJobsStorage with credential=managedidentity, and the Flex deployment container
      { name: 'storageRole', scope: 'storage', role: byRole('b7e6dc6d-f1e8-4753-8033-0f276bb0955b'), principal: 'principalId' },
      // Entra-authenticated ingestion (Application Insights with DisableLocalAuth)
      { name: 'monitoringRole', scope: 'applicationInsights', role: byRole('3913510d-42f4-4e42-8a64-420c390055eb'), principal: 'principalId' },
    ]));
  });

  it('gives the app identity nothing broader than Key Vault Secrets User on the vault', () => {
    const onVault = assignments.filter((a) => a.scope === 'vault' && a.principal === 'principalId');
    expect(onVault.map((a) => a.role)).toEqual(['keyVaultSecretsUser']);
    expect(rbac).not.toMatch(/scope: (resourceGroup|subscription)\(\)/);
  });

  it('names each assignment with guid(scope, principal, role)', () => {
    for (const m of rbac.matchAll(/name: guid\((\w+)\.id, (\w+), (\w+)\)/g)) expect(roles.map((r) => r.name)).toContain(m[3]);
    expect([...rbac.matchAll(/name: guid\(/g)]).toHaveLength(assignments.length);
  });
});

describe('resources', () => {
  it('Function App: Flex Consumption, Node 22, system-assigned identity, HTTPS only, TLS 1.2, no FTP or basic auth', () => {
    expect(functionApp).toMatch(/tier: 'FlexConsumption'\s+name: 'FC1'/);
    expect(functionApp).toMatch(/runtime: \{\s+name: 'node'\s+version: '22'/);
    expect(functionApp).toContain("type: 'SystemAssigned'");
    expect(functionApp).toContain('httpsOnly: true');
    expect(functionApp).toContain("minTlsVersion: '1.2'");
    expect(functionApp).toContain("ftpsState: 'Disabled'");
    expect(functionApp.match(/properties: \{ allow: false \}/g)).toHaveLength(2);
  });

  it('Key Vault: RBAC authorization, soft delete, purge protection', () => {
    const vault = read('infra/app/key-vault.bicep');
    for (const p of ['enableRbacAuthorization: true', 'enableSoftDelete: true', 'enablePurgeProtection: true']) expect(vault).toContain(p);
    expect(vault).not.toContain('accessPolicies');
  });

  it('storage: shared-key access off; Application Insights: workspace-based, local auth off', () => {
    expect(read('infra/app/storage.bicep')).toContain('allowSharedKeyAccess: false');
    const monitoring = read('infra/app/monitoring.bicep');
    expect(monitoring).toContain('DisableLocalAuth: true');
    expect(monitoring).toContain('WorkspaceResourceId: logAnalytics.id');
  });

  it('every module main.bicep uses exists, and the workbook it deploys is the built one', () => {
    for (const [, path] of main.matchAll(/module \w+ '([^']+)'/g)) expect(existsSync(resolve(root, 'infra', path!)), path).toBe(true);
    expect(read('infra/app/workbook.bicep')).toContain("loadTextContent('../workbook/tokex-audit.workbook.json')");
  });

  it('main.parameters.json feeds every parameter without a default', () => {
    const params = JSON.parse(read('infra/main.parameters.json')) as { parameters: Record<string, unknown> };
    const required = [...main.matchAll(/^param (\w+) \w+$/gm)].map((m) => m[1]);
    for (const name of required) expect(Object.keys(params.parameters), name).toContain(name);
  });

  it('azure.yaml deploys the project as a function and creates the signing key after provisioning', () => {
    const azd = parse(read('azure.yaml')) as { services: { api: { host: string; project: string } }; hooks: { postprovision: { posix: { run: string } } } };
    expect(azd.services.api).toMatchObject({ host: 'function', project: '.' });
    expect(existsSync(resolve(root, azd.hooks.postprovision.posix.run))).toBe(true);
    expect(main).toContain("'azd-service-name': 'api'");
  });
});

describe('what the Functions host expects', () => {
  const host = JSON.parse(read('host.json')) as { version: string; extensionBundle: { id: string; version: string }; extensions: { http: { routePrefix: string } }; logging: { applicationInsights: { samplingSettings: { excludedTypes: string } } } };
  const pkg = JSON.parse(read('package.json')) as { main: string; type: string; engines: { node: string }; dependencies: Record<string, string> };

  it('host.json: version 2.0, the v4 extension bundle, routePrefix "", audit events never sampled', () => {
    expect(host.version).toBe('2.0');
    expect(host.extensionBundle).toEqual({ id: 'Microsoft.Azure.Functions.ExtensionBundle', version: '[4.*, 5.0.0)' });
    expect(host.extensions.http.routePrefix).toBe('');
    expect(host.logging.applicationInsights.samplingSettings.excludedTypes.split(';')).toContain('Event');
  });

  it('package.json: main is the built entry that registers every route; ESM; Node 20 and 22', () => {
    expect(pkg.main).toBe('dist/functions/index.js');
    expect(existsSync(resolve(root, pkg.main))).toBe(true);
    const entry = read('functions/index.ts');
    expect(entry).toContain('for (const { name, methods, route, handler } of routes)');
    expect(entry).toContain('app.http(name');
    expect(routes.length).toBe(5);
    expect(pkg.type).toBe('module');
    expect(pkg.engines.node).toMatch(/20/);
    expect(pkg.engines.node).toMatch(/22/);
    expect(Object.keys(pkg.dependencies)).toContain('@azure/functions');
  });
});
