/** The `--metrics <host:port>` value: where the Prometheus endpoint listens. */

export interface MetricsAddress {
  host: string;
  port: number;
}

/** A `--metrics` value that is not host:port; the message names the value and the fix. */
export class MetricsAddressError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MetricsAddressError';
  }
}

/**
 * Parses `host:port`, `:port` (every interface) or `[v6]:port`. The port must be 1-65535: port 0
 * would pick a random one Prometheus could not be told about.
 */
export function parseMetricsAddress(raw: string): MetricsAddress {
  const fix = 'give host:port, e.g. --metrics 0.0.0.0:9464 or --metrics 127.0.0.1:9464';
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]*)):(\d+)$/.exec(raw.trim());
  if (!match) throw new MetricsAddressError(`--metrics ${JSON.stringify(raw)} is not host:port: ${fix}`);
  const port = Number(match[3]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new MetricsAddressError(`--metrics ${JSON.stringify(raw)}: port ${match[3]} is not a port number (1-65535): ${fix}`);
  const host = match[1] ?? match[2] ?? '';
  return { host: host === '' ? '0.0.0.0' : host, port };
}

export function formatAddress({ host, port }: MetricsAddress): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
