import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const read = (path: string) => readFileSync(resolve(root, path), 'utf8');

it('the workbook holds exactly the chartable queries of docs/audit-queries.md (run infra/workbook/build.mjs after editing)', () => {
  const doc = read('docs/audit-queries.md');
  const queries = [...doc.matchAll(/```kql\n([\s\S]*?)```/g)].map((m) => m[1]!.trim()).filter((q) => !q.includes('<'));
  const workbook = JSON.parse(read('infra/workbook/tokex-audit.workbook.json')) as { items: { type: number; content: { query?: string } }[] };
  expect(workbook.items.filter((i) => i.type === 3).map((i) => i.content.query)).toEqual(queries);
  expect(queries).toHaveLength(5);
});

it('every property a query reads is a field the audit record has', () => {
  const doc = read('docs/audit-queries.md');
  const fields = new Set([...doc.matchAll(/customDimensions(?:\.(\w+)|\["([\w.]+)"\])/g)].map((m) => m[1] ?? m[2]));
  const known = [
    'outcome',
    'reason',
    'rule',
    'subjectTokenId',
    'caller.objectId',
    'caller.subject',
    'caller.tenantId',
    'caller.issuer',
    'caller.kind',
    'request.target',
  ];
  expect([...fields].sort()).toEqual([...known].sort());
});
