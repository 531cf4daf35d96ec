/** The policy in docs/azure-ml.md, assembled from its blocks in order, loads, and each workflow's caller gets its rule. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parsePolicy } from '../../shared/policy/load.js';
import { rulesFor, tokenGrantFor } from '../../shared/policy/match.js';

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const SCHEDULER = '11111111-2222-3333-4444-555555555555';
const TRAINING = '99999999-8888-7777-6666-555555555555';
const USER = 'aaaaaaaa-0000-0000-0000-000000000001';
const CLI_APP = '04b07795-8ddb-461a-bbee-02f9e1bf7b46';

const doc = readFileSync(resolve(import.meta.dirname, '../../docs/azure-ml.md'), 'utf8');
const blocks = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);
const text = blocks
  .join('')
  .replaceAll('<tenant-guid>', TENANT)
  .replaceAll('<client id of id-ml-runner>', '0a0a0a0a-0000-0000-0000-000000000000')
  .replaceAll('<client id>', SCHEDULER)
  .replaceAll('<principal id of id-training>', TRAINING)
  .replaceAll('<user oid>', USER)
  .replace(/<[^>\n]+>/g, 'placeholder');
const policy = parsePolicy(text, 'docs/azure-ml.md', { ownIssuer: 'https://tokex.example', mode: 'azure' });
const issuer = `https://login.microsoftonline.com/${TENANT}/v2.0`;
const rulesOf = (claims: Record<string, unknown>) => rulesFor(policy, 'corp', { iss: issuer, tid: TENANT, ...claims }).map((r) => r.name);

describe('docs/azure-ml.md', () => {
  it('its YAML blocks make one policy that loads', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(5);
    expect(policy.rules.map((r) => r.name)).toEqual(['data-scientists', 'nightly-scheduler', 'cli-sessions', 'training-cluster']);
  });

  it("each workflow's caller matches its own rule and no other", () => {
    expect(rulesOf({ oid: 'someone', scp: 'access_as_user', roles: ['Jobs.Train'], azp: 'notebook-app' })).toEqual(['data-scientists']);
    expect(rulesOf({ oid: 'sp', idtyp: 'app', azp: SCHEDULER, roles: ['Jobs.Train'] })).toEqual(['nightly-scheduler']);
    expect(rulesOf({ oid: USER, scp: 'access_as_user', azp: CLI_APP })).toEqual(['cli-sessions']);
    expect(
      rulesOf({
        oid: TRAINING,
        idtyp: 'app',
        roles: ['Jobs.Train'],
        xms_mirid: '/subscriptions/s/resourcegroups/r/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-training',
      }),
    ).toEqual(['training-cluster']);
    // The managed identity's object id on a plain app token (no xms_mirid) is not the cluster.
    expect(rulesOf({ oid: TRAINING, idtyp: 'app', roles: ['Jobs.Train'] })).toEqual([]);
    const cluster = rulesFor(policy, 'corp', { oid: TRAINING, roles: ['Jobs.Train'], xms_mirid: 'x' });
    expect(tokenGrantFor(cluster, 'https://ml.azure.com')?.grant).toMatchObject({ kind: 'entra', identity: 'ml-runner' });
  });
});
