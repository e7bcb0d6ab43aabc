/** Work a cancelled workflow still owes. */
import { CancellationScope } from '@temporalio/workflow';

/**
 * Runs `work` outside the cancelled scope, where activities would fail at once, so what a
 * cancelled cycle still owes (reading its outcomes, recording them) gets done. `allowed` is asked
 * only when the scope is cancelled, so a patch check there records no marker otherwise.
 */
export function evenIfCancelled<T>(work: () => Promise<T>, allowed: () => boolean = () => true): Promise<T> {
  return CancellationScope.current().consideredCancelled && allowed() ? CancellationScope.nonCancellable(work) : work();
}
