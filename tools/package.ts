/**
 * `npm run package`: builds exactly what azd deploys (azure.yaml `dist: dist/package`) and its zip.
 * The Functions entry point and the Application Insights worker are bundled with esbuild into a
 * few ES modules with no node_modules: the SDKs loaded on first use (@azure/identity,
 * @azure/keyvault-secrets, applicationinsights) stay separate chunks, so loading the entry point
 * does not load them. `@azure/functions-core` is left out: the Node.js worker injects it at run time.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { build } from 'esbuild';
import { zipSync } from 'fflate';
import ignore from 'ignore';
import { bundleOptions } from './esbuild-options.js';
import { otelExportersLeftOut } from './otel-exporters-left-out.js';

export interface PackageResult {
  /** The folder azd zips. */
  readonly dir: string;
  readonly zip: string;
  /** esbuild's metafile: which output holds which input. */
  readonly meta: string;
  /** Files azd keeps after `.funcignore`, as paths relative to `dir`, sorted. */
  readonly files: readonly string[];
  readonly bytes: number;
  readonly zipBytes: number;
}

/** A fixed time for every zip entry (local time, as zip stores it), so the same input gives the same bytes. */
const ZIP_TIME = new Date(1980, 0, 1, 0, 0, 0);

export async function buildPackage(root: string, out = join(root, 'dist/package'), env: NodeJS.ProcessEnv = process.env): Promise<PackageResult> {
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const options = bundleOptions(root, out);
  const result = await build({
    ...options,
    plugins: [...(options.plugins ?? []), otelExportersLeftOut],
    entryPoints: { index: 'functions/index.ts', 'app-insights-worker': 'shared/audit/app-insights-worker.ts' },
    external: ['@azure/functions-core'],
    minify: true,
    // Error and class names are what tokex logs (never messages): keep them readable.
    keepNames: true,
    legalComments: 'eof',
    metafile: true,
  });
  // Which bundle file holds which module: for the test that keeps the Azure SDKs out of the entry point.
  writeFileSync(join(dirname(out), 'package.meta.json'), JSON.stringify(result.metafile));

  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name: string; version: string };
  // Azure runs Node 22 (infra sets it); the source tree also admits 20 only because CI runs the suite there.
  const manifest = { name: pkg.name, version: pkg.version, private: true, type: 'module', main: 'index.js', engines: { node: '>=22.12' } };
  writeFileSync(join(out, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  copyFileSync(join(root, 'host.json'), join(out, 'host.json'));
  // azd reads .funcignore from the folder it zips.
  copyFileSync(join(root, '.funcignore'), join(out, '.funcignore'));
  const policy = env.TOKEX_POLICY_FILE?.trim() || 'policy.yaml';
  if (existsSync(join(root, policy))) {
    mkdirSync(dirname(join(out, policy)), { recursive: true });
    copyFileSync(join(root, policy), join(out, policy));
  } else {
    console.warn(`package: no ${policy} (TOKEX_POLICY_FILE) to include; the deployed app will not start without a policy`);
  }

  const files = keptByFuncignore(out);
  const entries: Record<string, [Uint8Array, { mtime: Date; level: 9 }]> = {};
  let bytes = 0;
  for (const file of files) {
    const data = readFileSync(join(out, file));
    bytes += data.byteLength;
    entries[file] = [data, { mtime: ZIP_TIME, level: 9 }];
  }
  const zip = join(dirname(out), 'package.zip');
  const zipped = zipSync(entries);
  writeFileSync(zip, zipped);
  return { dir: out, zip, meta: join(dirname(out), 'package.meta.json'), files, bytes, zipBytes: zipped.byteLength };
}

/** Every file under `dir` that `.funcignore` keeps, with gitignore semantics (as azd applies them). */
export function keptByFuncignore(dir: string): string[] {
  const rules = ignore().add(existsSync(join(dir, '.funcignore')) ? readFileSync(join(dir, '.funcignore'), 'utf8') : '');
  const kept: string[] = [];
  const walk = (folder: string) => {
    for (const name of readdirSync(folder).sort()) {
      const path = join(folder, name);
      const rel = relative(dir, path).split(sep).join('/');
      const isDir = statSync(path).isDirectory();
      if (rules.ignores(isDir ? `${rel}/` : rel)) continue;
      if (isDir) walk(path);
      else kept.push(rel);
    }
  };
  walk(dir);
  return kept.sort();
}

const isMain = process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(import.meta.filename);
if (isMain) {
  const root = resolve(import.meta.dirname, '../..');
  const out = process.argv[2] === undefined ? undefined : resolve(process.argv[2]);
  const result = await buildPackage(root, out);
  const kib = (n: number) => `${(n / 1024).toFixed(0)} KiB`;
  console.log(
    `package: ${relative(root, result.dir) || result.dir} (${result.files.length} files, ${kib(result.bytes)}); ${relative(root, result.zip)} (${kib(result.zipBytes)})`,
  );
}
