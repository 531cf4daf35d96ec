/**
 * Folders depend one way (issue 12): caller/ never imports policy/; client/ imports from shared/
 * only dependency-free modules (node: built-ins at most), so it loads without the server's dependencies.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');
const sources = (dir: string) =>
  readdirSync(join(root, dir))
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(dir, f));
const importsOf = (file: string) => [...readFileSync(join(root, file), 'utf8').matchAll(/^(?:import|export)[^'"]*from '([^']+)'/gm)].map((m) => m[1]!);

it('shared/caller/ imports nothing from shared/policy/', () => {
  const offending = sources('shared/caller').flatMap((f) =>
    importsOf(f)
      .filter((i) => i.includes('/policy/'))
      .map((i) => `${f}: ${i}`),
  );
  expect(offending).toEqual([]);
});

it('client/ imports from shared/ only modules that import nothing but node: built-ins', () => {
  const shared = [
    ...new Set(
      sources('client')
        .flatMap(importsOf)
        .filter((i) => i.startsWith('../shared/')),
    ),
  ];
  expect(shared.sort()).toEqual(['../shared/protocol.js', '../shared/url.js']);
  for (const module of shared) {
    const file = join('client', module).replace(/\.js$/, '.ts');
    expect(
      importsOf(file).filter((i) => !i.startsWith('node:')),
      file,
    ).toEqual([]);
  }
});
