/**
 * `node dist/bench/profile-top.js <file.cpuprofile> [n]`: the functions with the most self time in a
 * V8 CPU profile (node --cpu-prof), as a table: what the bench's server spent its CPU on.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
const [file, count = '25'] = process.argv.slice(2);
if (file === undefined) throw new Error('usage: profile-top <file.cpuprofile> [n]');
const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes: Node[]; samples: number[] };
const hits = new Map<string, number>();
for (const node of profile.nodes) {
  const { functionName, url, lineNumber } = node.callFrame;
  const where = url ? `${basename(url)}:${lineNumber + 1}` : '';
  const name = `${functionName || '(anonymous)'} ${where}`.trim();
  hits.set(name, (hits.get(name) ?? 0) + (node.hitCount ?? 0));
}
const total = [...hits.values()].reduce((a, b) => a + b, 0);
for (const [name, n] of [...hits].sort((a, b) => b[1] - a[1]).slice(0, Number(count))) {
  console.log(`${((n / total) * 100).toFixed(1).padStart(5)} %  ${name}`);
}
