import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { throwawayTls } from './tls.js';

export interface Envelope {
  name: string;
  time: string;
  iKey: string;
  tags: Record<string, string>;
  data: {
    baseType: string;
    baseData: { name?: string; message?: string; properties?: Record<string, string>; measurements?: Record<string, number>; severityLevel?: string };
  };
}

/** Application Insights' ingestion endpoint (`POST /v2.1/track`) over HTTPS: the exporter insists on https. */
export class FakeIngestion {
  readonly envelopes: Envelope[] = [];
  /** Raw request bodies, to search for anything that must never be sent. */
  readonly bodies: string[] = [];

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<FakeIngestion> {
    const tls = throwawayTls();
    let self: FakeIngestion | undefined;
    const server = createServer({ key: tls.key, cert: tls.cert }, (req, res) => void self!.handle(req, res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    self = new FakeIngestion(server, `https://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    return self;
  }

  connectionString(): string {
    return `InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=${this.url};LiveEndpoint=${this.url}`;
  }

  events(name?: string): Envelope[] {
    return this.envelopes.filter((e) => e.data.baseType === 'EventData' && (name === undefined || e.data.baseData.name === name));
  }

  traces(): Envelope[] {
    return this.envelopes.filter((e) => e.data.baseType === 'MessageData');
  }

  private async handle(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    let raw = Buffer.concat(chunks);
    if (req.headers['content-encoding'] === 'gzip') raw = gunzipSync(raw);
    const text = raw.toString('utf8');
    if (req.method === 'POST' && req.url?.includes('/track')) {
      this.bodies.push(text);
      const items = JSON.parse(text) as Envelope[];
      this.envelopes.push(...items);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ itemsReceived: items.length, itemsAccepted: items.length, errors: [] }));
      return;
    }
    res.writeHead(200).end('{}');
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
