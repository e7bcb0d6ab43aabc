/**
 * moto's DynamoDB Streams (the embedded DynamoDB) writes two timestamps as ISO-8601 text in UTC
 * without a zone (`2026-11-30T15:40:56.123456`), where the API sends epoch seconds:
 * GetRecords' `Records[].dynamodb.ApproximateCreationDateTime` and DescribeStream's
 * `StreamDescription.CreationRequestDateTime`. The SDK then fails with "Expected real number, got
 * implicit NaN". This middleware, added only to the embedded mode's Streams client, rewrites those
 * two members to epoch seconds (millisecond precision, rounded down) before the SDK parses the
 * answer; numbers (what AWS sends) pass untouched.
 */
import { Readable } from 'node:stream';

interface RawResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: unknown;
}

type Handler = (args: unknown) => Promise<{ response: unknown; output?: unknown }>;
type Middleware = (next: Handler, context: { commandName?: string }) => Handler;

interface StackOwner {
  middlewareStack: { add(middleware: never, options: { step: 'deserialize'; priority: 'low'; name: string }): void };
}

const ISO_UTC = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?$/;

/** Epoch seconds of an ISO-8601 time; a time without a zone is UTC (moto's `utcnow().isoformat()`). */
export function isoToEpochSeconds(text: string): number | undefined {
  const m = ISO_UTC.exec(text);
  if (!m) return undefined;
  const whole = Date.parse(`${m[1]}${m[3] ?? 'Z'}`);
  if (Number.isNaN(whole)) return undefined;
  const millis = Number((m[2] ?? '').padEnd(3, '0').slice(0, 3));
  return (whole + millis) / 1000;
}

const asEpoch = (value: unknown): unknown => (typeof value === 'string' ? (isoToEpochSeconds(value) ?? value) : value);

/** Rewrites the ISO timestamps of a GetRecords or DescribeStream answer; any other text is returned as is. */
export function rewriteStreamTimestamps(commandName: string | undefined, text: string): string {
  if (commandName !== 'GetRecordsCommand' && commandName !== 'DescribeStreamCommand') return text;
  let doc: { Records?: { dynamodb?: Record<string, unknown> }[]; StreamDescription?: Record<string, unknown> };
  try {
    doc = JSON.parse(text);
  } catch {
    return text;
  }
  if (!doc || typeof doc !== 'object') return text;
  for (const record of doc.Records ?? []) {
    if (record.dynamodb) record.dynamodb.ApproximateCreationDateTime = asEpoch(record.dynamodb.ApproximateCreationDateTime);
  }
  if (doc.StreamDescription) doc.StreamDescription.CreationRequestDateTime = asEpoch(doc.StreamDescription.CreationRequestDateTime);
  return JSON.stringify(doc);
}

/** Adds the rewrite to a DynamoDB Streams client that talks to moto. */
export function addStreamTimestampFix(client: StackOwner): void {
  const middleware: Middleware = (next, context) => async (args) => {
    const result = await next(args);
    const response = result.response as RawResponse;
    if (response.statusCode >= 200 && response.statusCode < 300) {
      const text = rewriteStreamTimestamps(context.commandName, await readBody(response.body));
      const bytes = Buffer.from(text, 'utf8');
      for (const key of Object.keys(response.headers)) if (key.toLowerCase() === 'content-length') delete response.headers[key];
      response.headers['content-length'] = String(bytes.length);
      response.body = Readable.from([bytes]);
    }
    return result;
  };
  client.middlewareStack.add(middleware as never, { step: 'deserialize', priority: 'low', name: 'lakesyncStreamTimestamps' });
}

async function readBody(body: unknown): Promise<string> {
  if (!body) return '';
  if (typeof body === 'string') return body;
  if (body instanceof Uint8Array) return Buffer.from(body).toString('utf8');
  const chunks: Buffer[] = [];
  for await (const chunk of body as AsyncIterable<Buffer | string>) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf8');
}
