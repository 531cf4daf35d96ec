/**
 * infra/ compiled by the real Bicep CLI (scripts/bicep.mjs: the NuGet package, `bicep build` and
 * `bicep lint`, warnings as errors), then the ARM template checked against the code: every setting
 * the code needs in Azure is set, every role its calls need is assigned at the narrowest scope (and
 * nothing broader on the vault), and the resources keep their hardening. host.json/package.json are checked as the host reads them.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createRoutes } from '../../functions/routes.js';
import { ConfigError } from '../../shared/errors.js';
import { loadSettings } from '../../shared/settings.js';
import { type ArmContext, evaluate } from './arm-expressions.js';

const root = resolve(import.meta.dirname, '../..');
const read = (path: string) => readFileSync(resolve(root, path), 'utf8');

interface Resource {
  type: string;
  name: string;
  condition?: string;
  scope?: string;
  tags?: unknown;
  kind?: string;
  sku?: Record<string, unknown>;
  identity?: unknown;
  // biome-ignore lint/suspicious/noExplicitAny: compiled ARM JSON, whose shape the assertions check
  properties: Record<string, any>;
}
interface Template {
  parameters: Record<string, { type: string; defaultValue?: unknown; allowedValues?: string[]; minLength?: number; maxLength?: number }>;
  variables: Record<string, unknown>;
  resources: Resource[];
  outputs: Record<string, { type: string; value: unknown }>;
}

let main: Template;

/** The nested deployment (module) `name` of main.bicep, and its template. */
const module = (name: string) => {
  const deployment = main.resources.find((r) => r.type === 'Microsoft.Resources/deployments' && r.name === name);
  if (!deployment) throw new Error(`main.bicep has no module ${name}`);
  return { deployment, template: deployment.properties.template as Template };
};
const resourcesOf = (name: string, type: string) => module(name).template.resources.filter((r) => r.type === type);

/** Sample values for main.bicep's parameters and its modules' outputs: what azd and ARM would supply. */
const context = (): ArmContext => ({
  parameters: {
    environmentName: 'tokex-test',
    location: 'westeurope',
    keyVaultNameSuffix: 'x7k2q9',
    tokexApiClientId: '11111111-1111-1111-1111-111111111111',
    tokexApiAppIdUri: 'api://tokex',
    callerTenantId: '22222222-2222-2222-2222-222222222222',
    policyFile: 'policy.yaml',
    signingKeySecretName: 'tokex-signing',
    auditRequired: false,
    createUserAssignedIdentity: false,
    deployerPrincipalId: '',
  },
  variables: main.variables,
  outputs: {
    keyVault: { uri: 'https://kv-abcdefghijklmx7k2q9.vault.azure.net/', name: 'kv-abcdefghijklmx7k2q9' },
    monitoring: {
      connectionString: 'InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/',
      applicationInsightsName: 'appi-x',
      applicationInsightsId: '/x',
    },
    storage: { name: 'stabcdefghijklm', deploymentContainerUrl: 'https://stabcdefghijklm.blob.core.windows.net/app-package-abcdefg' },
    api: { principalId: '33333333-3333-3333-3333-333333333333', name: 'func-tokex-abcdefghijklm', uri: 'https://func-tokex-abcdefghijklm.azurewebsites.net' },
  },
});

/** Runs scripts/bicep.mjs, which restores the CLI on first use (about 10-45 s; .ci/run does it first). */
function bicepScript(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [join(root, 'scripts/bicep.mjs'), ...args], { timeout: 600_000 }, (error, stdout, stderr) =>
      done({ code: error ? 1 : 0, stdout, stderr }),
    );
  });
}

/** A file that breaks a linter rule (raised to error by infra/bicepconfig.json) and has a compiler warning. */
const BAD = `param unused string
param location string

resource vault 'Microsoft.KeyVault/vaults@2026-05-15' = {
  name: 'kv-bad'
  location: location
  properties: {
    tenantId: tenant().tenantId
    sku: { family: 'A', name: 'standard' }
    notAProperty: true
  }
}
`;
let bad: string;
/** One run of the script for both files (checked side by side). */
let built: { code: number; stdout: string; stderr: string };

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tokex-bicep-bad-'));
  copyFileSync(join(root, 'infra/bicepconfig.json'), join(dir, 'bicepconfig.json'));
  bad = join(dir, 'bad.bicep');
  writeFileSync(bad, BAD);
  const outdir = mkdtempSync(join(tmpdir(), 'tokex-bicep-'));
  built = await bicepScript(['--outdir', outdir, join(root, 'infra/main.bicep'), bad]);
  if (!existsSync(join(outdir, 'main.json')))
    throw new Error(`scripts/bicep.mjs failed (Bicep CLI: NuGet package Azure.Bicep.CommandLine.linux-x64):\n${built.stderr}${built.stdout}`);
  main = JSON.parse(readFileSync(join(outdir, 'main.json'), 'utf8')) as Template;
}, 660_000);

describe('compiled by the Bicep CLI', () => {
  it('main.bicep builds and lints with no errors or warnings', () => {
    expect(built.stdout).toContain(`bicep 0.49.2: ${join(root, 'infra/main.bicep')} builds and lints with no errors or warnings`);
    expect(built.stderr).not.toContain('main.bicep');
  });

  it('fails on a linter rule (raised to error by infra/bicepconfig.json) and on a compiler warning', () => {
    expect(built.code).toBe(1);
    expect(built.stdout).not.toContain(bad);
    expect(built.stderr).toContain(`BICEP_DIAGNOSTICS: bicep 0.49.2 reports 2 problem(s) in ${bad}`);
    expect(built.stderr).toMatch(/bad\.bicep\(1,7\) : Error no-unused-params: /);
    expect(built.stderr).toMatch(/bad\.bicep\(10,5\) : Warning BCP037: The property "notAProperty" is not allowed/);
  });

  it('deploys at subscription scope: one resource group, then every module into it', () => {
    const groups = main.resources.filter((r) => r.type === 'Microsoft.Resources/resourceGroups');
    expect(groups).toHaveLength(1);
    expect(
      main.resources
        .filter((r) => r.type === 'Microsoft.Resources/deployments')
        .map((r) => r.name)
        .sort(),
    ).toEqual(['api', 'keyVault', 'monitoring', 'rbac', 'storage', 'userIdentity', 'workbook']);
    expect(module('userIdentity').deployment.condition).toBe("[parameters('createUserAssignedIdentity')]");
  });
});

describe('settings', () => {
  let settings: Record<string, string>;
  beforeAll(() => {
    const ctx = context();
    const fromMain = evaluate(ctx, module('api').deployment.properties.parameters.appSettings.value) as Record<string, string>;
    // function-app.bicep adds the host storage settings to the ones main.bicep passes.
    const config = resourcesOf('api', 'Microsoft.Web/sites/config')[0]!;
    expect(config.name).toContain("'appsettings'");
    expect(config.properties).toBe(
      "[union(parameters('appSettings'), createObject('AzureWebJobsStorage__accountName', parameters('storageAccountName'), 'AzureWebJobsStorage__credential', 'managedidentity'))]",
    );
    settings = { ...fromMain, AzureWebJobsStorage__accountName: 'stabcdefghijklm', AzureWebJobsStorage__credential: 'managedidentity' };
  });

  it('main.bicep sets everything the code requires in Azure: loadSettings accepts exactly these', () => {
    const loaded = loadSettings(settings, 'azure');
    expect(loaded).toMatchObject({
      mode: 'azure',
      issuer: 'https://func-tokex-abcdefghijklm.azurewebsites.net',
      signingKeySecret: 'kv:tokex-signing',
      keyVaultUrl: 'https://kv-abcdefghijklmx7k2q9.vault.azure.net/',
      policyPath: 'policy.yaml',
      auditRequired: false,
    });
    expect(loaded.appInsightsConnectionString).toContain('InstrumentationKey=');
  });

  it('each required one, removed, stops startup naming it', () => {
    for (const name of ['TOKEX_ISSUER', 'TOKEX_SIGNING_KEY', 'KEY_VAULT_URL']) {
      const { [name]: _, ...without } = settings;
      expect(() => loadSettings(without, 'azure')).toThrow(ConfigError);
      expect(() => loadSettings(without, 'azure')).toThrow(new RegExp(`^(${name}|KEY_VAULT_URL): `));
    }
  });

  it("TOKEX_ISSUER is the address the app gets, and KEY_VAULT_URL the vault module's own uri", () => {
    expect(settings.TOKEX_ISSUER).toBe(context().outputs.api!.uri);
    expect(module('api').deployment.properties.parameters.appSettings.value.KEY_VAULT_URL).toMatch(/'keyVault'\), '[\d-]+'\)\.outputs\.uri\.value\]$/);
    expect(module('keyVault').template.outputs.uri!.value).toBe(
      "[reference(resourceId('Microsoft.KeyVault/vaults', parameters('name')), '2026-05-15').vaultUri]",
    );
  });

  it("every TOKEX_* setting the code reads is set (TOKEX_LOCAL_DIR is the local host's only; TOKEX_PUBLISH_SCOPES an opt-in whose default is the deployed behaviour)", () => {
    const used = new Set([...read('shared/settings.ts').matchAll(/get\('(TOKEX_\w+)'\)/g)].map((m) => m[1]));
    used.delete('TOKEX_LOCAL_DIR');
    used.delete('TOKEX_PUBLISH_SCOPES');
    expect(used.size).toBeGreaterThanOrEqual(5);
    for (const name of used) expect(Object.keys(settings), name).toContain(name);
  });

  it('the policy example only references settings main.bicep sets', () => {
    const refs = [...read('policy.example.yaml').matchAll(/\$\{(TOKEX_\w+)\}/g)].map((m) => m[1]);
    expect(refs.length).toBeGreaterThan(0);
    for (const name of refs) expect(Object.keys(settings), name).toContain(name);
  });

  it('host storage and Application Insights are reached through the managed identity, with no keys', () => {
    expect(settings).toMatchObject({ AzureWebJobsStorage__credential: 'managedidentity', APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD' });
    expect(Object.keys(settings)).not.toContain('AzureWebJobsStorage');
  });
});

describe('role assignments', () => {
  const roles = {
    storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
    keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6',
    monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb',
    keyVaultSecretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7',
  };
  const assignments = () =>
    resourcesOf('rbac', 'Microsoft.Authorization/roleAssignments').map((r) => {
      const variable = /variables\('(\w+)'\)\)\]$/.exec(r.properties.roleDefinitionId as string)![1]!;
      return {
        scope: r.scope,
        role: (module('rbac').template.variables as Record<string, string>)[variable],
        principal: r.properties.principalId,
        name: r.name,
        principalType: r.properties.principalType,
        condition: r.condition,
        roleDefinitionId: r.properties.roleDefinitionId,
      };
    });

  it('grants what the code calls need, to the app identity, at the narrowest scope, named guid(scope, principal, role)', () => {
    const app = "[parameters('principalId')]";
    const expected = [
      // AzureWebJobsStorage with credential=managedidentity, and the Flex deployment container
      {
        scope: "[resourceId('Microsoft.Storage/storageAccounts', parameters('storageAccountName'))]",
        role: roles.storageBlobDataOwner,
        variable: 'storageBlobDataOwner',
      },
      // SecretClient.getSecret / listPropertiesOfSecretVersions (credentials, SP secrets, signing key)
      { scope: "[resourceId('Microsoft.KeyVault/vaults', parameters('keyVaultName'))]", role: roles.keyVaultSecretsUser, variable: 'keyVaultSecretsUser' },
      // Entra-authenticated ingestion (Application Insights with DisableLocalAuth)
      {
        scope: "[resourceId('Microsoft.Insights/components', parameters('applicationInsightsName'))]",
        role: roles.monitoringMetricsPublisher,
        variable: 'monitoringMetricsPublisher',
      },
    ];
    const found = assignments();
    for (const e of expected) {
      const a = found.find((x) => x.role === e.role && x.principal === app);
      expect(a, e.variable).toMatchObject({ scope: e.scope, principalType: 'ServicePrincipal', condition: undefined });
      expect(a!.name).toBe(`[guid(${e.scope.slice(1, -1)}, parameters('principalId'), variables('${e.variable}'))]`);
      expect(a!.roleDefinitionId).toBe(`[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', variables('${e.variable}'))]`);
    }
  });

  it("the rbac module is given the app's principal and the resources main.bicep created", () => {
    const params = module('rbac').deployment.properties.parameters as Record<string, { value: string }>;
    expect(params.principalId!.value).toMatch(/'api'\), '[\d-]+'\)\.outputs\.principalId\.value\]$/);
    expect(params.storageAccountName!.value).toMatch(/'storage'\), '[\d-]+'\)\.outputs\.name\.value\]$/);
    expect(params.keyVaultName!.value).toMatch(/'keyVault'\), '[\d-]+'\)\.outputs\.name\.value\]$/);
    expect(params.applicationInsightsName!.value).toMatch(/'monitoring'\), '[\d-]+'\)\.outputs\.applicationInsightsName\.value\]$/);
    expect(module('api').template.outputs.principalId!.value).toBe(
      "[reference(resourceId('Microsoft.Web/sites', parameters('name')), '2025-03-01', 'full').identity.principalId]",
    );
  });

  it('gives the app identity nothing broader than Key Vault Secrets User on the vault; the deployer Secrets Officer, only when named', () => {
    const found = assignments();
    expect(found).toHaveLength(4);
    const onVault = found.filter((a) => a.scope!.includes('Microsoft.KeyVault/vaults'));
    expect(onVault.filter((a) => a.principal === "[parameters('principalId')]").map((a) => a.role)).toEqual([roles.keyVaultSecretsUser]);
    expect(onVault.filter((a) => a.principal === "[parameters('deployerPrincipalId')]")).toEqual([
      expect.objectContaining({ role: roles.keyVaultSecretsOfficer, condition: "[not(empty(parameters('deployerPrincipalId')))]" }),
    ]);
    for (const a of found) expect(a.scope).toMatch(/^\[resourceId\('Microsoft\.(Storage|KeyVault|Insights)\//);
  });
});

describe('resources', () => {
  it('Function App: Flex Consumption, Node 22, system-assigned identity, HTTPS only, TLS 1.2, no FTP or basic auth', () => {
    const plan = resourcesOf('api', 'Microsoft.Web/serverfarms')[0]!;
    expect(plan.sku).toEqual({ tier: 'FlexConsumption', name: 'FC1' });
    expect(plan.properties.reserved).toBe(true);
    const site = resourcesOf('api', 'Microsoft.Web/sites')[0]!;
    expect(site.kind).toBe('functionapp,linux');
    expect(site.properties.functionAppConfig.runtime).toEqual({ name: 'node', version: '22' });
    expect(site.properties.functionAppConfig.deployment.storage.authentication).toEqual({ type: 'SystemAssignedIdentity' });
    expect(site.identity).toMatch(/^\[if\(empty\(parameters\('userAssignedIdentityId'\)\), createObject\('type', 'SystemAssigned'\)/);
    expect(site.properties).toMatchObject({ httpsOnly: true, siteConfig: { minTlsVersion: '1.2', scmMinTlsVersion: '1.2', ftpsState: 'Disabled' } });
    const basic = resourcesOf('api', 'Microsoft.Web/sites/basicPublishingCredentialsPolicies');
    expect(basic.map((r) => [r.name, r.properties])).toEqual([
      ["[format('{0}/{1}', parameters('name'), 'ftp')]", { allow: false }],
      ["[format('{0}/{1}', parameters('name'), 'scm')]", { allow: false }],
    ]);
  });

  it('tags: azd-env-name on the resource group and every resource; azd-service-name: api on the Function App alone', () => {
    const ctx = context();
    const envTag = { 'azd-env-name': 'tokex-test' };
    expect(evaluate(ctx, main.resources.find((r) => r.type === 'Microsoft.Resources/resourceGroups')!.tags)).toEqual(envTag);
    for (const name of ['monitoring', 'storage', 'keyVault', 'userIdentity', 'api', 'workbook']) {
      expect(evaluate(ctx, module(name).deployment.properties.parameters.tags.value), name).toEqual(envTag);
      for (const r of module(name).template.resources.filter((x) => x.tags !== undefined)) {
        expect(r.tags, `${name}: ${r.type}`).toBe(
          r.type === 'Microsoft.Web/sites' ? "[union(parameters('tags'), parameters('serviceTags'))]" : "[parameters('tags')]",
        );
      }
    }
    expect(module('api').deployment.properties.parameters.serviceTags.value).toEqual({ 'azd-service-name': 'api' });
    const tagged = main.resources
      .flatMap((r) => (r.type === 'Microsoft.Resources/deployments' ? (r.properties.template as Template).resources : [r]))
      .filter((r) => typeof r.tags === 'string' && r.tags.includes('serviceTags'));
    expect(tagged.map((r) => r.type)).toEqual(['Microsoft.Web/sites']);
  });

  it('Key Vault: RBAC authorization, soft delete, purge protection; its name carries the per-environment suffix', () => {
    const vault = resourcesOf('keyVault', 'Microsoft.KeyVault/vaults')[0]!;
    expect(vault.properties).toMatchObject({
      enableRbacAuthorization: true,
      enableSoftDelete: true,
      softDeleteRetentionInDays: 90,
      enablePurgeProtection: true,
    });
    expect(vault.properties).not.toHaveProperty('accessPolicies');
    const name = evaluate(context(), module('keyVault').deployment.properties.parameters.name.value) as string;
    expect(name).toBe('kv-abcdefghijklmx7k2q9');
    expect(main.parameters.keyVaultNameSuffix).toMatchObject({ type: 'string', minLength: 6, maxLength: 8 });
    expect(main.parameters.keyVaultNameSuffix!.defaultValue).toBeUndefined();
    // Key Vault names: 3-24 characters; 'kv-' + a 13-character token + at most 8.
    expect(3 + 13 + main.parameters.keyVaultNameSuffix!.maxLength!).toBeLessThanOrEqual(24);
  });

  it('storage: shared-key and public blob access off, TLS 1.2; Application Insights: workspace-based, local auth off', () => {
    const account = resourcesOf('storage', 'Microsoft.Storage/storageAccounts')[0]!;
    expect(account.properties).toMatchObject({
      allowSharedKeyAccess: false,
      allowBlobPublicAccess: false,
      minimumTlsVersion: 'TLS1_2',
      supportsHttpsTrafficOnly: true,
    });
    const insights = resourcesOf('monitoring', 'Microsoft.Insights/components')[0]!;
    expect(insights.properties).toMatchObject({
      DisableLocalAuth: true,
      WorkspaceResourceId: "[resourceId('Microsoft.OperationalInsights/workspaces', parameters('logAnalyticsName'))]",
    });
  });

  it('the workbook deployed is the built one', () => {
    const workbook = resourcesOf('workbook', 'Microsoft.Insights/workbooks')[0]!;
    // loadTextContent() compiles into a variable of the module holding the file's text.
    const data = evaluate({ ...context(), variables: module('workbook').template.variables }, workbook.properties.serializedData);
    expect(data).toBe(read('infra/workbook/tokex-audit.workbook.json'));
  });

  it('location: only Flex Consumption regions', () => {
    const allowed = main.parameters.location!.allowedValues!;
    expect(allowed).toEqual(expect.arrayContaining(['eastus', 'westeurope', 'swedencentral', 'australiaeast']));
    expect(allowed).not.toContain('eastus2euap');
    expect(allowed.length).toBeGreaterThanOrEqual(30);
  });

  it('main.parameters.json feeds every parameter without a default, and nothing else', () => {
    const params = JSON.parse(read('infra/main.parameters.json')) as { parameters: Record<string, unknown> };
    const required = Object.entries(main.parameters)
      .filter(([, p]) => p.defaultValue === undefined)
      .map(([name]) => name);
    for (const name of required) expect(Object.keys(params.parameters), name).toContain(name);
    for (const name of Object.keys(params.parameters)) expect(Object.keys(main.parameters), name).toContain(name);
  });

  it('outputs: what the hooks and the README read from the azd environment, and no secret', () => {
    for (const name of ['KEY_VAULT_NAME', 'KEY_VAULT_URL', 'TOKEX_SIGNING_KEY_SECRET', 'TOKEX_TENANT_ID', 'SERVICE_API_URI', 'TOKEX_PRINCIPAL_ID'])
      expect(Object.keys(main.outputs)).toContain(name);
    for (const [name, output] of Object.entries(main.outputs)) expect(output.type, name).toBe('string');
  });
});

describe('azure.yaml', () => {
  const azd = parse(read('azure.yaml')) as {
    services: { api: { host: string; project: string } };
    hooks: Record<string, Record<'posix' | 'windows', { run: string; shell: string }>>;
  };

  it('deploys the project as a function; hooks run the Node scripts in infra/hooks/ on every OS', () => {
    expect(azd.services.api).toMatchObject({ host: 'function', project: '.' });
    expect(Object.keys(azd.hooks).sort()).toEqual(['postdown', 'postprovision', 'predeploy', 'preprovision']);
    for (const [name, hook] of Object.entries(azd.hooks)) {
      expect(hook.posix, name).toEqual({ shell: 'sh', run: `node infra/hooks/${name}.mjs` });
      expect(hook.windows, name).toEqual({ shell: 'pwsh', run: `node infra/hooks/${name}.mjs` });
      expect(existsSync(resolve(root, `infra/hooks/${name}.mjs`)), name).toBe(true);
    }
  });
});

describe('what the Functions host expects', () => {
  const host = JSON.parse(read('host.json')) as {
    version: string;
    extensionBundle: { id: string; version: string };
    extensions: { http: { routePrefix: string } };
    logging: { applicationInsights: { samplingSettings: { excludedTypes: string } } };
  };
  const pkg = JSON.parse(read('package.json')) as { main: string; type: string; engines: { node: string }; dependencies: Record<string, string> };

  it('host.json: version 2.0, the v4 extension bundle, routePrefix "", audit events never sampled', () => {
    expect(host.version).toBe('2.0');
    expect(host.extensionBundle).toEqual({ id: 'Microsoft.Azure.Functions.ExtensionBundle', version: '[4.*, 5.0.0)' });
    expect(host.extensions.http.routePrefix).toBe('');
    expect(host.logging.applicationInsights.samplingSettings.excludedTypes.split(';')).toContain('Event');
  });

  it('package.json: main is the built entry that registers every route; ESM; Node 22', () => {
    expect(existsSync(resolve(root, pkg.main))).toBe(true);
    expect(createRoutes({ tokex: () => Promise.reject(new Error('not started')) }).length).toBe(5);
    expect(pkg.type).toBe('module');
    expect(pkg.engines.node).toMatch(/22/);
    expect(Object.keys(pkg.dependencies)).toContain('@azure/functions');
  });
});
