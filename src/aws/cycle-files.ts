/**
 * Each cycle's working files on AWS, which nothing else ever deletes: its manifests
 * (`<export prefix>/lakesync-manifests/<source>/<cycleId>/`: plan, discovery, export, stored
 * outcomes, ...) and its Glue files (`<result prefix>/<source>/<cycleId>/`: load results,
 * arguments and pack files, pack summaries). Only folders named like a cycle id are listed or
 * deleted; the source's own documents beside them (source-tables.json, source-state/, the marks of
 * namespaces, ...) are never touched. A cycle with a Glue run still queued or going keeps its files:
 * the run reads its arguments or pack file and writes its result there.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { RetentionDeletion, RetentionItem } from '../ports';
import { joinKey, S3Objects, s3Url } from './s3';
import { deleteFolderKeys, type FolderFiles, listFolderKeys } from './s3-delete';

/** A cycle id (`<cycle number>-<hash>`, src/ids.ts cycleKey; the legacy hash is shorter). */
const CYCLE_ID = /^\d+-[a-z0-9]{1,13}$/;

/** A folder holding one folder per cycle: `<root>/<cycleId>/`. */
export interface CycleFolders {
  bucket: string;
  /** The key of the folder, without slashes at its ends. */
  root: string;
  /** What the files are, for messages ("the manifests", "the Glue load results"). */
  what: string;
}

export class S3CycleFiles {
  /** The run tokens of the live Glue runs, read with the last listing (or why they could not be). */
  private live: string[] | Error | undefined;

  constructor(
    private readonly s3: S3Client,
    private readonly folders: readonly CycleFolders[],
    /** The run tokens of the Glue runs still queued or going; none where there is no way to tell. */
    private readonly liveRunTokens: () => Promise<string[]> = async () => [],
  ) {}

  async listCycleFiles(owned: (cycleId: string) => boolean): Promise<RetentionItem[]> {
    const cycles = new Set<string>();
    for (const f of this.folders) {
      const root = rootOf(f);
      for (const folder of await new S3Objects(this.s3).listFolders(f.bucket, root, `the cycle folders of ${f.what}`)) {
        const id = folder.slice(root.length).replace(/\/$/, '');
        if (CYCLE_ID.test(id) && owned(id)) cycles.add(id);
      }
    }
    // Runs of old cycles never start again: the runs going now are those that may still need their files.
    this.live = cycles.size > 0 ? await this.liveRunTokens().catch((err: unknown) => (err instanceof Error ? err : new Error(String(err)))) : [];
    return [...cycles].map((id) => ({ id }));
  }

  async deleteCycleFiles(cycleId: string): Promise<RetentionDeletion> {
    // Anything else would name the folder of every cycle, or the source's own documents.
    if (!CYCLE_ID.test(cycleId)) return { deleted: false, reason: `"${cycleId}" is not a cycle id` };
    this.live ??= await this.liveRunTokens().catch((err: unknown) => (err instanceof Error ? err : new Error(String(err))));
    if (this.live instanceof Error) return { deleted: false, reason: `which Glue runs are still queued or running is not known (${this.live.message})` };
    const running = this.live.find((t) => t.startsWith(`${cycleId}:`) || t.startsWith(`${cycleId}-pack-`));
    if (running) return { deleted: false, reason: `its Glue run ${running} is still queued or running` };
    for (const f of this.folders) await this.deleteFolder(f, cycleId);
    return { deleted: true };
  }

  private async deleteFolder(f: CycleFolders, cycleId: string): Promise<void> {
    const folder = `${rootOf(f)}${cycleId}/`;
    const files: FolderFiles = { bucket: f.bucket, folder, what: `${f.what} of cycle ${cycleId}`, permission: `${s3Url(f.bucket, folder)}*: docs/aws-setup.md` };
    await deleteFolderKeys(this.s3, files, await listFolderKeys(this.s3, files));
  }
}

/** `<root>/`, or the bucket's root when it is empty. */
function rootOf(f: CycleFolders): string {
  const root = joinKey(f.root);
  return root ? `${root}/` : '';
}

/** The source's manifests folder (src/aws/manifests.ts) and its Glue results folder (src/aws/glue.ts). */
export function cycleFoldersOf(source: string, manifests: { bucket: string; prefix: string }, glue: { scriptBucket: string; resultPrefix: string }): CycleFolders[] {
  return [
    // The Glue files first: a deletion cut short leaves the manifests, by which the cycle is listed again.
    { bucket: glue.scriptBucket, root: joinKey(glue.resultPrefix, source), what: `the Glue load files of source ${source}` },
    { bucket: manifests.bucket, root: joinKey(manifests.prefix, 'lakesync-manifests', source), what: `the manifests of source ${source}` },
  ];
}
