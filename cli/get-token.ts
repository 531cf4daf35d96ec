import { type ExchangeResult, endpointProblem, exchangeToken, TokexExchangeError } from '../client/exchange.js';
import type { CliContext } from './context.js';

export const EXIT_REFUSED = 2;
export const EXIT_UNAVAILABLE = 3;

export interface GetTokenOptions {
  readonly endpoint: string;
  readonly resource?: string;
  readonly audience?: string;
  readonly scope?: string;
  readonly output: 'token' | 'json' | 'env';
  readonly tokexScope: string;
}

/**
 * `tokex get-token`: the caller's own token (TOKEX_SUBJECT_TOKEN, else DefaultAzureCredential for
 * the tokex API scope) exchanged for the target. Only the result goes to stdout; everything else to
 * stderr. Returns the exit code: 0, 2 refused, 3 unavailable, 1 when the caller's own token cannot be had.
 */
export async function getToken(options: GetTokenOptions, io: Pick<CliContext, 'env' | 'out' | 'err'>): Promise<number> {
  // Before the caller's own token is even fetched: it must never go out in clear text.
  const problem = endpointProblem(options.endpoint);
  if (problem !== undefined) {
    io.err(`tokex: --endpoint: ${problem}\n`);
    return 1;
  }
  let subjectToken = io.env.TOKEX_SUBJECT_TOKEN;
  if (!subjectToken) {
    try {
      const { DefaultAzureCredential } = await import('@azure/identity');
      subjectToken = (await new DefaultAzureCredential().getToken(options.tokexScope))?.token;
    } catch (err) {
      io.err(`tokex: cannot get your own token for ${options.tokexScope}: ${(err as Error).name} (sign in with az login, or set TOKEX_SUBJECT_TOKEN)\n`);
      return 1;
    }
    if (!subjectToken) {
      io.err(`tokex: no token for ${options.tokexScope}\n`);
      return 1;
    }
  }
  let result: ExchangeResult;
  try {
    result = await exchangeToken({
      endpoint: options.endpoint,
      subjectToken,
      ...(options.resource !== undefined && { resource: options.resource }),
      ...(options.audience !== undefined && { audience: options.audience }),
      ...(options.scope !== undefined && { scope: options.scope }),
    });
  } catch (err) {
    if (!(err instanceof TokexExchangeError)) throw err;
    const kind = err.refused ? 'refused' : 'unavailable';
    io.err(
      `tokex: ${kind}: ${err.error}${err.status ? ` (HTTP ${err.status})` : ''}${err.description ? `: ${err.description}` : ''}${err.retryAfter ? `; retry after ${err.retryAfter} s` : ''}\n`,
    );
    return err.refused ? EXIT_REFUSED : EXIT_UNAVAILABLE;
  }
  io.out(render(result, options.output));
  return 0;
}

function render(result: ExchangeResult, output: GetTokenOptions['output']): string {
  switch (output) {
    case 'token':
      return `${result.accessToken}\n`;
    case 'json':
      return `${JSON.stringify({
        access_token: result.accessToken,
        issued_token_type: result.issuedTokenType,
        token_type: result.tokenType,
        expires_in: result.expiresIn,
        expires_on: Math.floor(result.expiresOnTimestamp / 1000),
        scope: result.scope,
      })}\n`;
    case 'env': {
      const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
      return `${[
        `export TOKEX_ACCESS_TOKEN=${quote(result.accessToken)}`,
        `export TOKEX_EXPIRES_ON=${Math.floor(result.expiresOnTimestamp / 1000)}`,
        `export TOKEX_TOKEN_SCOPE=${quote(result.scope)}`,
      ].join('\n')}\n`;
    }
  }
}
