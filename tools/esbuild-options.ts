/**
 * What the two bundles tokex builds with esbuild have in common: the deployed Functions package
 * (tools/package.ts) and the `tokex` command (tools/build-bin.ts). Both are ES modules for Node,
 * split into chunks so that what a run does not use (the Azure SDKs, a command's own modules) is not
 * loaded.
 */
import { dirname } from 'node:path';
import type { BuildOptions, Plugin } from 'esbuild';

// Bundled CommonJS (@azure/functions, the Azure SDKs) calls require(); in an ES module that needs a
// real one. The worker serves @azure/functions-core through Module.prototype.require, which this is.
// Some also read __dirname/__filename (applicationinsights looks for its optional JSON config).
const BANNER = [
  "import { createRequire as __tokexCreateRequire } from 'node:module';",
  "import { fileURLToPath as __tokexFileURLToPath } from 'node:url';",
  'const require = __tokexCreateRequire(import.meta.url);',
  'const __tokexFilename = __tokexFileURLToPath(import.meta.url);',
  "const __tokexDirname = __tokexFileURLToPath(new URL('.', import.meta.url));",
].join(' ');

/**
 * zod offers every language's error messages as `z.locales`: 260 KB of the 470 KB it adds to the
 * entry point, parsed on every start. tokex uses zod's default English only, so the bundle's
 * `z.locales` holds just that.
 */
const zodEnglishOnly: Plugin = {
  name: 'zod-english-only',
  setup(bundle) {
    bundle.onLoad({ filter: /[\\/]zod[\\/]v4[\\/]locales[\\/]index\.js$/ }, (args) => ({
      contents: "export { default as en } from './en.js';",
      resolveDir: dirname(args.path),
      loader: 'js',
    }));
  },
};

/**
 * Entry points and chunks share one folder, so a module's `new URL('./x.js', import.meta.url)`
 * (the Application Insights worker) finds the entry point `x`.
 */
export function bundleOptions(root: string, outdir: string): BuildOptions {
  return {
    absWorkingDir: root,
    outdir,
    entryNames: '[name]',
    chunkNames: 'chunk-[hash]',
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20.19',
    banner: { js: BANNER },
    // Free uses only: a module that declares its own __dirname keeps it.
    define: { __dirname: '__tokexDirname', __filename: '__tokexFilename' },
    plugins: [zodEnglishOnly],
    logLevel: 'warning',
  };
}
