/**
 * This node's job runner, told that a transaction which queued a job (`MetadataTx.enqueueJob`) has committed, so it
 * looks for work now instead of at its next poll. Other nodes, and this one if the call is missed, find the job by
 * polling: the call only saves time. Called from `MetadataTx.afterCommit` effects, so it MUST return at once and
 * MUST NOT throw.
 */
export interface JobWakeup {
  jobQueued(): void;
  /** Likewise for the webhook deliverer: a transaction recorded a webhook event to fan out (issue 21). */
  webhookQueued?(): void;
}

/** For services built without a runner (tools, tests of one service): queued jobs wait for the next poll. */
export const noJobWakeup: JobWakeup = { jobQueued: () => undefined };
