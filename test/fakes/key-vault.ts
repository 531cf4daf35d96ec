import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { FaultMode } from './managed-identity.js';
import { throwawayTls } from './tls.js';

interface Version {
  readonly version: string;
  readonly value: string;
  readonly contentType?: string;
  readonly created: number;
  enabled: boolean;
  readonly expires?: number;
  readonly notBefore?: number;
}

/**
 * Azure Key Vault's secrets API over HTTPS (throwaway CA), with the challenge flow SecretClient
 * expects: an unauthenticated request gets 401 + `WWW-Authenticate: Bearer authorization=…, resource=…`.
 * Names compare case-insensitively and answers carry the name as stored, as Key Vault's do.
 */
export class FakeKeyVault {
  readonly secrets = new Map<string, Version[]>();
  /** Reads (GET of a value) per secret name. */
  readonly reads = new Map<string, number>();
  /** Faults per secret name (applies to reads and version listings). */
  readonly faults = new Map<string, FaultMode>();
  /** Bearer tokens the SDK presented (they came from the managed-identity fake). */
  readonly bearers = new Set<string>();
  challenges = 0;
  /** Authenticated requests still to refuse with 403 ForbiddenByRbac, as while a role assignment propagates. */
  forbidden = 0;
  /** Authenticated requests answered 403 so far. */
  refused = 0;
  /** Writes (PUT, setSecret) per secret name. */
  readonly writes = new Map<string, number>();

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<FakeKeyVault> {
    const tls = throwawayTls();
    let self: FakeKeyVault | undefined;
    const server = createServer({ key: tls.key, cert: tls.cert }, (req, res) => self!.handle(req, res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    self = new FakeKeyVault(server, `https://localhost:${(server.address() as AddressInfo).port}`);
    return self;
  }

  /** Adds a new version (newest = current); returns its id. */
  set(name: string, value: string, options: { contentType?: string; createdAgoSeconds?: number; expires?: Date; notBefore?: Date } = {}): string {
    const version = randomBytes(16).toString('hex');
    name = this.storedName(name) ?? name;
    const versions = this.secrets.get(name) ?? [];
    versions.push({
      version,
      value,
      enabled: true,
      created: Math.floor(Date.now() / 1000) - (options.createdAgoSeconds ?? 0),
      ...(options.contentType && { contentType: options.contentType }),
      ...(options.expires && { expires: Math.floor(options.expires.getTime() / 1000) }),
      ...(options.notBefore && { notBefore: Math.floor(options.notBefore.getTime() / 1000) }),
    });
    versions.sort((a, b) => a.created - b.created);
    this.secrets.set(name, versions);
    return version;
  }

  readCount(name: string): number {
    return this.reads.get(name) ?? 0;
  }

  /** Reads of any secret so far. */
  totalReads(): number {
    return [...this.reads.values()].reduce((a, b) => a + b, 0);
  }

  private storedName(name: string): string | undefined {
    return [...this.secrets.keys()].find((k) => k.toLowerCase() === name.toLowerCase());
  }

  private handle(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse): void {
    const url = new URL(req.url ?? '/', this.url);
    const auth = req.headers.authorization;
    if (!auth?.startsWith('Bearer ')) {
      this.challenges++;
      res
        .writeHead(401, {
          'www-authenticate':
            'Bearer authorization="https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47", resource="https://vault.azure.net"',
        })
        .end();
      return;
    }
    this.bearers.add(auth.slice('Bearer '.length));
    if (this.forbidden > 0) {
      this.forbidden--;
      this.refused++;
      // What Key Vault answers a caller whose role assignment has not reached it yet.
      return void this.json(res, 403, {
        error: { code: 'Forbidden', message: 'Caller is not authorized to perform action on resource.', innererror: { code: 'ForbiddenByRbac' } },
      });
    }
    const [, collection, asked, third] = url.pathname.replace(/\/+$/, '').split('/');
    if (collection !== 'secrets' || !asked) return void this.json(res, 400, { error: { code: 'BadParameter', message: 'unsupported' } });
    const name = this.storedName(asked) ?? asked;
    if (req.method === 'PUT' && !third) return void this.put(req, res, name);
    const fault = this.faults.get(name) ?? 'ok';
    if (third !== 'versions') this.reads.set(name, (this.reads.get(name) ?? 0) + 1);
    if (fault === 'hang') return;
    if (fault !== 'ok') {
      const headers: Record<string, string> = fault === '429' ? { 'retry-after': '1' } : {};
      return void this.json(
        res,
        Number(fault),
        { error: { code: fault === '429' ? 'Throttled' : fault === '404' ? 'SecretNotFound' : 'InternalError', message: `injected ${fault}` } },
        headers,
      );
    }
    const versions = this.secrets.get(name);
    if (!versions || versions.length === 0)
      return void this.json(res, 404, { error: { code: 'SecretNotFound', message: `A secret with (name/id) ${name} was not found in this key vault.` } });
    if (third === 'versions') return void this.json(res, 200, { value: versions.map((v) => this.bundle(name, v, false)), nextLink: null });
    const chosen = third ? versions.find((v) => v.version === third) : [...versions].reverse().find((v) => v.enabled);
    if (!chosen) return void this.json(res, 404, { error: { code: 'SecretNotFound', message: 'no such version' } });
    this.json(res, 200, this.bundle(name, chosen, true));
  }

  /** setSecret: `PUT /secrets/{name}` with `{ value, contentType?, attributes? }` adds a version. */
  private put(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse, name: string): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: { value?: unknown; contentType?: unknown };
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof body;
      } catch {
        return void this.json(res, 400, { error: { code: 'BadParameter', message: 'body is not JSON' } });
      }
      if (typeof body.value !== 'string') return void this.json(res, 400, { error: { code: 'BadParameter', message: 'value is required' } });
      this.writes.set(name, (this.writes.get(name) ?? 0) + 1);
      const version = this.set(name, body.value, typeof body.contentType === 'string' ? { contentType: body.contentType } : {});
      this.json(res, 200, this.bundle(name, this.secrets.get(name)!.find((v) => v.version === version)!, true));
    });
  }

  private bundle(name: string, v: Version, withValue: boolean): Record<string, unknown> {
    return {
      id: `${this.url}/secrets/${name}/${v.version}`,
      ...(withValue && { value: v.value }),
      ...(v.contentType && { contentType: v.contentType }),
      attributes: {
        enabled: v.enabled,
        created: v.created,
        updated: v.created,
        recoveryLevel: 'Recoverable+Purgeable',
        ...(v.expires && { exp: v.expires }),
        ...(v.notBefore && { nbf: v.notBefore }),
      },
    };
  }

  private json(res: import('node:http').ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers }).end(JSON.stringify(body));
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
