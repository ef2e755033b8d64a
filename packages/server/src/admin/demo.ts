// `modelhub demo`: something to look at in one command. Creates an iTwin (or reuses one of that name), an iModel from
// the sample baseline shipped in sample/, pushes its three changesets through a briefcase the way iTwin.js does
// (acquire → create → upload → complete, then release) and names two versions. Everything goes through the hub's
// API, so it works against any hub the token may write to, and what the UI then shows is real history.
import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import type { Briefcase, Changeset, IModel, ITwin, ModelHubClient } from "@modelhub/client";
import { ModelHubError, uploadFile } from "@modelhub/client";

/** sample/ beside dist/ (repository and packed server alike). */
export const SAMPLE_DIR = new URL("../../sample/", import.meta.url);

interface SampleManifest {
  baseline: string;
  changesets: { id: string; parentId: string; index: number; changesType: number; description: string; file: string }[];
  namedVersions: { name: string; changesetIndex: number; description: string }[];
}

export interface DemoResult {
  iTwin: { id: string; displayName: string; created: boolean };
  iModel: { id: string; name: string };
  changesets: number;
  namedVersions: string[];
  /** The iModel's page in the web UI. */
  webUrl: string;
}

export class DemoRefused extends Error {}

export async function runDemo(
  client: ModelHubClient,
  options: { iTwinName: string; iModelName: string; progress: (line: string) => void },
): Promise<DemoResult> {
  const manifest = JSON.parse(await readFile(new URL("manifest.json", SAMPLE_DIR), "utf8")) as SampleManifest;
  const { iTwin, created } = await iTwinNamed(client, options.iTwinName);
  for await (const m of client.iModels(iTwin.id, { name: options.iModelName })) {
    if (m.name === options.iModelName) {
      throw new DemoRefused(
        `iTwin '${iTwin.displayName}' already has an iModel '${m.name}' (${m.id}): delete it (modelhub imodels delete ${m.id} --yes) or pick another --imodel-name.`,
      );
    }
  }
  options.progress(
    created
      ? `created iTwin '${iTwin.displayName}' (${iTwin.id}); you are its Owner`
      : `using your iTwin '${iTwin.displayName}' (${iTwin.id})`,
  );

  const scratch = await mkdtemp(join(tmpdir(), "modelhub-demo-"));
  try {
    const baseline = join(scratch, "baseline.bim");
    await pipeline(
      createReadStream(new URL(manifest.baseline, SAMPLE_DIR)),
      createGunzip(),
      createWriteStream(baseline),
    );
    const iModel: IModel = await client.createIModelFromFile({
      iTwinId: iTwin.id,
      name: options.iModelName,
      description:
        "The sample iModel of modelhub demo: a physical model with twelve objects placed in three changesets.",
      path: baseline,
      onCreated: (m) => options.progress(`created iModel '${m.name}' (${m.id}); the hub is initializing its baseline…`),
    });

    const { briefcase } = await client.request<{ briefcase: Briefcase }>(
      "POST",
      `/${iModel.id}/briefcases`,
      { deviceName: "modelhub demo" },
      [201],
    );
    try {
      for (const cs of manifest.changesets) {
        const path = new URL(`changesets/${cs.file}`, SAMPLE_DIR).pathname;
        const { size } = await stat(path);
        const { changeset } = await client.request<{ changeset: Changeset }>(
          "POST",
          `/${iModel.id}/changesets`,
          {
            id: cs.id,
            parentId: cs.parentId,
            briefcaseId: briefcase.briefcaseId,
            description: cs.description,
            containingChanges: cs.changesType,
            fileSize: size,
          },
          [200, 201],
        );
        if (!changeset._links.upload || !changeset._links.complete)
          throw new ModelHubError(
            201,
            "UnexpectedResponse",
            "The hub gave no upload or complete link for the changeset.",
          );
        await uploadFile(changeset._links.upload.href, path);
        await client.request("PATCH", changeset._links.complete.href, {
          state: "fileUploaded",
          briefcaseId: briefcase.briefcaseId,
        });
        options.progress(`pushed changeset ${cs.index}: ${cs.description}`);
      }
    } finally {
      await client.releaseBriefcase(iModel.id, briefcase.briefcaseId).catch(() => undefined);
    }

    const names: string[] = [];
    for (const v of manifest.namedVersions) {
      await client.createNamedVersion(iModel.id, {
        name: v.name,
        description: v.description,
        changeset: v.changesetIndex,
      });
      names.push(v.name);
      options.progress(`named changeset ${v.changesetIndex} '${v.name}'`);
    }
    const origin = client.apiBase.slice(0, -"/imodels".length);
    return {
      iTwin: { id: iTwin.id, displayName: iTwin.displayName, created },
      iModel: { id: iModel.id, name: iModel.name },
      changesets: manifest.changesets.length,
      namedVersions: names,
      webUrl: `${origin}/#/imodels/${encodeURIComponent(iModel.id)}/changesets`,
    };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** One of the caller's iTwins by that name, or a new one (its Owner: the caller). */
async function iTwinNamed(client: ModelHubClient, name: string): Promise<{ iTwin: ITwin; created: boolean }> {
  for await (const t of client.iTwins({ search: name }))
    if (t.displayName === name) return { iTwin: t, created: false };
  return { iTwin: await client.createITwin({ displayName: name }), created: true };
}
