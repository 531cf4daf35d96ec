// Builds tokex-audit.workbook.json from the queries in docs/audit-queries.md (one source for both).
// Run: node infra/workbook/build.mjs
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const doc = readFileSync(join(here, '../../docs/audit-queries.md'), 'utf8');
const sections = [...doc.matchAll(/^## (.+)\n\n(?:[^\n]*\n)*?```kql\n([\s\S]*?)```/gm)].map((m) => ({ title: m[1], query: m[2].trim() }));
const charts = sections.filter((s) => !s.query.includes('<'));
const workbook = {
  version: 'Notebook/1.0',
  items: [
    {
      type: 1,
      name: 'title',
      content: { json: '## tokex audit\nEvery token exchange and credential read, granted or refused. Source: docs/audit-queries.md.' },
    },
    {
      type: 9,
      name: 'time-range',
      content: {
        version: 'KqlParameterItem/1.0',
        parameters: [
          {
            id: 'time-range',
            version: 'KqlParameterItem/1.0',
            name: 'TimeRange',
            type: 4,
            isRequired: true,
            value: { durationMs: 86400000 },
            typeSettings: { selectableValues: [{ durationMs: 3600000 }, { durationMs: 86400000 }, { durationMs: 604800000 }], allowCustom: true },
          },
        ],
        style: 'pills',
        queryType: 0,
        resourceType: 'microsoft.insights/components',
      },
    },
    ...charts.map((s, i) => ({
      type: 3,
      name: `query-${i}`,
      content: {
        version: 'KqlItem/1.0',
        title: s.title,
        query: s.query,
        size: 0,
        timeContext: { durationMs: 86400000 },
        timeContextFromParameter: 'TimeRange',
        queryType: 0,
        resourceType: 'microsoft.insights/components',
        visualization: s.query.includes('render timechart') ? 'timechart' : 'table',
      },
    })),
  ],
  fallbackResourceIds: [],
  $schema: 'https://github.com/Microsoft/Application-Insights-Workbooks/blob/master/schema/workbook.json',
};
writeFileSync(join(here, 'tokex-audit.workbook.json'), `${JSON.stringify(workbook, null, 2)}\n`);
console.log(`wrote ${charts.length} charts`);
