import { routes } from '../functions/routes.js';
import { useTokex } from '../functions/runtime.js';
import { log } from '../shared/log.js';
import { loadSettings, withLocalSettings } from '../shared/settings.js';
import { startTokex } from '../shared/startup.js';
import { devJwks, devTrustedIssuer, loadDevIssuerKey } from './dev-issuer.js';
import { startLocalHost, type LocalHost } from './host.js';

/**
 * `npm start` / `tokex serve`: the Functions handlers on a local node:http server, with the
 * built-in dev issuer, settings from the environment over local.settings.json.
 */
export async function serveLocally(env: NodeJS.ProcessEnv): Promise<LocalHost> {
  const settings = loadSettings(withLocalSettings(env), 'local');
  const dev = await devTrustedIssuer(settings);
  const tokex = await startTokex(settings, { builtInIssuers: [dev] });
  useTokex(tokex);
  const jwks = devJwks(await loadDevIssuerKey(settings));
  const host = await startLocalHost(routes, { port: settings.port, host: settings.host, extra: { '/dev/jwks.json': () => jwks }, auditor: tokex.auditor });
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
