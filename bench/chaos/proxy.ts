/**
 * A fault-injecting HTTP proxy in front of moto server. A seeded share of the worker's AWS calls
 * is answered with throttling, 500/503, a connection reset (before the call reaches moto, or after
 * moto has acted on it, so the answer is lost) or a 5-second delay, each shaped as its service's
 * protocol expects: JSON (Glue, Athena), REST-JSON (Lake Formation, S3 Tables), query/XML (RDS),
 * REST-XML (S3). Hooks let the run watch calls (to kill the worker at chosen moments) and answer
 * the calls moto does not implement.
 */
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { keyedPrng } from './prng';

export const FAULT_KINDS = ['throttle', 'http500', 'http503', 'reset', 'reset-after', 'delay'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface AwsCall {
  /** The signing name: glue, athena, rds, s3, lakeformation, s3tables... */
  service: string;
  /** The operation (`StartJobRun`), or for REST services the method and first path segment. */
  operation: string;
  method: string;
  path: string;
  body: Buffer;
  /** How many calls of this service and operation came before this one. */
  occurrence: number;
}

export interface Answer {
  status: number;
  headers: Record<string, string>;
  body: Buffer | string;
}

export interface ProxyHooks {
  /** Runs before the call is faulted or forwarded; the call waits for it (a worker kill at this moment). */
  onCall?(call: AwsCall): Promise<void> | void;
  /** Answers a call in moto's place (calls moto lacks); undefined forwards it. */
  answer?(call: AwsCall): Promise<Answer | undefined>;
  /** Sees every answer the worker was meant to get, from moto or from `answer`. */
  onAnswer?(call: AwsCall, status: number, body: Buffer): Promise<void> | void;
}

export interface FaultEvent {
  at: number;
  call: string;
  kind: FaultKind;
}

export interface FaultProxy {
  endpoint: string;
  /** Faults injected so far, by kind and by call. */
  faults(): { total: number; byKind: Record<string, number>; byCall: Record<string, number>; calls: number; dropped: number };
  events: FaultEvent[];
  /** Stops injecting faults (the final checks read through the proxy too). */
  setRate(rate: number): void;
  stop(): Promise<void>;
}

export interface ProxyOptions {
  target: string;
  seed: number;
  rate: number;
  delayMs?: number;
  hooks?: ProxyHooks;
  /** Faults by call (`glue.StartJobRun#0`: the first StartJobRun), injected whatever the rate: a replay of one moment. */
  forced?: Record<string, FaultKind>;
}

export async function startFaultProxy(options: ProxyOptions): Promise<FaultProxy> {
  const target = new URL(options.target);
  const hooks = options.hooks ?? {};
  const delayMs = options.delayMs ?? 5_000;
  let rate = options.rate;
  const occurrences = new Map<string, number>();
  const byKind: Record<string, number> = {};
  const byCall: Record<string, number> = {};
  const events: FaultEvent[] = [];
  let calls = 0;
  let dropped = 0;
  const started = Date.now();

  const forward = (req: IncomingMessage, body: Buffer): Promise<Answer> =>
    new Promise((resolve, reject) => {
      const headers = { ...req.headers, host: target.host };
      const out = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 502, headers: flatHeaders(res.headers), body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      out.on('error', reject);
      out.end(body);
    });

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const body = await readAll(req);
    const service = serviceOf(req);
    const operation = operationOf(service, req, body);
    const key = `${service}.${operation}`;
    const occurrence = occurrences.get(key) ?? 0;
    occurrences.set(key, occurrence + 1);
    const call: AwsCall = { service, operation, method: req.method ?? 'GET', path: req.url ?? '/', body, occurrence };
    if (service !== 'moto-api') calls++;
    await hooks.onCall?.(call);
    // The worker died while the call was held: it never reached AWS.
    if (req.socket.destroyed) {
      dropped++;
      return;
    }
    const fault = service === 'moto-api' ? undefined : (options.forced?.[`${key}#${occurrence}`] ?? chooseFault(options.seed, key, occurrence, rate));
    if (fault) {
      byKind[fault] = (byKind[fault] ?? 0) + 1;
      byCall[key] = (byCall[key] ?? 0) + 1;
      events.push({ at: Date.now() - started, call: `${key}#${occurrence}`, kind: fault });
    }
    if (fault === 'reset') {
      req.socket.destroy();
      return;
    }
    if (fault === 'delay') await delay(delayMs);
    if (fault && fault !== 'delay' && fault !== 'reset-after') {
      send(res, errorAnswer(service, fault));
      return;
    }
    const answer = (await hooks.answer?.(call)) ?? (await forward(req, body));
    if (fault === 'reset-after') {
      // moto has acted on the call; its answer is lost on the way back.
      await hooks.onAnswer?.(call, answer.status, Buffer.from(answer.body));
      req.socket.destroy();
      return;
    }
    if (req.socket.destroyed) {
      dropped++;
      return;
    }
    await hooks.onAnswer?.(call, answer.status, Buffer.from(answer.body));
    send(res, answer);
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent && !req.socket.destroyed) send(res, { status: 502, headers: { 'content-type': 'text/plain' }, body: `chaos proxy: ${String(err)}` });
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    events,
    faults: () => ({ total: events.length, byKind: { ...byKind }, byCall: { ...byCall }, calls, dropped }),
    setRate: (r) => (rate = r),
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The fault for the `occurrence`-th call of `key`: the same seed gives every call the same fate whatever order calls arrive in. */
export function chooseFault(seed: number, key: string, occurrence: number, rate: number): FaultKind | undefined {
  const prng = keyedPrng(seed, `${key}#${occurrence}`);
  if (prng.next() >= rate) return undefined;
  return prng.pick(FAULT_KINDS);
}

/** The service from the SigV4 credential scope (`Credential=AKID/date/region/service/aws4_request`). */
function serviceOf(req: IncomingMessage): string {
  if (req.url?.startsWith('/moto-api/')) return 'moto-api';
  const scope = /Credential=[^/]+\/\d+\/[^/]+\/([^/]+)\/aws4_request/.exec(String(req.headers.authorization ?? ''));
  return scope?.[1] ?? 'unknown';
}

function operationOf(service: string, req: IncomingMessage, body: Buffer): string {
  const amzTarget = req.headers['x-amz-target'];
  if (typeof amzTarget === 'string') return amzTarget.slice(amzTarget.lastIndexOf('.') + 1);
  if (service === 'rds') return /(?:^|&)Action=([A-Za-z]+)/.exec(body.toString('utf8'))?.[1] ?? 'unknown';
  const path = (req.url ?? '/').split('?')[0]!;
  if (service === 's3') return `${req.method} ${path.split('/').filter(Boolean).length > 1 ? 'object' : 'bucket'}`;
  return `${req.method} ${path.split('/').filter(Boolean)[0] ?? ''}`;
}

type Protocol = 'json' | 'rest-json' | 'query' | 'rest-xml';

function protocolOf(service: string): Protocol {
  if (service === 'glue' || service === 'athena') return 'json';
  if (service === 'rds') return 'query';
  if (service === 's3') return 'rest-xml';
  return 'rest-json';
}

/** The error each service's protocol sends for a fault. */
export function errorAnswer(service: string, fault: Exclude<FaultKind, 'reset' | 'reset-after' | 'delay'>): Answer {
  const protocol = protocolOf(service);
  const [status, code, message] =
    fault === 'throttle'
      ? protocol === 'rest-xml'
        ? [503, 'SlowDown', 'Please reduce your request rate.']
        : [400, 'ThrottlingException', 'Rate exceeded']
      : fault === 'http500'
        ? [500, protocol === 'rest-xml' ? 'InternalError' : protocol === 'query' ? 'InternalFailure' : 'InternalServiceException', 'We encountered an internal error. Please try again.']
        : [503, protocol === 'rest-xml' || protocol === 'query' ? 'ServiceUnavailable' : 'ServiceUnavailableException', 'Service is unavailable. Please try again.'];
  const requestId = `chaos-${Math.random().toString(16).slice(2)}`;
  switch (protocol) {
    case 'json':
      return { status, headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': requestId }, body: JSON.stringify({ __type: code, message }) };
    case 'rest-json':
      return { status, headers: { 'content-type': 'application/json', 'x-amzn-errortype': code, 'x-amzn-requestid': requestId }, body: JSON.stringify({ message }) };
    case 'query':
      return {
        status,
        headers: { 'content-type': 'text/xml' },
        body: `<ErrorResponse><Error><Type>${status < 500 ? 'Sender' : 'Receiver'}</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
      };
    case 'rest-xml':
      return { status, headers: { 'content-type': 'application/xml', 'x-amz-request-id': requestId }, body: `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message><RequestId>${requestId}</RequestId></Error>` };
  }
}

function send(res: ServerResponse, answer: Answer): void {
  const body = Buffer.from(answer.body);
  const headers = Object.fromEntries(Object.entries(answer.headers).filter(([k]) => !['content-length', 'transfer-encoding', 'connection'].includes(k.toLowerCase())));
  res.writeHead(answer.status, { ...headers, 'content-length': String(body.length) });
  res.end(body);
}

function flatHeaders(headers: IncomingMessage['headers']): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter((e): e is [string, string | string[]] => e[1] !== undefined).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : v]));
}

function readAll(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
