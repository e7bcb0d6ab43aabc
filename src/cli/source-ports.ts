/** Opens one source's ports for the commands that read the lake directly (`query`, `grants`), and closes them. */
import { resolve } from 'node:path';
import { createPorts } from '../backends';
import type { LakesyncConfig, SourceConfig } from '../config/schema';
import type { Ports } from '../ports';
import type { CommandEnv } from './context';

export async function withSourcePorts<T>(env: CommandEnv, name: string, source: SourceConfig, config: LakesyncConfig, fn: (ports: Ports) => Promise<T>): Promise<T> {
  const ports = env.deps.portsFor ? await env.deps.portsFor(name, source, config) : await createPorts(name, source, { dataRoot: resolve(env.io.cwd, '.lakesync/data') });
  try {
    return await fn(ports);
  } finally {
    await ports.close?.();
  }
}

export function backendName(source: SourceConfig): string {
  return source.source.kind === 'fake' ? 'fake' : source.backend;
}
