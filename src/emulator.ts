/**
 * Compatibility with AWS emulators (moto server), applied only with an endpoint override.
 * moto writes ISO-8601 strings where the AWS JSON protocols send epoch seconds, which the
 * SDK refuses to parse, and answers an operation it lacks with an HTML HTTP 500; the latter
 * becomes a JSON error `NotImplementedByEmulator` so that callers can recognise it.
 */
import { Readable } from 'node:stream';

export const EMULATOR_NOT_IMPLEMENTED = 'NotImplementedByEmulator';

interface RawResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: unknown;
}

type Handler = (args: unknown) => Promise<{ response: unknown; output?: unknown }>;

type CompatMiddleware = (next: Handler, context: { commandName?: string }) => Handler;

interface StackOwner {
  middlewareStack: { add(middleware: never, options: { step: 'deserialize'; priority: 'low'; name: string }): void };
}

const ISO_TIMESTAMP = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:?\d\d)?$/;
/** Members that hold timestamps in the Glue, Athena, Lake Formation, S3 Tables and DynamoDB Streams APIs. */
const TIMESTAMP_KEY = /(On|Time|Date|At|Timestamp)$/;

/**
 * Adds the compatibility layer to a JSON-protocol client (Glue, Athena, Lake Formation, S3 Tables,
 * the embedded mode's DynamoDB Streams). `epochTimestamps` only for clients whose protocol sends
 * epoch seconds and whose emulator answers ISO strings (Glue; DynamoDB Streams' GetRecords and
 * DescribeStream); S3 Tables expects the ISO strings it gets.
 */
export function addEmulatorCompat(client: StackOwner, endpoint: string, options: { epochTimestamps: boolean }): void {
  const middleware: CompatMiddleware = (next, context) => async (args) => {
      const result = await next(args);
      const response = result.response as RawResponse;
      // moto labels JSON bodies text/html, so the body itself decides.
      if (response.statusCode < 300 || response.statusCode >= 500) {
        const text = await readBody(response.body);
        if (response.statusCode >= 500 && /^\s*<(!doctype|html)/i.test(text)) {
          const body = JSON.stringify({ __type: EMULATOR_NOT_IMPLEMENTED, message: `the emulator at ${endpoint} answered ${context.commandName ?? 'the call'} with HTTP ${response.statusCode}: it does not implement this operation` });
          replaceBody(response, body, 'application/json');
          response.headers['x-amzn-errortype'] = EMULATOR_NOT_IMPLEMENTED;
        } else {
          replaceBody(response, response.statusCode < 300 && options.epochTimestamps ? fixTimestamps(text) : text, headerOf(response, 'content-type') ?? 'application/json');
        }
      }
      return result;
  };
  client.middlewareStack.add(middleware as never, { step: 'deserialize', priority: 'low', name: 'lakesyncEmulatorCompat' });
}

/**
 * Epoch seconds of an ISO-8601 time, to the millisecond (rounded down). A time without a zone is
 * UTC: moto writes `utcnow().isoformat()`, which Date.parse would read as the machine's local time.
 */
export function isoToEpochSeconds(text: string): number | undefined {
  const m = ISO_TIMESTAMP.exec(text);
  if (!m) return undefined;
  const zone = m[3] ?? 'Z';
  const whole = Date.parse(`${m[1]}${zone.length === 5 ? `${zone.slice(0, 3)}:${zone.slice(3)}` : zone}`);
  if (Number.isNaN(whole)) return undefined;
  const millis = Number((m[2] ?? '').padEnd(3, '0').slice(0, 3));
  return (whole + millis) / 1000;
}

/** Rewrites ISO-8601 timestamp members to epoch seconds; anything else is left untouched. */
export function fixTimestamps(text: string): string {
  if (!text) return text;
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return text;
  }
  const walk = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(walk);
    if (value && typeof value === 'object') {
      return Object.fromEntries(
        Object.entries(value as Record<string, unknown>).map(([key, v]) => [
          key,
          typeof v === 'string' && TIMESTAMP_KEY.test(key) ? (isoToEpochSeconds(v) ?? v) : walk(v),
        ]),
      );
    }
    return value;
  };
  return JSON.stringify(walk(doc));
}

function headerOf(response: RawResponse, name: string): string | undefined {
  const key = Object.keys(response.headers).find((k) => k.toLowerCase() === name);
  return key ? response.headers[key] : undefined;
}

function replaceBody(response: RawResponse, text: string, contentType: string): void {
  const bytes = Buffer.from(text, 'utf8');
  for (const key of Object.keys(response.headers)) if (['content-length', 'content-type'].includes(key.toLowerCase())) delete response.headers[key];
  response.headers['content-type'] = contentType;
  response.headers['content-length'] = String(bytes.length);
  response.body = Readable.from([bytes]);
}

async function readBody(body: unknown): Promise<string> {
  if (!body) return '';
  if (typeof body === 'string') return body;
  if (body instanceof Uint8Array) return Buffer.from(body).toString('utf8');
  const chunks: Buffer[] = [];
  for await (const chunk of body as AsyncIterable<Buffer | string>) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf8');
}
