/** Inside the workflow sandbox, Date is Temporal's deterministic clock (the task's start time). */
export function nowIso(): string {
  return new Date().toISOString();
}

/** The time `seconds` after now, by the same clock. */
export function isoAfter(seconds: number): string {
  return new Date(new Date().getTime() + seconds * 1000).toISOString();
}
