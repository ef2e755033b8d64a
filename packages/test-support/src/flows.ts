import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { Readable } from "node:stream";
import type { StartedServer, TestHub as AnyTestHub } from "./hub.js";
import { eventually } from "./hub.js";

/** What the flows need of a hub: its API caller (a TestHub, or `hubAt(url)` for a hub in another process). */
type TestHub = Pick<AnyTestHub<StartedServer>, "api">;

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Uploads a local file to a storage link the way Azure's Put Blob does. */
export async function putFile(href: string, path: string): Promise<Response> {
  const size = (await stat(path)).size;
  return fetch(href, {
    method: "PUT",
    headers: {
      "x-ms-blob-type": "BlockBlob",
      "content-type": "application/octet-stream",
      "content-length": String(size),
    },
    body: Readable.toWeb(createReadStream(path)) as ReadableStream,
    duplex: "half",
  } as RequestInit);
}

/** create → upload → complete → poll, as the official clients do; returns the initialized iModel. */
export async function createIModelFromFile(
  hub: TestHub,
  path: string,
  options: { iTwinId?: string; name?: string; user?: string } = {},
): Promise<Json> {
  const size = (await stat(path)).size;
  const created = await hub.api<Json>("POST", "", {
    user: options.user ?? "alice",
    body: {
      iTwinId: options.iTwinId ?? "11111111-1111-4111-8111-111111111111",
      name: options.name ?? `model-${Math.random().toString(36).slice(2)}`,
      baselineFile: { size },
    },
  });
  if (created.status !== 201) throw new Error(`create failed: ${created.status} ${created.text}`);
  const iModel = created.body.iModel;
  const upload = await putFile(iModel._links.upload.href, path);
  if (upload.status !== 201) throw new Error(`upload failed: ${upload.status}`);
  const completed = await hub.api<Json>("POST", `/${iModel.id}/baselinefile`, { body: {} });
  if (completed.status !== 200) throw new Error(`complete failed: ${completed.status} ${completed.text}`);
  await eventually(
    async () => {
      const r = await hub.api<Json>("GET", `/${iModel.id}/baselinefile`);
      if (r.body.baselineFile.state === "initializationFailed") throw new Error(`baseline failed: ${r.text}`);
      return r.body.baselineFile.state === "initialized" ? true : undefined;
    },
    120_000,
    "baseline initialization",
  );
  return (await hub.api<Json>("GET", `/${iModel.id}`)).body.iModel;
}

export async function acquireBriefcase(hub: TestHub, iModelId: string, user = "alice"): Promise<number> {
  const r = await hub.api<Json>("POST", `/${iModelId}/briefcases`, { user, body: {} });
  if (r.status !== 201) throw new Error(`acquire failed: ${r.status} ${r.text}`);
  return r.body.briefcase.briefcaseId;
}

export interface ChangesetFile {
  id: string;
  parentId: string;
  pathname: string;
  size?: number;
  description?: string;
  changesType?: number;
}

/** create → upload → complete for one real changeset file; returns the completed changeset JSON. */
export async function pushChangeset(
  hub: TestHub,
  iModelId: string,
  briefcaseId: number,
  cs: ChangesetFile,
  user = "alice",
): Promise<Json> {
  const size = (await stat(cs.pathname)).size;
  const created = await hub.api<Json>("POST", `/${iModelId}/changesets`, {
    user,
    body: {
      id: cs.id,
      parentId: cs.parentId,
      briefcaseId,
      description: cs.description ?? "test",
      containingChanges: cs.changesType ?? 0,
      fileSize: size,
    },
  });
  if (created.status !== 201 && created.status !== 200)
    throw new Error(`create changeset failed: ${created.status} ${created.text}`);
  const upload = await putFile(created.body.changeset._links.upload.href, cs.pathname);
  if (upload.status !== 201) throw new Error(`upload failed: ${upload.status}`);
  const done = await hub.api<Json>("PATCH", created.body.changeset._links.complete.href, {
    user,
    body: { state: "fileUploaded", briefcaseId },
  });
  if (done.status !== 200) throw new Error(`complete failed: ${done.status} ${done.text}`);
  return done.body.changeset;
}
