/**
 * The Temporal SDK's own metrics (worker task slots, poll and task latencies...). The SDK's core
 * serves them from an exporter of its own: it listens on a private loopback port, and every
 * scrape of lakesync's endpoint appends its text, so Prometheus scrapes one address.
 */
import type { TelemetryOptions } from '@temporalio/worker';
import { freePort } from '../devserver';

/** A loopback port for the SDK's exporter (found free now; the Runtime binds it right after). */
export async function sdkMetricsPort(): Promise<number> {
  return freePort();
}

/** The Runtime's telemetry options that make core serve its metrics on `port`, named `temporal_*`. */
export function sdkTelemetry(port: number): TelemetryOptions {
  return { metrics: { prometheus: { bindAddress: `127.0.0.1:${port}` } } };
}

/** The SDK's metrics text, or a comment saying why it is missing (lakesync's own metrics are still served). */
export async function sdkMetricsText(port: number, timeoutMs: number): Promise<string> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) return `# Temporal SDK metrics unavailable: HTTP ${res.status}\n`;
    const text = await res.text();
    return text.endsWith('\n') || text === '' ? text : `${text}\n`;
  } catch (err) {
    return `# Temporal SDK metrics unavailable: ${(err as Error).message}\n`;
  }
}
