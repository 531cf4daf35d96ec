import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { ConfigError, TokexError } from '../shared/errors.js';
import { DURATION, seconds } from '../shared/policy/duration.js';
import type { CliContext } from './context.js';

// Each command imports what it needs when it runs (import() in its action), not at startup: `serve`
// loads the host and the core, `policy check` the loader, `--help` and `--version` next to nothing.
// Every CLI process is spawned anew (by users and scripts), so this is its start-up time.

/**
 * Runs one `tokex` command line (the arguments after `tokex`) with `ctx`'s settings and output;
 * resolves to its exit code: 0, 1 for a refusal, a bad setting or a usage error (commander's message,
 * then the help), or the command's own (get-token: 2 refused, 3 unavailable). `serve` resolves once
 * it listens, and keeps serving. Anything else (a bug) rejects. `version` is what --version prints.
 */
export async function runTokex(args: readonly string[], ctx: CliContext, version: string): Promise<number> {
  const outcome = { exitCode: 0 };
  try {
    await createProgram(ctx, version, outcome).parseAsync(args, { from: 'user' });
    return outcome.exitCode;
  } catch (err) {
    // --help and --version (exit code 0) too: commander has written what it had to.
    if (err instanceof CommanderError) return err.exitCode;
    if (err instanceof ConfigError || err instanceof TokexError) {
      ctx.err(`tokex: ${err instanceof TokexError ? err.detail : err.message}\n`);
      return 1;
    }
    throw err;
  }
}

function createProgram(ctx: CliContext, version: string, outcome: { exitCode: number }): Command {
  const program = new Command()
    .name('tokex')
    .version(version, '-V, --version', 'print the tokex version')
    .description('tokex: RFC 8693 token exchange for Azure. Local host, development tokens and policy tools.')
    .showHelpAfterError()
    // Set before the commands are added: each inherits them. Commander's errors, --help and --version
    // come back as a CommanderError (see runTokex) instead of ending the process.
    .exitOverride()
    .configureOutput({ writeOut: ctx.out, writeErr: ctx.err });

  program
    .command('serve')
    .description('serve the Functions handlers locally (settings: environment, then local.settings.json)')
    .option('--port <port>', 'listen on this port (PORT, default 7071)')
    .option('--host <address>', 'bind to this address (HOST, default 127.0.0.1)')
    .option('--policy <file>', 'policy file (TOKEX_POLICY, default policy.dev.yaml)')
    .action(async (opts: { port?: string; host?: string; policy?: string }) => {
      const { loadSettings, withLocalSettings } = await import('../shared/settings.js');
      const env = {
        ...ctx.env,
        ...(opts.port !== undefined && { PORT: opts.port }),
        ...(opts.host !== undefined && { HOST: opts.host }),
        ...(opts.policy !== undefined && { TOKEX_POLICY: opts.policy }),
      };
      // A process of its own: local.settings.json, like its policy and keys, from the process's working directory.
      const settings = loadSettings(withLocalSettings(env), 'local');
      const { serveLocally } = await import('../local/serve.js');
      await serveLocally(settings);
    });

  program
    .command('dev-token')
    .description("print a caller token from the local host's built-in dev issuer (reads PORT like the server)")
    .requiredOption('--sub <name>', "the token's subject")
    .option('--roles <roles>', 'comma-separated app roles (the "roles" claim)', (v) => v.split(',').filter(Boolean))
    .addOption(new Option('--claim <k=v>', 'an extra string claim; repeatable').argParser(collectClaim).default({}, 'none'))
    .option('--aud <audience>', 'audience', 'api://tokex')
    .addOption(new Option('--lifetime <duration>', 'lifetime such as 15m or 1h').argParser(parseDuration).default(3600, '1h'))
    .action(async (opts: { sub: string; roles?: string[]; claim: Record<string, string>; aud: string; lifetime: number }) => {
      const [{ loadSettings, withLocalSettings }, { mintDevToken }] = await Promise.all([import('../shared/settings.js'), import('../local/dev-issuer.js')]);
      const settings = loadSettings(withLocalSettings(ctx.env, ctx.cwd), 'local');
      const token = await mintDevToken(
        settings,
        {
          subject: opts.sub,
          roles: opts.roles ?? [],
          claims: opts.claim,
          audience: opts.aud,
          lifetimeSeconds: opts.lifetime,
        },
        ctx.cwd,
      );
      ctx.out(`${token}\n`);
    });

  program
    .command('get-token')
    .description(
      'exchange your own Entra token (TOKEX_SUBJECT_TOKEN, else az login / environment / managed identity) for a token from tokex; exit 2 when refused, 3 when unavailable',
    )
    .addOption(new Option('--endpoint <url>', 'tokex base URL').env('TOKEX_ENDPOINT').makeOptionMandatory())
    .addOption(new Option('--resource <uri>', 'the target, as a resource URI').conflicts('audience'))
    .addOption(new Option('--audience <name>', 'the target, as an audience').conflicts('resource'))
    .option('--scope <scopes>', 'space-separated scopes (default: everything the policy allows)')
    .addOption(
      new Option('--output <format>', 'token: the token alone; json: the whole answer; env: export lines for eval')
        .choices(['token', 'json', 'env'])
        .default('token'),
    )
    .addOption(new Option('--tokex-scope <scope>', 'the scope your own token is requested for').env('TOKEX_API_SCOPE').default('api://tokex/.default'))
    .action(
      async (
        opts: { endpoint: string; resource?: string; audience?: string; scope?: string; output: 'token' | 'json' | 'env'; tokexScope: string },
        command: Command,
      ) => {
        // The command's own error: its usage and help follow the message, not the whole program's.
        if (opts.resource === undefined && opts.audience === undefined) command.error('error: give --resource or --audience');
        const { getToken } = await import('./get-token.js');
        outcome.exitCode = await getToken(opts, ctx);
      },
    );

  const policy = program.command('policy').description('check, explain and test policy files');
  policy
    .command('check')
    .description('validate a policy file; problems and warnings are listed with file, line and path')
    .argument('<file>', 'policy file (YAML or JSON)')
    .option('--azure', 'check as the Azure Functions host would (no dev issuer, no azure-cli identities)')
    .option('--strict', 'treat warnings as errors (exit 1)')
    .action(async (file: string, opts: { azure?: boolean; strict?: boolean }) => {
      const { checkPolicy } = await import('./policy-commands.js');
      const { text, warnings, ok } = checkPolicy(file, opts.azure ? 'azure' : 'local', opts.strict === true, ctx);
      for (const line of warnings) ctx.err(`${line}\n`);
      ctx.out(`${text}\n`);
      if (!ok) outcome.exitCode = 1;
    });
  policy
    .command('explain')
    .description(
      "run the server's checks and policy decision for one request and print each step and the answer (exit 1 when refused); the signature only with --jwks",
    )
    .argument('<file>', 'policy file (YAML or JSON)')
    .option('--token <jwt>', 'the caller token')
    .option('--claims <json>', "the caller token's claims as JSON (or @file), instead of a token")
    .option('--resource <uri>', 'the resource requested')
    .option('--audience <name>', 'the audience requested')
    .option('--target <target>', 'the target requested (as audience)')
    .option('--scope <scopes>', 'the space-separated scopes requested')
    .option('--actor-token <jwt>', 'the actor token of a delegation request')
    .option('--jwks <file-or-url>', 'also check the signature with this JWKS (a file, or a URL to fetch)')
    .option('--deny-list <kv:secret|file>', 'apply this deny-list as the server would (default: none)')
    .addOption(new Option('--output <format>', 'text or json').choices(['text', 'json']).default('text'))
    .option('--azure', 'load the policy as the Azure Functions host would')
    .action(
      async (
        file: string,
        opts: {
          token?: string;
          claims?: string;
          resource?: string;
          audience?: string;
          target?: string;
          scope?: string;
          actorToken?: string;
          jwks?: string;
          denyList?: string;
          output: 'text' | 'json';
          azure?: boolean;
        },
      ) => {
        const { explainPolicy } = await import('./policy-commands.js');
        const { text, ok } = await explainPolicy(
          file,
          {
            token: opts.token,
            claims: opts.claims,
            actorToken: opts.actorToken,
            jwks: opts.jwks,
            denyList: opts.denyList,
            request: { resource: opts.resource, audience: opts.audience ?? opts.target, scope: opts.scope },
            mode: opts.azure ? 'azure' : 'local',
            output: opts.output,
          },
          ctx,
        );
        ctx.out(`${text}\n`);
        if (!ok) outcome.exitCode = 1;
      },
    );
  policy
    .command('test')
    .description('check a YAML file of cases (claims or token, request, expected answer) against a policy, with no network; exit 1 on a mismatch')
    .argument('<file>', 'policy file (YAML or JSON)')
    .argument('<cases>', 'YAML file of cases')
    .addOption(new Option('--output <format>', 'text or json').choices(['text', 'json']).default('text'))
    .option('--azure', 'load the policy as the Azure Functions host would')
    .action(async (file: string, cases: string, opts: { output: 'text' | 'json'; azure?: boolean }) => {
      const { testPolicy } = await import('./policy-commands.js');
      const { text, ok } = await testPolicy(file, cases, { mode: opts.azure ? 'azure' : 'local', output: opts.output }, ctx);
      ctx.out(`${text}\n`);
      if (!ok) outcome.exitCode = 1;
    });
  policy
    .command('schema')
    .description('print the JSON Schema of the policy file (generated from the code; committed as policy.schema.json)')
    .action(async () => {
      const { policyJsonSchema } = await import('../shared/policy/json-schema.js');
      ctx.out(`${JSON.stringify(policyJsonSchema(), null, 2)}\n`);
    });

  const deny = program.command('deny').description('the kill switch: edit the deny-list the server reads (TOKEX_DENY_LIST) every 30 s');
  for (const op of ['add', 'remove'] as const) {
    deny
      .command(op)
      .description(`${op} a caller (--caller ISSUER --oid X | --sub X), a whole issuer (--issuer NAME) or a rule (--rule NAME)`)
      .option('--caller <issuer>', "the caller's issuer name (with --oid or --sub)")
      .option('--oid <oid>', "the caller's oid")
      .option('--sub <sub>', "the caller's sub")
      .option('--issuer <name>', 'deny every caller of this issuer')
      .option('--rule <name>', 'deny every grant of this rule')
      .option('--list <kv:secret|file>', 'the deny-list (default: TOKEX_DENY_LIST)')
      .action(async (opts: { caller?: string; oid?: string; sub?: string; issuer?: string; rule?: string; list?: string }) => {
        const { denyListSource, editDenyList, entryFrom, listDenyList } = await import('./deny-commands.js');
        const entry = entryFrom(opts);
        const source = await denyListSource(opts.list, ctx);
        await editDenyList(source, op, entry);
        ctx.out(`${await listDenyList(source)}\n`);
      });
  }
  deny
    .command('list')
    .description('print the deny-list')
    .option('--list <kv:secret|file>', 'the deny-list (default: TOKEX_DENY_LIST)')
    .action(async (opts: { list?: string }) => {
      const { denyListSource, listDenyList } = await import('./deny-commands.js');
      ctx.out(`${await listDenyList(await denyListSource(opts.list, ctx))}\n`);
    });

  return program;
}

function parseDuration(value: string): number {
  if (!DURATION.test(value)) throw new InvalidArgumentError('expected a duration such as 90s, 15m or 1h');
  return seconds(value);
}

function collectClaim(value: string, previous: Record<string, string>): Record<string, string> {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError('expected k=v');
  // These are set from --sub, --aud and --lifetime (or by the dev issuer itself): never silently overwritten.
  const name = value.slice(0, eq);
  if (['iss', 'sub', 'aud', 'exp', 'iat', 'nbf'].includes(name)) {
    throw new InvalidArgumentError(`"${name}" is set by tokex dev-token itself (use --sub, --aud or --lifetime)`);
  }
  return { ...previous, [value.slice(0, eq)]: value.slice(eq + 1) };
}
