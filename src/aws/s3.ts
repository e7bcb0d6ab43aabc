/** Small S3 helpers the adapters share: s3:// URLs, JSON objects, paginated listings. */
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { PortError } from '../errors';
import { awsCall, hasAwsCode, httpStatusOf, toPortError } from './errors';

export interface S3Location {
  bucket: string;
  key: string;
}

export function parseS3Url(url: string): S3Location {
  const match = /^s3:\/\/([^/]+)\/?(.*)$/.exec(url);
  if (!match) throw new PortError('validation', 'InvalidS3Url', `"${url}" is not an s3://bucket/key location`);
  return { bucket: match[1]!, key: match[2]! };
}

export function s3Url(bucket: string, key: string): string {
  return `s3://${bucket}/${key}`;
}

/** Joins key parts with single slashes, skipping empty parts. */
export function joinKey(...parts: string[]): string {
  return parts
    .map((p) => p.replace(/^\/+|\/+$/g, ''))
    .filter((p) => p.length > 0)
    .join('/');
}

function isMissing(err: unknown): boolean {
  return hasAwsCode(err, 'NoSuchKey', 'NotFound') || httpStatusOf(err) === 404;
}

export class S3Objects {
  constructor(private readonly s3: S3Client) {}

  /** The object's text, or undefined when there is no such object. */
  async getText(loc: S3Location, subject: string): Promise<string | undefined> {
    try {
      const out = await this.s3.send(new GetObjectCommand({ Bucket: loc.bucket, Key: loc.key }));
      return (await out.Body?.transformToString('utf8')) ?? '';
    } catch (err) {
      if (isMissing(err) && !hasAwsCode(err, 'NoSuchBucket')) return undefined;
      throw toPortError(err, { service: 'S3', operation: 'GetObject', subject: `${subject} (${s3Url(loc.bucket, loc.key)})` });
    }
  }

  /** `length` bytes of the object from `offset` (a ranged GET); not-found when the object is gone. */
  async getRange(loc: S3Location, offset: number, length: number, subject: string): Promise<Buffer> {
    const where = `${subject} (${s3Url(loc.bucket, loc.key)}, bytes ${offset}-${offset + length - 1})`;
    try {
      const out = await this.s3.send(new GetObjectCommand({ Bucket: loc.bucket, Key: loc.key, Range: `bytes=${offset}-${offset + length - 1}` }));
      const bytes = Buffer.from((await out.Body?.transformToByteArray()) ?? new Uint8Array());
      if (bytes.length !== length) throw new PortError('failed', 'ShortRead', `${where}: S3 returned ${bytes.length} bytes instead of ${length}; the object changed while it was read, run a new sync`);
      return bytes;
    } catch (err) {
      if (err instanceof PortError) throw err;
      if (isMissing(err) && !hasAwsCode(err, 'NoSuchBucket')) {
        throw new PortError('not-found', 'NoSuchKey', `${where}: the object was removed while it was read; the export's files must stay in place until the cycle ends, run a new sync`, { cause: err });
      }
      throw toPortError(err, { service: 'S3', operation: 'GetObject', subject: where });
    }
  }

  /** The object parsed as JSON, or undefined when there is no such object. */
  async getJson<T>(loc: S3Location, subject: string): Promise<T | undefined> {
    const text = await this.getText(loc, subject);
    if (text === undefined) return undefined;
    try {
      return JSON.parse(text) as T;
    } catch (err) {
      throw new PortError('validation', 'InvalidJson', `${subject}: ${s3Url(loc.bucket, loc.key)} is not valid JSON (${(err as Error).message})`, { cause: err });
    }
  }

  async put(loc: S3Location, body: string | Uint8Array, contentType: string, subject: string): Promise<void> {
    await awsCall({ service: 'S3', operation: 'PutObject', subject: `${subject} (${s3Url(loc.bucket, loc.key)})` }, () =>
      this.s3.send(new PutObjectCommand({ Bucket: loc.bucket, Key: loc.key, Body: body, ContentType: contentType })),
    );
  }

  async putJson(loc: S3Location, value: unknown, subject: string): Promise<void> {
    await this.put(loc, JSON.stringify(value), 'application/json', subject);
  }

  /** Deletes the object; S3 answers the same whether or not it existed. */
  async delete(loc: S3Location, subject: string): Promise<void> {
    await awsCall({ service: 'S3', operation: 'DeleteObject', subject: `${subject} (${s3Url(loc.bucket, loc.key)})` }, () =>
      this.s3.send(new DeleteObjectCommand({ Bucket: loc.bucket, Key: loc.key })),
    );
  }

  async exists(loc: S3Location, subject: string): Promise<boolean> {
    try {
      await this.s3.send(new HeadObjectCommand({ Bucket: loc.bucket, Key: loc.key }));
      return true;
    } catch (err) {
      if (isMissing(err)) return false;
      throw toPortError(err, { service: 'S3', operation: 'HeadObject', subject: `${subject} (${s3Url(loc.bucket, loc.key)})` });
    }
  }

  /** Every key under the prefix, across all pages. */
  async listKeys(bucket: string, prefix: string, subject: string): Promise<{ key: string; size: number }[]> {
    const keys: { key: string; size: number }[] = [];
    let token: string | undefined;
    do {
      const page = await awsCall({ service: 'S3', operation: 'ListObjectsV2', subject: `${subject} (${s3Url(bucket, prefix)})` }, () =>
        this.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) })),
      );
      for (const obj of page.Contents ?? []) if (obj.Key) keys.push({ key: obj.Key, size: obj.Size ?? 0 });
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys;
  }

  /** The folders right under the prefix (each `<prefix><name>/`), across all pages. */
  async listFolders(bucket: string, prefix: string, subject: string): Promise<string[]> {
    const folders: string[] = [];
    let token: string | undefined;
    do {
      const page = await awsCall({ service: 'S3', operation: 'ListObjectsV2', subject: `${subject} (${s3Url(bucket, prefix)})` }, () =>
        this.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, Delimiter: '/', ...(token ? { ContinuationToken: token } : {}) })),
      );
      for (const p of page.CommonPrefixes ?? []) if (p.Prefix) folders.push(p.Prefix);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return folders;
  }
}
