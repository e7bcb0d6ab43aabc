/**
 * Kill moments chosen by the seed, and the switch that fires them. A planned kill names a cycle,
 * a moment (a phase the cycle reaches) and the how-many-th event of that moment in the cycle; the
 * run reports every event to the switch, which kills the worker (or the load runner) at the first
 * event at or past the planned one, waits, and starts the worker again. Kills of a cycle still
 * pending when it ends fire at its end (the source workflow's continue-as-new), so none is lost.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { Prng } from './prng';

export const MOMENTS = ['snapshot', 'export', 'load-start', 'mid-load', 'load-grant', 'verify', 'runner', 'continue-as-new'] as const;
export type Moment = (typeof MOMENTS)[number];

export interface PlannedKill {
  id: number;
  cycle: number;
  moment: Moment;
  /** Fires at the first event of `moment` in the cycle whose index is at least this. */
  occurrence: number;
  /** Wait after the event before the kill (the kill lands inside the step, not at its edge). */
  delayMs: number;
  /** How long the worker stays dead. */
  pauseMs: number;
}

export interface KillRecord {
  id: number;
  cycle: number;
  planned: Moment;
  moment: Moment;
  event: string;
  atSeconds: number;
  target: 'worker' | 'runner';
  pid?: number;
}

/**
 * `kills` moments over `cycles` cycles: the `required` moments first (each at least once, while
 * kills last), the rest drawn from `optional`; ordered by cycle and phase.
 */
export function planKills(prng: Prng, options: { kills: number; cycles: number; required: Moment[]; optional: Moment[]; maxOccurrence: Partial<Record<Moment, number>> }): PlannedKill[] {
  const moments = [...options.required.slice(0, options.kills)];
  while (moments.length < options.kills) moments.push(prng.pick(options.optional));
  const planned = prng.shuffle(moments).map((moment, i) => ({
    id: 0,
    cycle: (i % options.cycles) + 1,
    moment,
    occurrence: prng.int(0, options.maxOccurrence[moment] ?? 0),
    delayMs: moment === 'load-grant' ? 0 : prng.int(0, 800),
    pauseMs: prng.int(300, 3000),
  }));
  planned.sort((a, b) => a.cycle - b.cycle || MOMENTS.indexOf(a.moment) - MOMENTS.indexOf(b.moment) || a.occurrence - b.occurrence);
  planned.forEach((k, i) => (k.id = i + 1));
  return planned;
}

export interface KillTargets {
  /** Kills the worker with SIGKILL; returns its pid. */
  killWorker(): Promise<number | undefined>;
  /** Kills the load runner with SIGKILL (local mode); returns its pid, undefined when none runs. */
  killRunner?(): Promise<number | undefined>;
  restartWorker(): Promise<void>;
}

export class KillSwitch {
  readonly made: KillRecord[] = [];
  private cycle = 0;
  private readonly counts = new Map<Moment, number>();
  private firing: Promise<void> | undefined;
  private readonly started = Date.now();

  constructor(
    private readonly plan: PlannedKill[],
    private readonly targets: KillTargets,
    private readonly log: (line: string) => void,
  ) {}

  beginCycle(cycle: number): void {
    this.cycle = cycle;
    this.counts.clear();
  }

  /** Reports an event; resolves once a kill it caused is done (the caller may hold a call meanwhile). */
  async event(moment: Moment, what: string): Promise<void> {
    const index = this.counts.get(moment) ?? 0;
    this.counts.set(moment, index + 1);
    if (this.firing) return;
    const next = this.plan.find((k) => !this.made.some((m) => m.id === k.id));
    if (!next || next.cycle !== this.cycle || next.moment !== moment || index < next.occurrence) return;
    await this.fire(next, moment, `${what} (#${index})`);
  }

  /** The cycle ended: its kills still pending fire now, while the source workflow records it and continues as new. */
  async endCycle(what: string): Promise<void> {
    for (;;) {
      if (this.firing) await this.firing;
      const next = this.plan.find((k) => !this.made.some((m) => m.id === k.id));
      if (!next || next.cycle > this.cycle) return;
      await this.fire(next, 'continue-as-new', what);
    }
  }

  pending(): number {
    return this.plan.length - this.made.length;
  }

  private fire(kill: PlannedKill, moment: Moment, event: string): Promise<void> {
    const run = async () => {
      await delay(kill.delayMs);
      const record: KillRecord = { id: kill.id, cycle: this.cycle, planned: kill.moment, moment, event, atSeconds: Math.round((Date.now() - this.started) / 100) / 10, target: 'worker' };
      let pid: number | undefined;
      if (kill.moment === 'runner' && this.targets.killRunner) {
        pid = await this.targets.killRunner();
        if (pid !== undefined) record.target = 'runner';
      }
      if (pid === undefined) pid = await this.targets.killWorker();
      if (pid !== undefined) record.pid = pid;
      this.made.push(record);
      this.log(`kill ${kill.id}: SIGKILL ${record.target} ${pid ?? '?'} at ${moment} (${event}), cycle ${this.cycle}; back in ${kill.pauseMs} ms`);
      if (record.target === 'worker') {
        await delay(kill.pauseMs);
        await this.targets.restartWorker();
      }
    };
    this.firing = run().finally(() => (this.firing = undefined));
    return this.firing;
  }
}
