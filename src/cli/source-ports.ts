/** Opens one source's ports for the commands that read the lake directly (`query`, `grants`), and closes them. */
import { createPorts, defaultDataRoot } from '../backends';
import type { LakesyncConfig, SourceConfig } from '../config/schema';
import type { Ports } from '../ports';
import type { CommandEnv } from './context';

/** Opens one source's ports: the test seam when one is set, else the port factory. */
export async function openSourcePorts(env: CommandEnv, name: string, source: SourceConfig, config: LakesyncConfig): Promise<Ports> {
  return env.deps.portsFor ? env.deps.portsFor(name, source, config) : createPorts(name, source, { dataRoot: defaultDataRoot(env.io.cwd) });
}

export async function withSourcePorts<T>(env: CommandEnv, name: string, source: SourceConfig, config: LakesyncConfig, fn: (ports: Ports) => Promise<T>): Promise<T> {
  const ports = await openSourcePorts(env, name, source, config);
  try {
    return await fn(ports);
  } finally {
    await ports.close?.();
  }
}

export function backendName(source: SourceConfig): string {
  return source.source.kind === 'fake' ? 'fake' : source.backend;
}
