/**
 * Where one run of a `tokex` command reads its settings and relative paths. The `tokex` command
 * passes the process's own (cli/tokex.ts); tests run commands in-process with their own.
 * Not covered: get-token's TOKEX_ENDPOINT and TOKEX_API_SCOPE defaults (commander reads them) and
 * the Azure SDK's credentials, which read the process's environment; and `serve`, a process of its
 * own, which reads local.settings.json, its policy and its keys from the process's working directory.
 */
export interface CliSettings {
  /** PORT, TOKEX_* and the rest; local.settings.json in `cwd` adds what this does not set. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Relative paths (on the command line and in settings) are read from here; messages keep them as given. */
  readonly cwd: string;
}

/** A run's settings and its output. */
export interface CliContext extends CliSettings {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}
