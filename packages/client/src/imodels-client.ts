// The iModels, changesets and named versions of the iModels API, as ModelHubClient calls them.
import { stat } from "node:fs/promises";
import type { Changeset, CreateIModelOperationDetails, IModel, NamedVersion } from "@modelhub/protocol";
import { CHANGESET_PROPERTIES_HEADER, INLINE_FILES_HEADER } from "@modelhub/protocol";
import { ModelHubError } from "./errors.js";
import { sleep } from "./http.js";
import type { ProgressCallback } from "./transfers.js";
import { downloadFile, uploadFile } from "./transfers.js";
import type {
  BaselineFileInfo,
  ChangesetQuery,
  ChangesetRef,
  CreateIModelInput,
  CallOptions,
  CreateChangesetInput,
} from "./client-types.js";
import { query, pageSize, ref } from "./client-base.js";
import { ITwinsClient } from "./itwins-client.js";

/** iModels (create, baseline, initialization), changesets (push, pull, download) and named versions. */
export class IModelsClient extends ITwinsClient {
  // iModels

  /** An iTwin's iModels; `includeFailed` (a modelhub extension) adds those whose baseline failed (state notInitialized). */
  iModels(
    iTwinId: string,
    filter: { name?: string; search?: string; includeFailed?: boolean; pageSize?: number } = {},
  ): AsyncGenerator<IModel> {
    const q = query({
      iTwinId,
      $top: pageSize(filter.pageSize),
      name: filter.name,
      $search: filter.search,
      $includeFailed: filter.includeFailed ? "true" : undefined,
    });
    return this.paged<IModel>(`?${q}`, "iModels");
  }

  async getIModel(iModelId: string): Promise<IModel> {
    return (await this.request<{ iModel: IModel }>("GET", `/${encodeURIComponent(iModelId)}`)).iModel;
  }

  /** An empty iModel (the hub makes its baseline); see {@link createIModelFromFile} for one from a .bim file. */
  async createIModel(input: CreateIModelInput, baselineFileSize?: number, call: CallOptions = {}): Promise<IModel> {
    const body = { ...input, ...(baselineFileSize !== undefined ? { baselineFile: { size: baselineFileSize } } : {}) };
    return (await this.send<{ iModel: IModel }>("POST", "", { body, expected: [201], ...call })).iModel;
  }

  /**
   * Tells the hub the baseline file is uploaded (`_links.complete` of a created iModel); it then initializes the
   * iModel. A repeated completion is answered like the first, so it is retried like an idempotent request.
   */
  async completeBaselineFile(iModel: IModel): Promise<void> {
    await this.send("POST", iModel._links.complete?.href ?? `/${encodeURIComponent(iModel.id)}/baselinefile`, {
      body: {},
      expected: [200],
      idempotent: true,
    });
  }

  async deleteIModel(iModelId: string): Promise<void> {
    await this.request("DELETE", `/${encodeURIComponent(iModelId)}`, undefined, [204]);
  }

  async getBaselineFile(iModelId: string): Promise<BaselineFileInfo> {
    return (
      await this.request<{ baselineFile: BaselineFileInfo }>("GET", `/${encodeURIComponent(iModelId)}/baselinefile`)
    ).baselineFile;
  }

  async getCreateOperation(iModelId: string): Promise<CreateIModelOperationDetails & { failureReason?: string }> {
    return (
      await this.request<{ createOperation: CreateIModelOperationDetails & { failureReason?: string } }>(
        "GET",
        `/${encodeURIComponent(iModelId)}/operations/create`,
      )
    ).createOperation;
  }

  /**
   * create → Put Blob of the file → complete → wait until the hub initialized it. A failed initialization throws a
   * ModelHubError `iModelInitializationFailed` with the hub's reason; the iModel stays (delete it or try again).
   */
  async createIModelFromFile(
    input: CreateIModelInput & {
      path: string;
      onProgress?: ProgressCallback;
      timeoutMs?: number;
      onCreated?: (iModel: IModel) => void;
    },
  ): Promise<IModel> {
    const { path, onProgress, timeoutMs, onCreated, ...fields } = input;
    const size = (await stat(path)).size;
    const created = await this.createIModel(fields, size);
    onCreated?.(created);
    const upload = created._links.upload;
    if (!upload)
      throw new ModelHubError(201, "UnexpectedResponse", "The hub gave no upload link for the baseline file.");
    await uploadFile(upload.href, path, this.transferOptions(onProgress));
    await this.completeBaselineFile(created);
    await this.waitForInitialization(created.id, timeoutMs);
    return this.getIModel(created.id);
  }

  /** Polls until the iModel is initialized; a failed initialization throws with the hub's reason. */
  async waitForInitialization(iModelId: string, timeoutMs = 10 * 60_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    for (let wait = 100; ; wait = Math.min(2000, wait * 2)) {
      const operation = await this.getCreateOperation(iModelId);
      if (operation.state === "successful") return;
      if (operation.state === "failed") {
        throw new ModelHubError(
          200,
          "iModelInitializationFailed",
          `The hub could not initialize iModel ${iModelId}: ${operation.failureReason ?? "no reason given"} (the iModel stays until deleted)`,
        );
      }
      if (Date.now() > end)
        throw new ModelHubError(
          0,
          "Timeout",
          `iModel ${iModelId} is still '${operation.state}' after ${Math.round(timeoutMs / 1000)} s.`,
        );
      await sleep(wait);
    }
  }

  // Changesets

  changesets(iModelId: string, filter: ChangesetQuery = {}): AsyncGenerator<Changeset> {
    const q = query({
      $top: pageSize(filter.pageSize),
      afterIndex: filter.afterIndex,
      lastIndex: filter.lastIndex,
      $orderBy: filter.descending ? "index desc" : undefined,
    });
    return this.paged<Changeset>(`/${encodeURIComponent(iModelId)}/changesets?${q}`, "changesets");
  }

  /**
   * The changesets, as `changesets`, with the files of small ones (a modelhub extension; docs/imodels-api.md): each
   * page asks for up to `inlineBytes` of its first files in the answer, so a pull of small changesets needs no
   * download request. A changeset whose file did not come inline has none here (download it through its link); a
   * hub without the extension answers plain pages.
   */
  async *changesetsWithFiles(
    iModelId: string,
    filter: ChangesetQuery,
    inlineBytes: number,
  ): AsyncGenerator<{ changeset: Changeset; file?: Buffer }> {
    const q = query({
      $top: pageSize(filter.pageSize),
      afterIndex: filter.afterIndex,
      lastIndex: filter.lastIndex,
      $orderBy: filter.descending ? "index desc" : undefined,
    });
    let next: string | null = `/${encodeURIComponent(iModelId)}/changesets?${q}`;
    while (next) {
      const page: {
        changesets?: Changeset[];
        inlineFiles?: Record<string, string>;
        _links?: { next?: { href: string } | null };
      } = await this.request("GET", next, undefined, [200], { [INLINE_FILES_HEADER]: String(inlineBytes) });
      if (!Array.isArray(page.changesets))
        throw new ModelHubError(200, "UnexpectedResponse", "The answer has no 'changesets' list.");
      for (const changeset of page.changesets) {
        const inline = page.inlineFiles?.[changeset.id];
        yield inline !== undefined ? { changeset, file: Buffer.from(inline, "base64") } : { changeset };
      }
      next = page._links?.next?.href ?? null;
    }
  }

  async getChangeset(iModelId: string, changeset: ChangesetRef): Promise<Changeset> {
    return (
      await this.request<{ changeset: Changeset }>(
        "GET",
        `/${encodeURIComponent(iModelId)}/changesets/${ref(changeset)}`,
      )
    ).changeset;
  }

  /** The newest changeset, or undefined when only the baseline exists. */
  async latestChangeset(iModelId: string): Promise<Changeset | undefined> {
    const page = await this.request<{ changesets: Changeset[] }>(
      "GET",
      `/${encodeURIComponent(iModelId)}/changesets?$top=1&$orderBy=index%20desc`,
    );
    return page.changesets[0];
  }

  /**
   * Starts a push: the hub records the changeset (state `waitingForFile`) and answers its upload and completion
   * links. The changeset's id makes a repeat the same request (the hub answers the same changeset, or
   * `ChangesetExists` once it is complete), so it is retried like an idempotent request.
   */
  async createChangeset(iModelId: string, input: CreateChangesetInput): Promise<Changeset> {
    return (
      await this.send<{ changeset: Changeset }>("POST", `/${encodeURIComponent(iModelId)}/changesets`, {
        body: input,
        expected: [200, 201],
        idempotent: true,
      })
    ).changeset;
  }

  /**
   * A push in one request (a modelhub extension, `POST /imodels/{id}/changesets/push`: create, upload and complete at
   * once, for files up to 8 MiB): the changeset's properties travel in a header, the file is the body. Answers the
   * completed changeset. The hub treats a repeated push like a repeated completion, so it is retried like an
   * idempotent request; a changeset already complete is refused `ChangesetExists`, as a repeated create.
   */
  async pushChangeset(
    iModelId: string,
    input: CreateChangesetInput,
    file: Uint8Array,
    call: CallOptions = {},
  ): Promise<Changeset> {
    const properties = Buffer.from(JSON.stringify(input), "utf8").toString("base64url");
    return (
      await this.send<{ changeset: Changeset }>("POST", `/${encodeURIComponent(iModelId)}/changesets/push`, {
        bytes: file,
        headers: { [CHANGESET_PROPERTIES_HEADER]: properties },
        expected: [200, 201],
        idempotent: true,
        ...call,
      })
    ).changeset;
  }

  /**
   * Ends a push once its file is uploaded (`PATCH` of the changeset's `_links.complete`). The hub answers a repeated
   * completion like the first, so it is retried like an idempotent request; after the last try a
   * `NetworkError` or 5xx means the outcome is not known (backend-access asks again, see its README).
   */
  async completeChangeset(
    iModelId: string,
    changeset: Changeset,
    briefcaseId: number,
    call: CallOptions = {},
  ): Promise<Changeset> {
    const link =
      changeset._links.complete?.href ??
      `/${encodeURIComponent(iModelId)}/changesets/${encodeURIComponent(changeset.id)}`;
    return (
      await this.send<{ changeset: Changeset }>("PATCH", link, {
        body: { state: "fileUploaded", briefcaseId },
        expected: [200],
        idempotent: true,
        ...call,
      })
    ).changeset;
  }

  /** Downloads a changeset's file to `path`; returns the changeset. */
  async downloadChangeset(
    iModelId: string,
    changeset: ChangesetRef,
    path: string,
    onProgress?: ProgressCallback,
  ): Promise<Changeset> {
    const record = await this.getChangeset(iModelId, changeset);
    const link = record._links.download;
    if (!link)
      throw new ModelHubError(
        200,
        "InsufficientPermissions",
        `No download link for changeset ${record.index}: reading files needs imodels_read.`,
      );
    await downloadFile(link.href, path, { expectedSize: record.fileSize, ...this.transferOptions(onProgress) });
    return record;
  }

  // Named versions

  /** Named versions by changeset index; with `name`, only the one of that name. */
  namedVersions(iModelId: string, filter: { name?: string; pageSize?: number } = {}): AsyncGenerator<NamedVersion> {
    const q = query({ $top: pageSize(filter.pageSize), name: filter.name, $orderBy: "changesetIndex" });
    return this.paged<NamedVersion>(`/${encodeURIComponent(iModelId)}/namedversions?${q}`, "namedVersions");
  }

  /** Names a changeset (by index or id; index 0 is the baseline). */
  async createNamedVersion(
    iModelId: string,
    input: { name: string; description?: string; changeset: ChangesetRef },
  ): Promise<NamedVersion> {
    const body = {
      name: input.name,
      ...(input.description !== undefined ? { description: input.description } : {}),
      ...(typeof input.changeset === "number" ? { changesetIndex: input.changeset } : { changesetId: input.changeset }),
    };
    return (
      await this.request<{ namedVersion: NamedVersion }>(
        "POST",
        `/${encodeURIComponent(iModelId)}/namedversions`,
        body,
        [201],
      )
    ).namedVersion;
  }
}
