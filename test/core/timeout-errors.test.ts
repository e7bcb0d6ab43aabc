/**
 * An activity that timed out for good, as the workflow receives it from the server: the failure
 * names the step, the timeout and the last attempt's own error, not only "Activity task timed out".
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DefaultFailureConverter, defaultPayloadConverter } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import { activityTimeout, errorMessage } from '../../src/workflows/errors';

type ProtoFailure = temporal.api.failure.v1.IFailure;
const converter = new DefaultFailureConverter();
const decoded = (failure: ProtoFailure) => converter.failureToError(failure, defaultPayloadConverter);

/** An export start refused for 24 hours (ExportTaskLimitReached, retried until its schedule-to-close timeout). */
const exportStartTimedOut: ProtoFailure = {
  message: 'Activity task timed out',
  activityFailureInfo: { activityType: { name: 'startExport' }, activityId: '7', retryState: 3 },
  cause: {
    message: 'activity ScheduleToClose timeout',
    // SCHEDULE_TO_CLOSE; the server keeps the last attempt's failure as the cause.
    timeoutFailureInfo: { timeoutType: 3 },
    cause: { message: 'export failed for snapshot lakesync-shop-3-x: ExportTaskLimitReachedFault: 5 export tasks are running', applicationFailureInfo: { type: 'ExportTaskLimitReachedFault' } },
  },
};

describe('an activity that timed out for good', () => {
  test("names the activity, the timeout and the last attempt's error", () => {
    const message = errorMessage(decoded(exportStartTimedOut));
    assert.match(message, /startExport/);
    assert.match(message, /SCHEDULE_TO_CLOSE/);
    assert.match(message, /ExportTaskLimitReachedFault: 5 export tasks are running/);
  });

  test('through the child workflow that failed with it', () => {
    const child: ProtoFailure = {
      message: 'Child Workflow execution failed',
      childWorkflowExecutionFailureInfo: { namespace: 'default', workflowType: { name: 'cycleWorkflow' }, workflowExecution: { workflowId: 'lakesync/shop/cycle-3-x', runId: 'r' } },
      cause: exportStartTimedOut,
    };
    assert.match(errorMessage(decoded(child)), /startExport timed out \(SCHEDULE_TO_CLOSE timeout\).*ExportTaskLimitReachedFault/);
  });

  test('a last attempt that timed out itself (no heartbeat) has no error of its own', () => {
    const heartbeat: ProtoFailure = {
      message: 'Activity task timed out',
      activityFailureInfo: { activityType: { name: 'verifyTable' }, activityId: '9', retryState: 5 },
      cause: { message: 'activity Heartbeat timeout', timeoutFailureInfo: { timeoutType: 4 } },
    };
    assert.deepEqual(activityTimeout(decoded(heartbeat)), { activityType: 'verifyTable', timeoutType: 'HEARTBEAT' });
    assert.equal(errorMessage(decoded(heartbeat)), 'activity verifyTable timed out (HEARTBEAT timeout) and no attempt is left');
  });

  test('other failures keep their own message', () => {
    const failed: ProtoFailure = { message: 'Activity task failed', activityFailureInfo: { activityType: { name: 'grantTable' } }, cause: { message: 'grant failed for lake table shop.a: AccessDenied', applicationFailureInfo: { type: 'AccessDenied', nonRetryable: true } } };
    assert.equal(errorMessage(decoded(failed)), 'grant failed for lake table shop.a: AccessDenied');
    assert.equal(activityTimeout(decoded(failed)), undefined);
  });
});
