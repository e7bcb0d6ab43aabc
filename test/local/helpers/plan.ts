import { localSettings } from '../../../src/backends/local';
import { buildPlan, type PlanReport } from '../../../src/cli/plan-view';
import type { LakesyncConfig } from '../../../src/config/schema';
import { sourceConfig } from '../../../src/config/load';
import { createLocalPorts } from '../../../src/local';

/**
 * `lakesync plan` of source `shop` without a Temporal server, the source's catalog read as the CLI
 * reads it (every table the source lists); each read opens its own ports in `dataDir`.
 */
export async function planOfShop(config: LakesyncConfig, dataDir: string): Promise<PlanReport> {
  const fresh = () => createLocalPorts(localSettings('shop', config.sources.shop!, dataDir));
  const catalog = async () => {
    const p = await fresh();
    try {
      return await p.discover.sourceTables!(await p.export.listSourceTables!());
    } finally {
      await p.close?.();
    }
  };
  return buildPlan({ name: 'shop', source: sourceConfig(config, 'shop'), status: undefined, ports: fresh, catalog });
}
