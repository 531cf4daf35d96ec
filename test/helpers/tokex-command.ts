import { readFileSync } from 'node:fs';
import { runTokex } from '../../cli/program.js';

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

export interface CommandRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs a `tokex` command line in this process: the code the built command runs (cli/program.ts),
 * without a Node start and the command's module loading per run. `env` is every setting it sees (not
 * this process's environment); relative paths are read from `cwd`. The built command itself is run
 * by the tests of its wiring (exit codes, the README's commands, the packed bin).
 */
export async function tokexCommand(args: readonly string[], where: { cwd: string; env?: Record<string, string> }): Promise<CommandRun> {
  let stdout = '';
  let stderr = '';
  const code = await runTokex(
    args,
    {
      cwd: where.cwd,
      env: where.env ?? {},
      out: (text) => {
        stdout += text;
      },
      err: (text) => {
        stderr += text;
      },
    },
    version,
  );
  return { code, stdout, stderr };
}
