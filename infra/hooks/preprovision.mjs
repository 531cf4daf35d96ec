/**
 * azd preprovision hook: gives the environment its Key Vault name suffix the first time it is
 * provisioned; later provisions of the same environment keep it (and so keep the vault).
 */
import { newSuffix, SUFFIX_VARIABLE, setSuffix } from './vault-suffix.mjs';

const current = process.env[SUFFIX_VARIABLE];
if (current && /^[a-z0-9]{6,8}$/.test(current)) {
  process.stdout.write(`Key Vault name suffix: ${current} (kept)\n`);
} else {
  const suffix = newSuffix();
  setSuffix(suffix);
  process.stdout.write(`Key Vault name suffix: ${suffix} (new for this environment)\n`);
}
