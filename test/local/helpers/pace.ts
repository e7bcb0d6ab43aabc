/**
 * The retry and timeout settings of a source in the local end-to-end tests: quick retries and
 * polls, so that a failing table ends within seconds, and a heartbeat timeout long enough for a
 * Spark load on a slow machine.
 */
export function localPace(maximumAttempts: number): { retry: Record<string, number>; timeouts: Record<string, number> } {
  return {
    retry: { initialIntervalSeconds: 1, maximumIntervalSeconds: 2, maximumAttempts },
    timeouts: { heartbeatSeconds: 60, pollInitialSeconds: 1, pollMaximumSeconds: 2 },
  };
}
