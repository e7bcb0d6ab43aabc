/**
 * The HTTP endpoint Prometheus scrapes: GET /metrics. It listens before the worker starts, so a
 * port in use is refused up front; what it serves is attached once the worker is connected.
 */
import { type Server, createServer } from 'node:http';
import { type MetricsAddress, MetricsAddressError, formatAddress } from './address';

export interface Exposition {
  contentType: string;
  body: string;
}

export type MetricsHandler = () => Promise<Exposition>;

export class MetricsEndpoint {
  private handler: MetricsHandler | undefined;

  private constructor(
    private readonly server: Server,
    readonly address: MetricsAddress,
  ) {}

  /** Listens on `address`; a port in use or an address not of this machine is a MetricsAddressError. */
  static async listen(address: MetricsAddress): Promise<MetricsEndpoint> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => reject(listenError(address, err)));
      server.listen(address.port, address.host, () => resolve());
    });
    const endpoint = new MetricsEndpoint(server, address);
    server.on('request', (req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD' }).end();
      } else if (path !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('lakesync serves Prometheus metrics at /metrics\n');
      } else if (!endpoint.handler) {
        res.writeHead(503, { 'content-type': 'text/plain' }).end('the lakesync worker is starting\n');
      } else {
        endpoint.handler().then(
          ({ contentType, body }) => res.writeHead(200, { 'content-type': contentType }).end(req.method === 'HEAD' ? undefined : body),
          (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`lakesync metrics failed: ${(err as Error).message}\n`),
        );
      }
    });
    return endpoint;
  }

  /** The port actually bound (tests listen on a free one). */
  get port(): number {
    const addr = this.server.address();
    return typeof addr === 'object' && addr ? addr.port : this.address.port;
  }

  serve(handler: MetricsHandler): void {
    this.handler = handler;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

function listenError(address: MetricsAddress, err: NodeJS.ErrnoException): MetricsAddressError {
  const where = `--metrics ${formatAddress(address)}`;
  switch (err.code) {
    case 'EADDRINUSE':
      return new MetricsAddressError(`${where}: port ${address.port} is in use by another process; choose a free port`);
    case 'EACCES':
      return new MetricsAddressError(`${where}: not allowed to listen on port ${address.port} (ports below 1024 need privileges); choose a port above 1024`);
    case 'EADDRNOTAVAIL':
      return new MetricsAddressError(`${where}: ${address.host} is not an address of this machine; use 0.0.0.0 (every interface) or one of its addresses`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new MetricsAddressError(`${where}: host ${address.host} cannot be resolved; use an IP address or a resolvable name`);
    default:
      return new MetricsAddressError(`${where}: cannot listen (${err.code ?? err.message}): ${err.message}`);
  }
}
