/** The embedded mode's adapters: PostgreSQL/PGlite export, local Spark + Iceberg, file grant store. */
import type { BackendContext } from '../backends';
import type { SourceConfig } from '../config/schema';
import type { Ports } from '../ports';

export async function createLocalPorts(sourceName: string, source: SourceConfig, ctx: BackendContext): Promise<Ports> {
  void source;
  void ctx;
  throw new Error(`source ${sourceName}: the local backend is not available in this build`);
}
