import { createRoutes } from '../functions/routes.js';
import { audited } from '../shared/audit/trail.js';
import { ConfigError, TokexError } from '../shared/errors.js';
import { log } from '../shared/log.js';
import type { Settings } from '../shared/settings.js';
import { startTokex } from '../shared/startup.js';
import { devJwks, devTrustedIssuer, loadDevIssuerKey } from './dev-issuer.js';
import { type LocalHost, startLocalHost } from './host.js';

/**
 * `npm start` / `tokex serve`: the Functions handlers on a local node:http server, with the
 * built-in dev issuer, settings from the environment over local.settings.json. The CLI loads the
 * settings before importing this module, so a bad one is reported without loading the host and the
 * core. Unlike the Functions entry point, any failed startup stops it: someone is watching the terminal.
 */
export async function serveLocally(settings: Settings): Promise<LocalHost> {
  const dev = await devTrustedIssuer(settings);
  const tokex = await startTokex(settings, { builtInIssuers: [dev] });
  const jwks = devJwks(await loadDevIssuerKey(settings));
  const host = await listenOrExplain(settings, () =>
    startLocalHost(createRoutes({ tokex: async () => tokex }), {
      port: settings.port,
      host: settings.host,
      extra: { '/dev/jwks.json': () => jwks },
      // The host's own refusals get an audit record like every other refusal.
      onRefused: async ({ event, correlationId, clientIp, detail }) => {
        // Through the same audit trail as every request; the host sends its own answer.
        const endpoint = event === 'credential.read' ? 'credentials' : 'token';
        await audited(tokex.auditor, endpoint, { correlationId, clientIp }, tokex.now(), () => Promise.reject(new TokexError('malformed_request', detail)));
      },
    }),
  );
  log.info('tokex listening', { url: host.url, policy: settings.policyPath, issuer: settings.issuer });

  const stop = async () => {
    await host.close();
    await tokex.auditor.flush();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return host;
}

/** A port in use or not ours to bind is a setting problem: one line naming it, not a stack trace. */
async function listenOrExplain(settings: { port: number; host: string }, listen: () => Promise<LocalHost>): Promise<LocalHost> {
  try {
    return await listen();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new ConfigError(`PORT: port ${settings.port} on ${settings.host} is in use (set --port or PORT)`);
    if (code === 'EACCES') throw new ConfigError(`PORT: not allowed to listen on port ${settings.port} (use a port above 1023)`);
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') throw new ConfigError(`HOST: ${settings.host} is not an address of this machine`);
    throw err;
  }
}
