/**
 * azd postdown hook: the vault `azd down` deleted stays soft-deleted, its name reserved, for 90 days
 * (purge protection), so the next `azd up` of this environment must use a new name.
 */
import { newSuffix, setSuffix } from './vault-suffix.mjs';

const suffix = newSuffix();
setSuffix(suffix);
process.stdout.write(`Key Vault name suffix for the next provision: ${suffix} (the deleted vault keeps its name for 90 days)\n`);
