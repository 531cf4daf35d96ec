/**
 * The postprovision hook's federated-credential step (infra/hooks/federated-credential.mjs) against a
 * small fake of Microsoft Graph's federatedIdentityCredentials collection on loopback; a static
 * TokenCredential stands in for azd's.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ensureFederatedCredential, FederatedCredentialError } from '../../../infra/hooks/federated-credential.mjs';

const APP = '4444aaaa-0000-4000-8000-000000000001';
const PRINCIPAL = 'bbbbbbbb-1111-4111-8111-111111111111';
const TENANT = '11111111-2222-4333-8444-555555555555';
const TOKEN = 'azd-graph-token-0123456789';

interface Credential {
  name: string;
  issuer: string;
  subject: string;
  audiences: string[];
}

/** Graph's collection for one app: GET lists, POST adds; `refuse` answers every call with that status. */
class FakeGraph {
  readonly credentials: Credential[] = [];
  readonly calls: { method: string; path: string; authorization: string | undefined }[] = [];
  refuse: number | undefined;
  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<FakeGraph> {
    let self: FakeGraph | undefined;
    const server = createServer((req, res) => void self!.handle(req, res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    self = new FakeGraph(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    return self;
  }

  close(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = decodeURIComponent(req.url ?? '');
    this.calls.push({ method: req.method ?? '', path, authorization: req.headers.authorization });
    const json = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (this.refuse) return void json(this.refuse, { error: { code: 'Authorization_RequestDenied', message: `Insufficient privileges for ${APP}` } });
    if (path !== `/v1.0/applications(appId='${APP}')/federatedIdentityCredentials`) return void json(404, { error: { code: 'Request_ResourceNotFound' } });
    if (req.method === 'GET') return void json(200, { value: this.credentials });
    let body = '';
    for await (const chunk of req) body += chunk;
    const credential = JSON.parse(body) as Credential;
    this.credentials.push(credential);
    json(201, credential);
  }
}

let graph: FakeGraph;
const lines: string[] = [];
const run = () =>
  ensureFederatedCredential({
    credential: { getToken: async () => ({ token: TOKEN }) },
    appClientId: APP,
    principalId: PRINCIPAL,
    tenantId: TENANT,
    graphUrl: graph.url,
    log: (line: string) => lines.push(line),
  });

beforeAll(async () => {
  graph = await FakeGraph.start();
});
afterAll(() => graph.close());
beforeEach(() => {
  graph.credentials.length = 0;
  graph.calls.length = 0;
  graph.refuse = undefined;
  lines.length = 0;
});

describe('federated credential of an app registration', () => {
  it("adds tokex's identity once (issuer of its tenant, subject its principal id, the token-exchange audience), then leaves it", async () => {
    expect(await run()).toBe('created');
    expect(graph.credentials).toEqual([
      {
        name: 'tokex-bbbbbbbb',
        issuer: `https://login.microsoftonline.com/${TENANT}/v2.0`,
        subject: PRINCIPAL,
        audiences: ['api://AzureADTokenExchange'],
        description: "tokex's managed identity signs in as this app (no secret)",
      },
    ]);
    expect(await run()).toBe('exists');
    expect(graph.credentials).toHaveLength(1);
    expect(graph.calls.map((c) => c.method)).toEqual(['GET', 'POST', 'GET']);
    expect(graph.calls.every((c) => c.authorization === `Bearer ${TOKEN}`)).toBe(true);
    expect(lines.join('\n')).not.toContain(TOKEN);
  });

  it('a Graph refusal names the status, its code and the permission needed; nothing of the token', async () => {
    graph.refuse = 403;
    const error = await run().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FederatedCredentialError);
    expect((error as FederatedCredentialError).code).toBe('GRAPH_403');
    expect((error as Error).message).toBe(
      'Microsoft Graph refused to list federated credentials (HTTP 403 Authorization_RequestDenied): the signed-in user needs Application.ReadWrite.All or to own the app',
    );
  });

  it('refuses ids that are not GUIDs before calling Graph', async () => {
    const error = await ensureFederatedCredential({
      credential: { getToken: async () => ({ token: TOKEN }) },
      appClientId: 'my-app',
      principalId: PRINCIPAL,
      tenantId: TENANT,
      graphUrl: graph.url,
    }).catch((e: unknown) => e);
    expect((error as FederatedCredentialError).code).toBe('BAD_INPUT');
    expect((error as Error).message).toBe('the app client id must be a GUID (got "my-app")');
    expect(graph.calls).toEqual([]);
  });
});
