// Counting the iTwin.js worker's changeset id computations around one step of a test (a push's id is to be computed
// once: from the upload as it is stored, or from the completion's own copy, never both).
import type { ITwinWorker } from "../../src/adapters/itwin-worker/itwin-worker.js";

/** Runs `step` with `worker.computeChangesetId` counted; its result and the count. The worker is restored after. */
export async function countingIdComputations<T>(
  worker: ITwinWorker,
  step: () => Promise<T>,
): Promise<{ result: T; computed: number }> {
  const compute = worker.computeChangesetId.bind(worker);
  let computed = 0;
  worker.computeChangesetId = async (args) => {
    computed++;
    return compute(args);
  };
  try {
    return { result: await step(), computed };
  } finally {
    worker.computeChangesetId = compute;
  }
}
