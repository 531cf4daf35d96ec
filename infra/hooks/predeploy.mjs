/**
 * azd predeploy hook: checks the policy being deployed as the Functions host will load it, so a bad
 * policy stops the deployment here instead of the app at startup.
 * The deployed policy is TOKEX_POLICY_FILE (default policy.yaml) at the project root; its ${TOKEX_*}
 * references get the values main.bicep gives the app settings.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const file = process.env.TOKEX_POLICY_FILE || 'policy.yaml';
const cli = 'dist/bin/tokex.js';
if (!existsSync(file)) {
  process.stderr.write(`predeploy: the policy file ${file} does not exist (TOKEX_POLICY_FILE, default policy.yaml; start from policy.example.yaml)\n`);
  process.exit(1);
}
if (!existsSync(cli)) {
  process.stderr.write(`predeploy: ${cli} is missing: run \`npm ci && npm run build\` first\n`);
  process.exit(1);
}
const env = {
  ...process.env,
  TOKEX_API_APP_ID_URI: process.env.TOKEX_API_APP_ID_URI || 'api://tokex',
  // main.bicep's callerTenantId (output TOKEX_TENANT_ID), which defaults to the deployment's tenant.
  TOKEX_TENANT_ID: process.env.TOKEX_TENANT_ID || process.env.AZURE_TENANT_ID || '',
};
const result = spawnSync(process.execPath, [cli, 'policy', 'check', '--azure', file], { env, stdio: 'inherit' });
process.exit(result.status ?? 1);
