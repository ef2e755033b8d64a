// `modelhub demo` as a newcomer runs it against a fresh `modelhub serve`: one command leaves an iTwin, an iModel with
// a real three-changeset history and two named versions, whose checkpoints the hub makes by applying those
// changesets with iTwin.js (so the shipped sample really is one history). Run again, it refuses to overwrite.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, describe, it } from "node:test";
import type { HubProcess } from "@modelhub/test-support/hub-process.js";
import { startHubProcess } from "@modelhub/test-support/hub-process.js";
import { MODELHUB } from "@modelhub/test-support/cli.js";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

let hub: HubProcess;

function modelhub(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [...MODELHUB, ...args],
      { env: { ...process.env, MODELHUB_URL: hub.url, MODELHUB_TOKEN: "alice" } },
      (error, stdout, stderr) =>
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, out: stdout, err: stderr }),
    );
  });
}

async function api(path: string): Promise<Json> {
  const r = await fetch(`${hub.url}${path}`, {
    headers: {
      authorization: "Bearer alice",
      accept: "application/vnd.bentley.itwin-platform.v2+json",
      prefer: "return=representation",
    },
  });
  assert.equal(r.status, 200, `${path}: ${r.status}`);
  return (await r.json()) as Json;
}

describe("modelhub demo", () => {
  before(async () => {
    hub = await startHubProcess();
  });
  after(async () => {
    await hub?.stop();
  });

  it("creates an iTwin, an iModel, three changesets and two named versions, and prints the web UI link", async () => {
    const r = await modelhub(["demo"]);
    assert.equal(r.code, 0, r.err);
    const link = /^open it in the web UI: (http:\/\/\S+)$/m.exec(r.out)?.[1];
    assert.ok(link, r.out);
    const iModelId = /#\/imodels\/([0-9a-f-]{36})\/changesets$/.exec(link)![1]!;

    const { iModel } = await api(`/imodels/${iModelId}`);
    assert.equal(iModel.name, "Sample plant");
    assert.equal(iModel.state, "initialized");
    const { iTwin } = await api(`/itwins/${iModel.iTwinId}`);
    assert.equal(iTwin.displayName, "modelhub demo");
    const { changesets } = await api(`/imodels/${iModelId}/changesets`);
    assert.deepEqual(
      changesets.map((c: Json) => c.index),
      [1, 2, 3],
    );
    assert.ok(changesets.every((c: Json) => c.creatorId === "alice" && c.description.length > 0));
    const { namedVersions } = await api(`/imodels/${iModelId}/namedversions`);
    assert.deepEqual(namedVersions.map((v: Json) => [v.name, v.changesetIndex]).sort(), [
      ["As built", 3],
      ["Issued for review", 2],
    ]);
    // The briefcase it pushed with is released: nothing is left holding locks.
    assert.deepEqual((await api(`/imodels/${iModelId}/briefcases`)).briefcases, []);

    // The hub applies the changesets to make the named versions' checkpoints: the sample is one consistent history.
    const deadline = Date.now() + 120_000;
    let states: string[] = [];
    while (Date.now() < deadline) {
      const list = await modelhub(["checkpoints", "list", iModelId, "--json"]);
      assert.equal(list.code, 0, list.err);
      const text = list.out.trim();
      const checkpoints = (
        text.startsWith("{") && text.includes("\n")
          ? text.split("\n").map((l) => JSON.parse(l) as Json)
          : ((JSON.parse(text) as Json).checkpoints ?? JSON.parse(text))
      ) as Json[];
      states = checkpoints.filter((c) => c.changesetIndex === 3).map((c) => c.state);
      if (states.includes("successful") || states.includes("failed")) break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    assert.deepEqual(states, ["successful"]);
  });

  it("run again, it refuses (exit 1) rather than make a second copy, and says what to do", async () => {
    const r = await modelhub(["demo"]);
    assert.equal(r.code, 1);
    assert.match(
      r.err,
      /^modelhub demo: iTwin 'modelhub demo' already has an iModel 'Sample plant' \([0-9a-f-]+\): delete it/,
    );
  });

  it("--json prints one object; other names make a second sample", async () => {
    const r = await modelhub(["demo", "--json", "--itwin-name", "Second demo", "--imodel-name", "Copy"]);
    assert.equal(r.code, 0, r.err);
    const lines = r.out.trim().split("\n");
    assert.equal(lines.length, 1);
    const result = JSON.parse(lines[0]!) as Json;
    assert.equal(result.iTwin.displayName, "Second demo");
    assert.equal(result.iTwin.created, true);
    assert.equal(result.iModel.name, "Copy");
    assert.equal(result.changesets, 3);
  });
});
