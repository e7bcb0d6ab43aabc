/** A promise's value, or a failure naming what did not finish within `ms` (for steps that could hang). */
export async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Asks `probe` every `everyMs` until it answers something other than undefined; fails after `ms` with `timed out after <ms> ms <waiting()>`. */
async function poll<T>(waiting: () => string, probe: () => T | undefined | Promise<T | undefined>, ms: number, everyMs: number): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const answer = await probe();
    if (answer !== undefined) return answer;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms ${waiting()}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/**
 * The first answer of `probe` other than undefined, asked every `everyMs`. `what` names what is
 * awaited (`timed out after <ms> ms waiting for <what>`); as a function it is asked at the time
 * out, so that the failure can say what was last seen.
 */
export function pollFor<T>(what: string | (() => string), probe: () => T | undefined | Promise<T | undefined>, ms = 60_000, everyMs = 100): Promise<T> {
  return poll(() => `waiting for ${typeof what === 'function' ? what() : what}`, probe, ms, everyMs);
}

/** Waits until `check` holds (it may ask a server), asking every 100 ms; fails naming `what` after `ms`. */
export async function waitUntil(check: () => boolean | Promise<boolean>, what: string, ms = 60_000): Promise<void> {
  await poll(() => `waiting until ${what}`, async () => ((await check()) ? true : undefined), ms, 100);
}
