// `modelhub serve --blobs azure:<container>` on Azurite: the official clients 6.0.2 and @modelhub/backend-access
// (iTwin.js BriefcaseDb) upload and download every file straight to and from Azurite through SAS links; the hub
// serves no /storage request and no file byte itself.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { copyFile, mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { after, before, describe, it } from "node:test";
import type * as AuthoringTypes from "@itwin/imodels-client-authoring";
import type * as ManagementTypes from "@itwin/imodels-client-management";
import type { Azurite } from "@modelhub/test-support/azurite.js";
import { startAzurite } from "@modelhub/test-support/azurite.js";
import { makeChangesets } from "@modelhub/test-support/fixtures.js";
import type { HubProcess } from "@modelhub/test-support/hub-process.js";
import { startHubProcess } from "@modelhub/test-support/hub-process.js";
import { eventually } from "../support/hub.js";
import type { ITwinAgent } from "../support/itwin-agent.js";
import { startITwinAgent } from "../support/itwin-agent.js";

const require = createRequire(import.meta.url);
const authoring = require("@itwin/imodels-client-authoring") as typeof AuthoringTypes;
const management = require("@itwin/imodels-client-management") as typeof ManagementTypes;
const { createDefaultClientStorage } = require("@itwin/imodels-access-backend/lib/cjs/DefaultClientStorage.js") as {
  createDefaultClientStorage: () => AuthoringTypes.IModelsClientOptions["cloudStorage"];
};

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");
const auth = (user: string) => async () => ({ scheme: "Bearer", token: user });
const ITWIN = "9b1e2f3a-4c5d-4e6f-8a7b-1c2d3e4f5a6b";

describe("Azure blobs: clients move bytes straight to and from Azurite", () => {
  let azurite: Azurite;
  let hub: HubProcess;
  let agent: ITwinAgent | undefined;
  let work: string;
  let fixture: Awaited<ReturnType<typeof makeChangesets>>;
  let iModelId: string;
  const container = `e2e-${process.pid}`;
  /** Every link the hub handed out in an API answer. */
  const links: string[] = [];

  async function api<T = Json>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const response = await fetch(`${hub.url}/imodels${path}`, {
      method,
      headers: {
        authorization: "Bearer alice",
        accept: "application/vnd.bentley.itwin-platform.v2+json",
        ...(body ? { "content-type": "application/json" } : {}),
      },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    for (const m of text.matchAll(/"href":"([^"]+)"/g)) links.push(m[1]!);
    return { status: response.status, body: (text ? JSON.parse(text) : {}) as T };
  }

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "modelhub-azure-e2e-"));
    // Copies of the shared fixtures: this test must not touch them in place.
    const shared = await makeChangesets(join(tmpdir(), "modelhub-fixtures"), 3);
    await mkdir(join(work, "fixture"));
    const copy = async (path: string) => {
      const target = join(work, "fixture", basename(path));
      await copyFile(path, target);
      return target;
    };
    fixture = {
      ...shared,
      version0Path: await copy(shared.version0Path),
      changesets: await Promise.all(
        shared.changesets.map(async (cs) => ({ ...cs, pathname: await copy(cs.pathname) })),
      ),
    };
    azurite = await startAzurite();
    hub = await startHubProcess({
      args: ["--blobs", `azure:${container}`],
      env: { AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString },
    });
  });
  after(async () => {
    await agent?.stop();
    await hub?.stop();
    await azurite?.stop();
    await rm(work, { recursive: true, force: true });
  });

  it("the official clients create an iModel from a baseline, push and read changesets byte-identical", async () => {
    const client = new authoring.IModelsClient({
      api: { baseUrl: `${hub.url}/imodels` },
      cloudStorage: createDefaultClientStorage(),
    });
    const iModel = await client.iModels.createFromBaseline({
      authorization: auth("alice"),
      iModelProperties: { iTwinId: ITWIN, name: "On Azure", filePath: fixture.version0Path },
    });
    assert.equal(iModel.state, "initialized");
    iModelId = iModel.id;
    const { briefcaseId } = await client.briefcases.acquire({ authorization: auth("alice"), iModelId });
    for (const cs of fixture.changesets) {
      const pushed = await client.changesets.create({
        authorization: auth("alice"),
        iModelId,
        changesetProperties: {
          id: cs.id,
          parentId: cs.parentId || undefined,
          briefcaseId,
          description: cs.description,
          containingChanges: 0,
          filePath: cs.pathname,
        },
      });
      assert.equal(pushed.state, "fileUploaded");
    }
    await client.briefcases.release({ authorization: auth("alice"), iModelId, briefcaseId });
    const downloaded = await client.changesets.downloadList({
      authorization: auth("alice"),
      iModelId,
      targetDirectoryPath: join(work, "official-cs"),
    });
    assert.equal(downloaded.length, 3);
    for (const cs of fixture.changesets) {
      const file = downloaded.find((d) => d.id === cs.id)!;
      assert.equal(sha256(await readFile(file.filePath)), sha256(await readFile(cs.pathname)), `changeset ${cs.index}`);
    }
    // The links the official clients got point at Azurite, each signed for one blob.
    const listed = await management.toArray(
      client.changesets.getRepresentationList({ authorization: auth("alice"), iModelId }),
    );
    for (const cs of listed) {
      assert.ok(
        cs._links.download?.href.startsWith(`${azurite.blobEndpoint}/${container}/files/${iModelId}/changesets/`),
        cs._links.download?.href,
      );
      assert.match(cs._links.download!.href, /[?&]sig=/);
    }
  });

  it("@modelhub/backend-access: a briefcase pushes, a second one starts from a checkpoint and pulls to the tip", async () => {
    agent = await startITwinAgent(hub.url, "alice");
    const common = { iModelId, iTwinId: ITWIN, dir: join(work, "briefcases") };
    // The first briefcase: the baseline's checkpoint plus the three changesets, all downloaded from Azurite.
    assert.deepEqual(await agent.do("download", { ...common, key: "a" }), {
      briefcaseId: 3,
      changesetIndex: 3,
      count: fixture.changesets.length * 5,
    });
    await agent.do("insert", { key: "a", count: 4 });
    assert.equal(await agent.do("push", { key: "a", description: "four more" }), 4);
    // A checkpoint at changeset 4: the job reads the changesets from Azure and writes the checkpoint there.
    const version = await api("POST", `/${iModelId}/namedversions`, { name: "v4", changesetIndex: 4 });
    assert.equal(version.status, 201);
    await eventually(
      async () =>
        (await api(`GET`, `/${iModelId}/namedversions/${version.body.namedVersion.id}/checkpoint`)).body.checkpoint
          ?.state === "successful"
          ? true
          : undefined,
      60_000,
      "checkpoint of v4",
    );
    const checkpoint = await api(`GET`, `/${iModelId}/changesets/4/checkpoint`);
    assert.ok(
      checkpoint.body.checkpoint._links.download.href.startsWith(
        `${azurite.blobEndpoint}/${container}/files/${iModelId}/checkpoints/4`,
      ),
      checkpoint.body.checkpoint._links.download.href,
    );

    // The second briefcase opens that checkpoint (no changeset to apply); then the first pushes again and it pulls.
    assert.deepEqual(await agent.do("download", { ...common, key: "b" }), {
      briefcaseId: 4,
      changesetIndex: 4,
      count: 19,
    });
    await agent.do("insert", { key: "a", count: 2 });
    assert.equal(await agent.do("push", { key: "a", description: "two more" }), 5);
    assert.deepEqual(await agent.do("pull", { key: "b" }), { changesetIndex: 5, count: 21 });

    // What iTwin.js pushed is what Azurite holds, byte for byte, reached through the hub's link.
    // The agent hashed each changeset file before iTwin.js sent it.
    const acked = await agent.do<{ index: number; sha256: string }[]>("acked");
    assert.deepEqual(
      acked.map((p) => p.index),
      [4, 5],
    );
    for (const push of acked) {
      const changeset = await api<Json>("GET", `/${iModelId}/changesets/${push.index}`);
      const href: string = changeset.body.changeset._links.download.href;
      assert.ok(href.startsWith(`${azurite.blobEndpoint}/${container}/`), href);
      const bytes = Buffer.from(await (await fetch(href)).arrayBuffer());
      assert.equal(sha256(bytes), push.sha256, `changeset ${push.index}`);
    }
  });

  it("every link handed out points at Azurite, and the hub served no /storage request and no file byte", async () => {
    const storageLinks = links.filter((href) => !href.startsWith(`${hub.url}/imodels`));
    assert.ok(storageLinks.length >= 4, `links seen: ${storageLinks.length}`);
    for (const href of storageLinks) assert.ok(href.startsWith(`${azurite.blobEndpoint}/${container}/files/`), href);
    const metrics = await (await fetch(`${hub.url}/metrics`)).text();
    const requests = [...metrics.matchAll(/^modelhub_http_requests_total\{([^}]*)\} (\d+)/gm)].map((m) => ({
      labels: m[1]!,
      count: Number(m[2]),
    }));
    // The counter works (the API calls are in it) and holds no /storage route at all.
    assert.ok(
      requests.some((r) => r.labels.includes(`route="/imodels/:id/changesets"`) && r.count > 0),
      metrics.slice(0, 2000),
    );
    assert.deepEqual(
      requests.filter((r) => r.labels.includes(`route="/storage`)),
      [],
    );
    for (const m of metrics.matchAll(/^modelhub_storage_bytes_total\{[^}]*\} (\d+)/gm))
      assert.equal(Number(m[1]), 0, m[0]);
  });
});
