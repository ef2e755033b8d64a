// A push as iTwin.js's `pushChangeset` asks: create the changeset, upload its file, and send its completion until
// the hub answers it.
import { readFileSync, statSync } from "node:fs";
import type { ChangesetFileProps } from "@itwin/core-common";
import type { ModelHubClient } from "@modelhub/client";
import { MAX_ONE_REQUEST_PUSH_BYTES } from "@modelhub/protocol";
import type { Changeset } from "@modelhub/protocol";
import { callHub, hostErrorOf } from "./errors.js";
import { hubErrorOf, HubHttpError, HubUnreachableError, isTransient, sleep } from "./hub-calls.js";
import { bentley, common } from "./host.js";
import type { Retrying } from "./transfers.js";
import { uploadFile } from "./transfers.js";

export interface PushSettings {
  retry: Retrying;
  wholeFileLimit: number;
  /** See `ModelHubAccessOptions.pushOutcomeTimeoutMs`. */
  pushOutcomeTimeoutMs: number;
  /** See `ModelHubAccessOptions.oneRequestPushBytes`. */
  oneRequestPushBytes: number;
  /** Hubs (API bases) that answered a push in one request as an unknown route (older modelhub versions). */
  withoutOneRequestPush: Set<string>;
}

/** Pushes the changeset file of `props` through `hub` (authorized as the caller); answers its index. */
export async function pushChangeset(
  hub: ModelHubClient,
  iModelId: string,
  props: ChangesetFileProps,
  settings: PushSettings,
): Promise<number> {
  const fileSize = statSync(props.pathname).size; // sync, as uploadFile's read: it would wait behind iTwin.js's native work
  const description =
    props.description && props.description.length >= 255 ? props.description.slice(0, 254) : props.description;
  const input = {
    id: props.id,
    parentId: props.parentId,
    briefcaseId: props.briefcaseId,
    ...(description !== undefined ? { description } : {}),
    containingChanges: props.changesType,
    fileSize,
    // A modelhub extension of the API: iTwin.js's changeset health statistics use it (HubMock keeps it too).
    ...(props.uncompressedSize !== undefined ? { uncompressedSize: props.uncompressedSize } : {}),
  };
  try {
    if (fileSize <= Math.min(settings.oneRequestPushBytes, MAX_ONE_REQUEST_PUSH_BYTES)) {
      if (!settings.withoutOneRequestPush.has(hub.apiBase)) {
        // A modelhub extension: create, upload and complete in one request (three round trips fewer).
        const file = readFileSync(props.pathname); // sync, as the stat above
        const pushed = await untilAnswered(
          hub,
          props.id,
          () => hub.pushChangeset(iModelId, input, file),
          settings,
          (err) => err.status === 404 && err.code === "NotFound",
        );
        if (pushed) return pushed.index;
        settings.withoutOneRequestPush.add(hub.apiBase);
      }
    }
    const created = await callHub("pushChangeset", () => hub.createChangeset(iModelId, input));
    await uploadFile(created._links.upload!.href, props.pathname, fileSize, settings.retry, settings.wholeFileLimit);
    const completed = await untilAnswered(
      hub,
      created.id,
      () => hub.completeChangeset(iModelId, created, props.briefcaseId),
      settings,
    );
    return completed!.index;
  } catch (err) {
    // The hub already has it (a retry whose first answer was lost): that push succeeded.
    if (err instanceof common.IModelError && err.errorNumber === bentley.IModelHubStatus.ChangeSetAlreadyExists) {
      const existing = await callHub("queryChangeset", () => hub.getChangeset(iModelId, props.id));
      if (existing.parentId === props.parentId && existing.state === "fileUploaded") return existing.index;
    }
    throw err;
  }
}

/**
 * Sends a push's completion until the hub answers it. What the client answers iTwin.js decides the fate of the
 * edits: a failed push leaves them as pending local changes, a successful one marks them pushed. A completion
 * whose answer was lost may have been committed, so "cannot reach the hub" is no answer: were it reported as a
 * failure while the hub has the changeset, the briefcase would apply its own changeset onto its own pending
 * changes at every later pull and fail ("PRIMARY KEY INSERT CONFLICT - rejecting this changeset") for good. The
 * hub treats a repeated completion as the same request, so it is sent again until the hub answers (a success, or
 * a refusal that says it was not committed) or `pushOutcomeTimeoutMs` has passed.
 */
async function untilAnswered(
  hub: ModelHubClient,
  changesetId: string,
  send: () => Promise<Changeset>,
  settings: PushSettings,
  /** A refusal that means "not done, try otherwise": answered `undefined` instead of thrown. */
  declined?: (err: HubHttpError) => boolean,
): Promise<Changeset | undefined> {
  const deadline = Date.now() + settings.pushOutcomeTimeoutMs;
  for (let round = 1; ; round++) {
    try {
      return await send();
    } catch (thrown) {
      const err = hubErrorOf(thrown, "pushChangeset");
      const unanswered = err instanceof HubUnreachableError || (err instanceof HubHttpError && isTransient(err.status));
      if (err instanceof HubHttpError && !unanswered && declined?.(err)) return undefined;
      if (err instanceof HubHttpError && !unanswered) throw await hostErrorOf(err, "pushChangeset", hub);
      if (!unanswered) throw err;
      if (Date.now() >= deadline) {
        throw new common.IModelError(
          bentley.IModelHubStatus.Unknown,
          `pushChangeset: the hub did not answer the completion of changeset ${changesetId} within ${+(settings.pushOutcomeTimeoutMs / 1000).toFixed(1)} s (${(err as Error).message}); ` +
            "if it has the changeset, this briefcase's local changes are that changeset and it cannot pull it: download a new briefcase",
        );
      }
      const delay = Math.min(settings.retry.policy.maxDelayMs, deadline - Date.now()) * (0.75 + Math.random() / 2);
      settings.retry.logger.warn(
        `pushChangeset: no answer to the completion of changeset ${changesetId} (${(err as Error).message}); asking again (round ${round + 1}) in ${Math.round(delay)} ms`,
      );
      await sleep(delay);
    }
  }
}
