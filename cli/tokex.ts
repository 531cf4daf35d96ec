#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { ConfigError } from '../shared/errors.js';
import { loadSettings, withLocalSettings } from '../shared/settings.js';
import { seconds } from '../shared/policy/load.js';
import { DURATION } from '../shared/policy/schema.js';
import { mintDevToken } from '../local/dev-issuer.js';
import { serveLocally } from '../local/serve.js';
import { getToken } from './get-token.js';
import { checkPolicy, explainPolicy } from './policy-commands.js';

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command()
  .name('tokex')
  .version(version, '-V, --version', 'print the tokex version')
  .description('tokex: RFC 8693 token exchange for Azure. Local host, development tokens and policy tools.')
  .showHelpAfterError();

program
  .command('serve')
  .description('serve the Functions handlers locally (settings: environment, then local.settings.json)')
  .option('--port <port>', 'listen on this port (PORT, default 7071)')
  .option('--host <address>', 'bind to this address (HOST, default 127.0.0.1)')
  .option('--policy <file>', 'policy file (TOKEX_POLICY, default policy.dev.yaml)')
  .action(async (opts: { port?: string; host?: string; policy?: string }) => {
    await serveLocally({
      ...process.env,
      ...(opts.port !== undefined && { PORT: opts.port }),
      ...(opts.host !== undefined && { HOST: opts.host }),
      ...(opts.policy !== undefined && { TOKEX_POLICY: opts.policy }),
    });
  });

program
  .command('dev-token')
  .description('print a caller token from the local host\'s built-in dev issuer (reads PORT like the server)')
  .requiredOption('--sub <name>', 'the token\'s subject')
  .option('--roles <roles>', 'comma-separated app roles (the "roles" claim)', (v) => v.split(',').filter(Boolean))
  .addOption(new Option('--claim <k=v>', 'an extra string claim; repeatable').argParser(collectClaim).default({}, 'none'))
  .option('--aud <audience>', 'audience', 'api://tokex')
  .addOption(new Option('--lifetime <duration>', 'lifetime such as 15m or 1h').argParser(parseDuration).default(3600, '1h'))
  .action(async (opts: { sub: string; roles?: string[]; claim: Record<string, string>; aud: string; lifetime: number }) => {
    const settings = loadSettings(withLocalSettings(process.env), 'local');
    const token = await mintDevToken(settings, {
      subject: opts.sub,
      roles: opts.roles ?? [],
      claims: opts.claim,
      audience: opts.aud,
      lifetimeSeconds: opts.lifetime,
    });
    process.stdout.write(`${token}\n`);
  });

program
  .command('get-token')
  .description('exchange your own Entra token (TOKEX_SUBJECT_TOKEN, else az login / environment / managed identity) for a token from tokex; exit 2 when refused, 3 when unavailable')
  .addOption(new Option('--endpoint <url>', 'tokex base URL').env('TOKEX_ENDPOINT').makeOptionMandatory())
  .addOption(new Option('--resource <uri>', 'the target, as a resource URI').conflicts('audience'))
  .addOption(new Option('--audience <name>', 'the target, as an audience').conflicts('resource'))
  .option('--scope <scopes>', 'space-separated scopes (default: everything the policy allows)')
  .addOption(new Option('--output <format>', 'token: the token alone; json: the whole answer; env: export lines for eval').choices(['token', 'json', 'env']).default('token'))
  .addOption(new Option('--tokex-scope <scope>', 'the scope your own token is requested for').env('TOKEX_API_SCOPE').default('api://tokex/.default'))
  .action(async (opts: { endpoint: string; resource?: string; audience?: string; scope?: string; output: 'token' | 'json' | 'env'; tokexScope: string }) => {
    if (opts.resource === undefined && opts.audience === undefined) program.error('error: give --resource or --audience');
    process.exitCode = await getToken(opts, { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) });
  });

const policy = program.command('policy').description('check and explain policy files');
policy
  .command('check')
  .description('validate a policy file; problems are listed with file, line and path')
  .argument('<file>', 'policy file (YAML or JSON)')
  .option('--azure', 'check as the Azure Functions host would (no dev issuer, no azure-cli identities)')
  .action((file: string, opts: { azure?: boolean }) => {
    const { text, warnings } = checkPolicy(file, opts.azure ? 'azure' : 'local');
    for (const line of warnings) process.stderr.write(`${line}\n`);
    process.stdout.write(`${text}\n`);
  });
policy
  .command('explain')
  .description('say which rule and grant would apply to a token, or exactly why none does (the signature is not checked)')
  .argument('<file>', 'policy file (YAML or JSON)')
  .requiredOption('--token <jwt>', 'the caller token')
  .option('--target <target>', 'the resource or audience requested')
  .option('--scope <scopes>', 'the space-separated scopes requested')
  .option('--actor-token <jwt>', 'the actor token of a delegation request')
  .option('--azure', 'load the policy as the Azure Functions host would')
  .action(async (file: string, opts: { token: string; target?: string; scope?: string; actorToken?: string; azure?: boolean }) => {
    const { text, ok } = await explainPolicy(file, opts.token, { target: opts.target, scope: opts.scope, actorToken: opts.actorToken, mode: opts.azure ? 'azure' : 'local' });
    process.stdout.write(`${text}\n`);
    if (!ok) process.exitCode = 1;
  });

function parseDuration(value: string): number {
  if (!DURATION.test(value)) throw new InvalidArgumentError('expected a duration such as 90s, 15m or 1h');
  return seconds(value);
}

function collectClaim(value: string, previous: Record<string, string>): Record<string, string> {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError('expected k=v');
  return { ...previous, [value.slice(0, eq)]: value.slice(eq + 1) };
}

try {
  await program.parseAsync();
} catch (err) {
  if (err instanceof ConfigError) {
    process.stderr.write(`tokex: ${err.message}\n`);
    process.exit(1);
  }
  throw err;
}
