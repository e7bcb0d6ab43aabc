/** Inside the workflow sandbox, Date is Temporal's deterministic clock (the task's start time). */
export function nowIso(): string {
  return new Date().toISOString();
}
