import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { throwawayTls } from './tls.js';

/** One request the fake received, with the bearer token it carried. */
export interface MlRequest {
  readonly method: string;
  readonly path: string;
  readonly bearer: string | undefined;
}

/**
 * Just enough of Azure Machine Learning over HTTPS (throwaway CA) for the Azure ML SDK's
 * `batch_endpoints.invoke`: the ARM read of a batch endpoint (a management.azure.com token) and
 * the POST to its scoring URI (an ml.azure.com token). Records every request's bearer token.
 * The Python SDK reaches it through `AZUREML_DEV_URL_MFE`, its own setting for a development endpoint.
 */
export class FakeAzureMl {
  readonly requests: MlRequest[] = [];

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<FakeAzureMl> {
    const tls = throwawayTls();
    let self: FakeAzureMl | undefined;
    const server = createServer({ key: tls.key, cert: tls.cert }, (req, res) => self!.handle(req, res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    self = new FakeAzureMl(server, `https://localhost:${(server.address() as AddressInfo).port}`);
    return self;
  }

  private handle(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse): void {
    req.resume();
    const path = new URL(req.url ?? '/', this.url).pathname;
    const auth = req.headers.authorization;
    this.requests.push({ method: req.method ?? '', path, bearer: auth?.startsWith('Bearer ') ? auth.slice('Bearer '.length) : undefined });
    const json = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    const endpoint = /\/workspaces\/([^/]+)\/batchEndpoints\/([^/]+)$/.exec(path);
    const scoring = /^\/score\/([^/]+)\/jobs$/.exec(path);
    if (!auth?.startsWith('Bearer ')) {
      json(401, { error: { code: 'AuthenticationFailed', message: 'no bearer token' } });
    } else if (req.method === 'GET' && endpoint) {
      json(200, {
        id: path,
        name: endpoint[2],
        type: 'Microsoft.MachineLearningServices/workspaces/batchEndpoints',
        location: 'westeurope',
        properties: { authMode: 'AADToken', scoringUri: `${this.url}/score/${endpoint[2]}/jobs`, provisioningState: 'Succeeded' },
      });
    } else if (req.method === 'POST' && scoring) {
      json(200, { id: `${path}/job-1`, name: 'job-1', properties: { status: 'NotStarted' } });
    } else {
      json(404, { error: { code: 'NotFound', message: `no ${req.method} ${path} in this fake` } });
    }
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
