import { startRsaKeysAgain } from './fakes/rsa-keys.js';

// Runs before each test file, also where files share a worker process (the `shared` project).
startRsaKeysAgain();

// This process read NODE_EXTRA_CA_CERTS (the run's CA bundle, test/global-setup.ts) when it started;
// children it spawns do not inherit it: most call no HTTPS fake, and Node 20 spends some 40 ms of each
// start loading a bundle. A test whose child calls one passes `throwawayTls().caBundle` explicitly.
delete process.env.NODE_EXTRA_CA_CERTS;
