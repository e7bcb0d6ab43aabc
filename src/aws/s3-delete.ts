/**
 * Listing and deleting the files of one S3 folder, as retention does: every key under the folder
 * (ListObjectsV2, all pages), then DeleteObjects, which takes at most 1,000 keys a call and
 * answers per key: a key it could not delete fails the deletion, saying what to grant.
 */
import { DeleteObjectsCommand, type S3Client } from '@aws-sdk/client-s3';
import { PortError } from '../errors';
import { awsCall } from './errors';
import { S3Objects, s3Url } from './s3';

/** DeleteObjects takes at most 1,000 keys. */
const DELETE_BATCH = 1000;

/** A folder's files, for messages: what they are (`export ls-…`) and the resource s3:DeleteObject must cover. */
export interface FolderFiles {
  bucket: string;
  /** The folder's key prefix, ending with a slash. */
  folder: string;
  /** What the files belong to, e.g. `export ls-shop-3-…`. */
  what: string;
  /** Where the worker needs s3:DeleteObject, and the doc that grants it. */
  permission: string;
}

/** Every key under the folder. */
export async function listFolderKeys(s3: S3Client, f: Pick<FolderFiles, 'bucket' | 'folder' | 'what'>): Promise<string[]> {
  return (await new S3Objects(s3).listKeys(f.bucket, f.folder, `the files of ${f.what}`)).map((k) => k.key);
}

/** Deletes `keys` in their order, 1,000 a call. */
export async function deleteFolderKeys(s3: S3Client, f: FolderFiles, keys: readonly string[]): Promise<void> {
  for (let i = 0; i < keys.length; i += DELETE_BATCH) {
    const batch = keys.slice(i, i + DELETE_BATCH);
    const out = await awsCall({ service: 'S3', operation: 'DeleteObjects', subject: `${batch.length} file(s) of ${f.what} (${s3Url(f.bucket, f.folder)})` }, () =>
      s3.send(new DeleteObjectsCommand({ Bucket: f.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } })),
    );
    const errors = out.Errors ?? [];
    if (errors.length === 0) continue;
    const first = errors[0]!;
    const access = errors.some((e) => /AccessDenied/i.test(e.Code ?? ''));
    throw new PortError(
      access ? 'access-denied' : 'failed',
      first.Code ?? 'DeleteObjectsFailed',
      `S3 DeleteObjects could not delete ${errors.length} file(s) of ${f.what}, e.g. ${s3Url(f.bucket, first.Key ?? '')}: ${first.Code ?? 'no code'}: ${first.Message ?? 'no message'}` +
        (access ? ` (the worker needs s3:DeleteObject on ${f.permission})` : ' (the next cycle tries again)'),
    );
  }
}
