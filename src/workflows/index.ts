/** The workflow bundle: every workflow type the worker registers. */
export { sourceWorkflow } from './source';
export { cycleWorkflow } from './cycle';
export { tableBatchWorkflow } from './batch';
export { triggerWorkflow } from './trigger';
