/** Builds the ports a source's config asks for: fake (tests, benchmarks), local (embedded mode) or AWS. */
import type { SourceConfig } from './config/schema';
import { FakeBackend } from './fake/ports';
import type { Ports } from './ports';

export interface BackendContext {
  /** Folder the embedded mode keeps its data under (default `.lakesync/data`). */
  dataRoot: string;
}

export async function createPorts(sourceName: string, source: SourceConfig, ctx: BackendContext): Promise<Ports> {
  if (source.source.kind === 'fake') {
    const { tables, latencyMs, stateDir, failures, alreadyExists } = source.source;
    return new FakeBackend({ tables, latencyMs, failures, alreadyExists, ...(stateDir ? { stateDir } : {}) }).ports();
  }
  if (source.backend === 'aws') {
    const { createAwsPorts } = await import('./aws');
    return createAwsPorts(sourceName, source);
  }
  const { createLocalPorts } = await import('./local');
  return createLocalPorts(sourceName, source, ctx);
}
