/**
 * The port factory: the one place that turns a source's config into the ports of its backend,
 * AWS, the embedded mode or the fake. The adapters get resolved settings and never read the
 * config themselves; the worker and every command open ports here.
 */
import { resolve } from 'node:path';
import type { SourceConfig } from '../config/schema';
import type { Ports } from '../ports';
import { createAwsSourcePorts } from './aws';
import { localSettings } from './local';

export interface PortsContext {
  /** Folder the embedded mode keeps its sources' data under (see defaultDataRoot). */
  dataRoot: string;
}

/** The embedded mode's data folder when neither the config nor the caller names one. */
export function defaultDataRoot(cwd: string = process.cwd()): string {
  return resolve(cwd, '.lakesync', 'data');
}

export async function createPorts(sourceName: string, source: SourceConfig, ctx: PortsContext): Promise<Ports> {
  if (source.source.kind === 'fake') {
    const { createFakePorts } = await import('../fake');
    const { tables, latencyMs, stateDir, failures, alreadyExists } = source.source;
    return createFakePorts({ tables, latencyMs, failures, alreadyExists, ...(stateDir ? { stateDir } : {}) });
  }
  if (source.backend === 'aws') return createAwsSourcePorts(sourceName, source);
  const { createLocalPorts } = await import('../local');
  return createLocalPorts(localSettings(sourceName, source, ctx.dataRoot));
}
