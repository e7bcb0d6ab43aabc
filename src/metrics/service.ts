/**
 * One scrape's answer: lakesync's metrics, refreshed from Temporal at most every `cacheMs` (so
 * frequent scrapes do not query every source workflow each time) and within a deadline (so a slow
 * server does not hang Prometheus), followed by the Temporal SDK's metrics.
 */
import type { LakesyncRegistry, SourceReading } from './registry';
import type { Exposition } from './server';

export interface MetricsServiceOptions {
  registry: LakesyncRegistry;
  read(): Promise<SourceReading[]>;
  /** The SDK's metrics text; absent when none is exported. */
  sdkText?(): Promise<string>;
  cacheMs: number;
  now?(): number;
}

export class MetricsService {
  private refreshedAt = Number.NEGATIVE_INFINITY;
  private refreshing: Promise<void> | undefined;

  constructor(private readonly options: MetricsServiceOptions) {}

  async exposition(): Promise<Exposition> {
    const [, sdk] = await Promise.all([this.refresh(), this.options.sdkText?.() ?? Promise.resolve('')]);
    const own = await this.options.registry.metrics();
    return { contentType: this.options.registry.contentType, body: `${own}${own.endsWith('\n') || own === '' ? '' : '\n'}${sdk}` };
  }

  /** Reads the sources unless the last read is fresh; concurrent scrapes share one read. */
  private refresh(): Promise<void> {
    const now = this.options.now ?? Date.now;
    if (now() - this.refreshedAt < this.options.cacheMs) return Promise.resolve();
    this.refreshing ??= this.options
      .read()
      .then((readings) => {
        this.options.registry.show(readings);
        this.refreshedAt = now();
      })
      .finally(() => {
        this.refreshing = undefined;
      });
    return this.refreshing;
  }
}
