// Creating an iModel as iTwin.js's `createNewIModel` asks: the baseline file made locally, uploaded, and waited for
// until the hub has initialized it.
import { copyFile, mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CreateNewIModelProps } from "@itwin/core-backend";
import type { ModelHubClient } from "@modelhub/client";
import type { IModel } from "@modelhub/protocol";
import { callHub } from "./errors.js";
import { backend, bentley, common } from "./host.js";
import type { Retrying } from "./transfers.js";
import { uploadFile } from "./transfers.js";

/** Creates the iModel through `hub` (authorized as the caller) and answers its id once the hub initialized it. */
export async function createIModel(
  hub: ModelHubClient,
  arg: CreateNewIModelProps,
  settings: { retry: Retrying; createTimeoutMs: number },
): Promise<string> {
  const work = await mkdtemp(join(tmpdir(), "modelhub-create-"));
  try {
    // The hub stamps ids and resets the briefcase; the client only adds what the hub cannot know.
    const baseline = join(work, "baseline.bim");
    if (arg.version0) {
      await copyFile(arg.version0, baseline);
    } else {
      backend.SnapshotDb.createEmpty(baseline, { rootSubject: { name: arg.description ?? arg.iModelName } }).close();
    }
    if (arg.noLocks) {
      const db = backend.IModelDb.openDgnDb({ path: baseline }, bentley.OpenMode.ReadWrite);
      try {
        db.saveLocalValue("NoLocking", "true");
        db.saveChanges();
      } finally {
        db.closeFile();
      }
    }
    const size = (await stat(baseline)).size;
    const input = {
      iTwinId: arg.iTwinId,
      name: arg.iModelName,
      ...(arg.description ? { description: arg.description } : {}),
    };
    let retried = false;
    let created: IModel;
    try {
      // Sent again like the hub's idempotent requests: a repeat of a create that was done answers iModelExists,
      // which is handled here.
      created = await callHub("createIModel", () =>
        hub.createIModel(input, size, { idempotent: true, onRetry: () => (retried = true) }),
      );
    } catch (err) {
      // The first answer was lost after the hub had created the iModel, so the re-sent create met our own iModel.
      // Its upload link was in that lost answer: remove it (it has no content yet) and create it again.
      if (
        !retried ||
        !(err instanceof common.IModelError) ||
        err.errorNumber !== bentley.IModelHubStatus.iModelAlreadyExists
      )
        throw err;
      if (!(await dropUnfinishedIModel(arg.iTwinId, arg.iModelName, hub))) throw err;
      created = await callHub("createIModel", () => hub.createIModel(input, size, { idempotent: true }));
    }
    const iModelId = created.id;
    await uploadFile(created._links.upload!.href, baseline, size, settings.retry);
    await callHub("completeBaseline", () => hub.completeBaselineFile(created));
    const deadline = Date.now() + settings.createTimeoutMs;
    for (;;) {
      const baselineFile = await callHub("getBaseline", () => hub.getBaselineFile(iModelId));
      if (baselineFile.state === "initialized") return iModelId;
      if (baselineFile.state === "initializationFailed") {
        throw new common.IModelError(
          bentley.IModelStatus.BadRequest,
          `modelhub could not initialize the iModel: ${baselineFile.failureReason ?? "no reason given"}`,
        );
      }
      if (Date.now() > deadline)
        throw new common.IModelError(
          bentley.IModelHubStatus.OperationFailed,
          `modelhub did not initialize iModel ${iModelId} in time.`,
        );
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Deletes the iModel of that name if it still waits for its baseline file; says whether it did. */
async function dropUnfinishedIModel(iTwinId: string, name: string, hub: ModelHubClient): Promise<boolean> {
  return callHub("createIModel", async () => {
    for await (const iModel of hub.iModels(iTwinId, { name })) {
      if (iModel.name !== name || iModel.state !== "notInitialized") continue;
      if ((await hub.getBaselineFile(iModel.id)).state !== "waitingForFile") continue;
      await hub.deleteIModel(iModel.id);
      return true;
    }
    return false;
  });
}
