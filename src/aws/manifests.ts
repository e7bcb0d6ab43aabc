/** Manifests (table lists, plans) as JSON objects under the export bucket: `<export prefix>/lakesync-manifests/<source>/<key>`. */
import { PortError } from '../errors';
import type { ManifestStore } from '../ports';
import { joinKey, parseS3Url, type S3Objects, s3Url } from './s3';

export class S3Manifests implements ManifestStore {
  constructor(
    private readonly objects: S3Objects,
    private readonly bucket: string,
    private readonly prefix: string,
    private readonly source: string,
  ) {}

  async put(key: string, value: unknown): Promise<string> {
    const objectKey = this.objectKey(key);
    await this.objects.putJson({ bucket: this.bucket, key: objectKey }, value, `manifest ${key}`);
    return s3Url(this.bucket, objectKey);
  }

  ref(key: string): string {
    return s3Url(this.bucket, this.objectKey(key));
  }

  private objectKey(key: string): string {
    return joinKey(this.prefix, 'lakesync-manifests', this.source, key);
  }

  async delete(ref: string): Promise<void> {
    const loc = parseS3Url(ref);
    // Only this source's manifests: a reference elsewhere (an export's files, another source) is never deleted.
    const root = `${this.objectKey('')}/`;
    if (loc.bucket !== this.bucket || !loc.key.startsWith(root) || loc.key.length === root.length) {
      throw new PortError('validation', 'InvalidManifestRef', `manifest reference ${ref} is not under ${s3Url(this.bucket, root)}: it is not deleted`);
    }
    await this.objects.delete(loc, `manifest ${ref}`);
  }

  async get<T>(ref: string): Promise<T> {
    const value = await this.objects.getJson<T>(parseS3Url(ref), `manifest ${ref}`);
    if (value === undefined) throw new PortError('not-found', 'ManifestNotFound', `manifest ${ref} does not exist: it was deleted, or the cycle is from another bucket; run a new sync`);
    return value;
  }
}
