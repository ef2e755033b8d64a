// `modelhub imodel|changesets|changeset|versions|locks|checkpoints` as a user runs them: the command in a process of
// its own against a real hub (`modelhub serve`, another process) over HTTP, with real iTwin.js files. Checks the
// human output, the `--json` shapes, what the hub holds afterwards, and the exit code of each kind of error.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import type { AddressInfo } from "node:net";
import { createServer } from "node:net";
import { createReadStream } from "node:fs";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import type { Fixture } from "@modelhub/test-support/fixtures.js";
import { makeChangesets } from "@modelhub/test-support/fixtures.js";
import type { HubProcess } from "@modelhub/test-support/hub-process.js";
import { startHubProcess } from "@modelhub/test-support/hub-process.js";
import { MODELHUB } from "@modelhub/test-support/cli.js";

const ACCEPT = "application/vnd.bentley.itwin-platform.v2+json";
const ITWIN = "c1c1c1c1-1111-4111-8111-111111111111";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

interface Ran {
  code: number | null;
  out: string;
  err: string;
}

/** Runs `modelhub …` (from source) with the hub's address in MODELHUB_URL and alice's token, as a user would. */
function modelhub(args: string[], env: Record<string, string | undefined> = {}): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [...MODELHUB, ...args],
      { env: { ...process.env, MODELHUB_URL: hub.url, MODELHUB_TOKEN: "alice", ...env }, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) =>
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, out: stdout, err: stderr }),
    );
  });
}

/** Succeeds, or fails the test with what the command wrote. */
async function ok(args: string[], env?: Record<string, string | undefined>): Promise<Ran> {
  const r = await modelhub(args, env);
  assert.equal(r.code, 0, `modelhub ${args.join(" ")} exited ${r.code}: ${r.err}`);
  return r;
}

const lines = (text: string) => text.split("\n").filter((l) => l !== "");
const jsonLines = (text: string) => lines(text).map((l) => JSON.parse(l) as Json);
/** An error is one line on stderr naming the command. */
function oneLineError(r: Ran, command: string, pattern: RegExp): void {
  assert.equal(lines(r.err).length, 1, `one line: ${r.err}`);
  assert.match(r.err, new RegExp(`^modelhub ${command}: `));
  assert.match(r.err, pattern);
}

async function api(
  method: string,
  path: string,
  body?: unknown,
  user = "alice",
): Promise<{ status: number; body: Json }> {
  const response = await fetch(path.startsWith("http") ? path : `${hub.url}/imodels${path}`, {
    method,
    headers: {
      accept: ACCEPT,
      authorization: `Bearer ${user}`,
      prefer: "return=representation",
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Json) : {} };
}

async function sha256(path: string): Promise<string> {
  return createHash("sha256")
    .update(await readFile(path))
    .digest("hex");
}

let hub: HubProcess;
let work: string;
let fixture: Fixture;
let iModelId: string;

/** Pushes the fixture's changesets as alice with a briefcase of hers (create → Put Blob → complete). */
async function pushAll(): Promise<void> {
  const acquired = await api("POST", `/${iModelId}/briefcases`, {});
  assert.equal(acquired.status, 201);
  const briefcaseId = acquired.body.briefcase.briefcaseId as number;
  for (const cs of fixture.changesets) {
    const created = await api("POST", `/${iModelId}/changesets`, {
      id: cs.id,
      parentId: cs.parentId,
      briefcaseId,
      description: `change ${cs.index}`,
      containingChanges: cs.changesType,
      fileSize: cs.size,
    });
    assert.equal(created.status, 201);
    const put = await fetch(created.body.changeset._links.upload.href, {
      method: "PUT",
      headers: { "x-ms-blob-type": "BlockBlob", "content-length": String(cs.size) },
      body: Readable.toWeb(createReadStream(cs.pathname)) as ReadableStream,
      duplex: "half",
    } as RequestInit);
    assert.equal(put.status, 201);
    assert.equal(
      (await api("PATCH", created.body.changeset._links.complete.href, { state: "fileUploaded", briefcaseId })).status,
      200,
    );
  }
}

describe("modelhub imodel|changesets|changeset|versions|locks|checkpoints (over HTTP, against a hub process)", () => {
  before(async () => {
    fixture = await makeChangesets(join(tmpdir(), "modelhub-fixtures"), 3);
    hub = await startHubProcess();
    work = await mkdtemp(join(tmpdir(), "modelhub-cli-cmd-"));
  });
  after(async () => {
    await hub?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("imodel create --from uploads the .bim with progress lines (no TTY), waits for initialization, and prints the iModel", async () => {
    // Progress from the first byte (not after 1 s) so that this small file shows it too.
    const r = await ok(
      [
        "imodel",
        "create",
        "--itwin",
        ITWIN,
        "--name",
        "tower",
        "--description",
        "a tower",
        "--from",
        fixture.version0Path,
      ],
      { MODELHUB_PROGRESS_AFTER_MS: "0" },
    );
    const m = /^iModel ([0-9a-f-]{36}) 'tower' in iTwin c1c1c1c1-1111-4111-8111-111111111111: initialized$/m.exec(
      r.out,
    );
    assert.ok(m, r.out);
    iModelId = m[1]!;
    const iModel = (await api("GET", `/${iModelId}`)).body.iModel as Json;
    assert.equal(iModel.description, "a tower");
    assert.equal(iModel.state, "initialized");
    // Plain lines, no terminal control codes, the last at 100%.
    assert.match(r.err, /uploading version0\.bim \[.*\] 100% \|/);
    assert.ok(!r.err.includes("\u001b["), "no terminal control codes");
    // The hub has it, initialized from this file: its baseline is the file's size.
    const baseline = await api("GET", `/${iModelId}/baselinefile`);
    assert.equal(baseline.body.baselineFile.state, "initialized");
    assert.equal(baseline.body.baselineFile.fileSize, (await stat(fixture.version0Path)).size);
  });

  it("imodel create without --from makes an empty iModel; with a file that is no iModel it exits 1 with the hub's reason", async () => {
    const empty = await ok(["imodel", "create", "--itwin", ITWIN, "--name", "empty one"]);
    assert.match(
      empty.out,
      /^iModel [0-9a-f-]{36} 'empty one' in iTwin c1c1c1c1-1111-4111-8111-111111111111: initialized\n$/,
    );
    // --json: the iModel, one object; stderr stays empty (no progress under --json: it carries JSON only).
    const asJson = await ok(
      ["imodel", "create", "--itwin", ITWIN, "--name", "copy via json", "--from", fixture.version0Path, "--json"],
      { MODELHUB_PROGRESS_AFTER_MS: "0" },
    );
    assert.equal(lines(asJson.out).length, 1);
    assert.deepEqual(
      [(JSON.parse(asJson.out) as Json).name, (JSON.parse(asJson.out) as Json).state],
      ["copy via json", "initialized"],
    );
    assert.equal(asJson.err, "");

    const junk = join(work, "junk.bim");
    await writeFile(junk, Buffer.alloc(70_000, 7));
    const failed = await modelhub(["imodel", "create", "--itwin", ITWIN, "--name", "junk", "--from", junk, "--json"]);
    assert.equal(failed.code, 1);
    // Under --json the error is one JSON object on stderr (the API's error shape, with the command and exit code).
    assert.equal(lines(failed.err).length, 1);
    const error = (JSON.parse(failed.err) as Json).error as Json;
    assert.deepEqual(
      [error.code, error.command, error.exitCode],
      ["iModelInitializationFailed", "modelhub imodels create", 1],
    );
    assert.match(error.message, /not an iModel/);
    assert.equal(failed.out, "");
    // Without --json: the error is the last line on stderr (after "created iModel …; uploading its baseline…"), naming the command.
    const text = await modelhub(["imodel", "create", "--itwin", ITWIN, "--name", "junk 2", "--from", junk]);
    assert.equal(text.code, 1);
    assert.match(lines(text.err).at(-1)!, /^modelhub imodels create: iModelInitializationFailed: .*not an iModel/);
  });

  it("imodel list: a table, and --json one iModel per line", async () => {
    const table = await ok(["imodel", "list", "--itwin", ITWIN]);
    assert.match(lines(table.out)[0]!, /^ID\s+NAME\s+STATE\s+CREATED$/);
    assert.ok(lines(table.out).some((l) => l.startsWith(iModelId) && / tower /.test(l) && /initialized/.test(l)));
    const listed = jsonLines((await ok(["imodel", "list", "--itwin", ITWIN, "--json"])).out);
    // (The junk ones' initialization failed: listed too, as failed — see failed-imodels.test.ts.)
    assert.deepEqual(
      listed
        .map((m) => m.name)
        .filter((n) => !n.startsWith("junk"))
        .sort(),
      ["copy via json", "empty one", "tower"],
    );
    for (const m of listed) assert.equal(m.iTwinId, ITWIN);
    const searched = jsonLines((await ok(["imodel", "list", "--itwin", ITWIN, "--search", "tow", "--json"])).out);
    assert.deepEqual(
      searched.map((m) => m.id),
      [iModelId],
    );
    assert.equal((await ok(["imodel", "list", "--itwin", "dddddddd-1111-4111-8111-111111111111"])).out, "no iModels\n");
    // Without --itwin: every iTwin of the caller's, with an ITWIN column (issue 22: it needed --itwin).
    const everywhere = await ok(["imodels", "list"]);
    assert.match(lines(everywhere.out)[0]!, /^ID\s+NAME\s+ITWIN\s+STATE\s+CREATED$/);
    assert.ok(lines(everywhere.out).some((l) => l.startsWith(iModelId) && / tower /.test(l)));
    const everywhereJson = jsonLines((await ok(["imodels", "list", "--json"])).out);
    assert.ok(everywhereJson.some((m) => m.id === iModelId && m.iTwinId === ITWIN));
  });

  it("changesets: the history with index, id, description, who, when, size; --page-size follows the next links; --after/--last/--top/--newest-first", async () => {
    await pushAll();
    const all = jsonLines((await ok(["changesets", iModelId, "--json", "--page-size", "1"])).out);
    assert.deepEqual(
      all.map((c) => c.index),
      [1, 2, 3],
      "three pages of one, followed to the end",
    );
    for (const [i, c] of all.entries()) {
      const cs = fixture.changesets[i]!;
      assert.equal(c.id, cs.id);
      assert.equal(c.description, `change ${cs.index}`);
      assert.equal(c.creatorId, "alice");
      assert.equal(c.fileSize, cs.size);
      assert.ok(!Number.isNaN(Date.parse(c.pushDateTime as string)));
    }
    const table = await ok(["changesets", iModelId]);
    assert.match(lines(table.out)[0]!, /^INDEX\s+ID\s+DESCRIPTION\s+WHO\s+WHEN\s+SIZE$/);
    assert.match(
      lines(table.out)[2]!,
      new RegExp(
        `^2\\s+${fixture.changesets[1]!.id}\\s+change 2\\s+alice\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\dZ\\s+[\\d.]+ KB$`,
      ),
    );
    const indexes = async (...args: string[]) =>
      jsonLines((await ok(["changesets", iModelId, "--json", ...args])).out).map((c) => c.index);
    assert.deepEqual(await indexes("--after", "1"), [2, 3]);
    assert.deepEqual(await indexes("--after", "1", "--top", "1"), [2]);
    assert.deepEqual(await indexes("--last", "2", "--newest-first", "--page-size", "1"), [2, 1]);
    assert.deepEqual(await indexes("--top", "2", "--newest-first"), [3, 2]);
  });

  it("imodel show: the iModel and its newest changeset (--json adds latestChangeset)", async () => {
    const shown = JSON.parse((await ok(["imodel", "show", iModelId, "--json"])).out) as Json;
    assert.equal(shown.id, iModelId);
    assert.equal(shown.name, "tower");
    assert.deepEqual(
      { index: shown.latestChangeset.index, id: shown.latestChangeset.id, creatorId: shown.latestChangeset.creatorId },
      { index: 3, id: fixture.changesets[2]!.id, creatorId: "alice" },
    );
    // Disk use: the changeset files (sizes from the fixture) plus the checkpoints (at least the baseline's).
    const changesetBytes = fixture.changesets.reduce((n, c) => n + (c.size ?? 0), 0);
    assert.equal(shown.diskUse.changesets, changesetBytes);
    assert.ok(shown.diskUse.checkpoints > 0);
    assert.equal(shown.diskUse.total, shown.diskUse.changesets + shown.diskUse.checkpoints);
    const text = (await ok(["imodel", "show", iModelId])).out;
    assert.match(text, /^name:\s+tower$/m);
    assert.match(text, new RegExp(`^changesets:\\s+3 \\(newest ${fixture.changesets[2]!.id}`, "m"));
    assert.match(text, /^disk use: +[\d.]+ [KM]B \(3 changeset files [\d.]+ [KM]B, \d+ checkpoints [\d.]+ [KM]B\)$/m);
    // By name as well as by id.
    assert.equal(JSON.parse((await ok(["imodels", "show", "tower", "--json"])).out).id, iModelId);
  });

  it("changeset download by index and by id writes the changeset's exact bytes (--json: index, id, path, size)", async () => {
    const target = join(work, "two.cs");
    const byIndex = JSON.parse(
      (
        await ok(["changeset", "download", iModelId, "2", "--to", target, "--json"], {
          MODELHUB_PROGRESS_AFTER_MS: "0",
        })
      ).out,
    ) as Json;
    assert.deepEqual(byIndex, {
      iModelId,
      index: 2,
      id: fixture.changesets[1]!.id,
      path: target,
      size: fixture.changesets[1]!.size,
    });
    assert.equal(await sha256(target), await sha256(fixture.changesets[1]!.pathname));
    const byId = await ok(["changeset", "download", iModelId, fixture.changesets[2]!.id.toUpperCase()], {
      MODELHUB_PROGRESS_AFTER_MS: undefined,
    });
    // Default name: <id>.cs in the working directory (the test's).
    const defaultPath = join(process.cwd(), `${fixture.changesets[2]!.id}.cs`);
    try {
      assert.match(byId.out, /^changeset 3 \([0-9a-f]{40}\) → .*\.cs \([\d.]+ KB\)\n$/);
      assert.equal(await sha256(defaultPath), await sha256(fixture.changesets[2]!.pathname));
    } finally {
      await rm(defaultPath, { force: true });
    }
    const missing = await modelhub(["changeset", "download", iModelId, "9", "--to", join(work, "nine.cs")]);
    assert.equal(missing.code, 1);
    oneLineError(missing, "changesets download", /ChangesetNotFound/);
    await assert.rejects(stat(join(work, "nine.cs")), "nothing written for a refused download");
  });

  it("on a terminal the progress is a cli-progress bar that redraws in place (run under `script`, a pseudo-terminal)", async () => {
    const target = join(work, "tty.cs");
    const command = [process.execPath, ...MODELHUB, "changeset", "download", iModelId, "1", "--to", target]
      .map((a) => `'${a}'`)
      .join(" ");
    const r = await new Promise<Ran>((resolve) =>
      execFile(
        "script",
        ["-qec", command, "/dev/null"],
        { env: { ...process.env, MODELHUB_URL: hub.url, MODELHUB_TOKEN: "alice", MODELHUB_PROGRESS_AFTER_MS: "0" } },
        (error, stdout, stderr) =>
          resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, out: stdout, err: stderr }),
      ),
    );
    assert.equal(r.code, 0, r.out + r.err);
    // Terminal control: the cursor hidden and the line redrawn, not one line per update.
    assert.ok(r.out.includes("\u001b[?25l"), `cursor hidden: ${JSON.stringify(r.out.slice(0, 300))}`);
    assert.match(r.out, /changeset 1 \[█+\] 100% \|/);
    assert.equal(await sha256(target), await sha256(fixture.changesets[0]!.pathname));
  });

  it("versions create names a changeset (the newest by default) and versions list shows them; a duplicate name exits 1", async () => {
    const v1 = JSON.parse(
      (
        await ok([
          "versions",
          "create",
          iModelId,
          "--name",
          "v1",
          "--changeset",
          "1",
          "--description",
          "first",
          "--json",
        ])
      ).out,
    ) as Json;
    assert.equal(v1.name, "v1");
    assert.equal(v1.changesetIndex, 1);
    assert.equal(v1.changesetId, fixture.changesets[0]!.id);
    assert.equal(v1.description, "first");
    const newest = await ok(["versions", "create", iModelId, "--name", "v-newest"]);
    assert.match(newest.out, /^named version 'v-newest' \([0-9a-f-]+\) at changeset 3\n$/);
    // The hub has them.
    const onHub = await api("GET", `/${iModelId}/namedversions`);
    assert.deepEqual(onHub.body.namedVersions.map((v: Json) => [v.name, v.changesetIndex]).sort(), [
      ["v-newest", 3],
      ["v1", 1],
    ]);
    const listed = jsonLines((await ok(["versions", "list", iModelId, "--json"])).out);
    assert.deepEqual(
      listed.map((v) => [v.name, v.changesetIndex, v.id]),
      [
        ["v1", 1, v1.id],
        ["v-newest", 3, listed[1]!.id],
      ],
    );
    const table = await ok(["versions", "list", iModelId]);
    assert.match(lines(table.out)[1]!, new RegExp(`^v1\\s+1\\s+${fixture.changesets[0]!.id}\\s`));
    const again = await modelhub(["versions", "create", iModelId, "--name", "v1", "--changeset", "2"]);
    assert.equal(again.code, 1);
    oneLineError(again, "versions create", /NamedVersionExists|Conflict|exists/i);
  });

  it("locks list shows who holds what; locks release --briefcase releases a colleague's locks and keeps the briefcase", async () => {
    const acquired = await api("POST", `/${iModelId}/briefcases`, { deviceName: "bob's laptop" }, "bob");
    assert.equal(acquired.status, 201);
    const briefcaseId = acquired.body.briefcase.briefcaseId as number;
    const locked = await api(
      "PATCH",
      `/${iModelId}/locks`,
      {
        briefcaseId,
        changesetId: fixture.changesets[2]!.id,
        lockedObjects: [
          { lockLevel: "exclusive", objectIds: ["0x20000000001", "0x20000000002"] },
          { lockLevel: "shared", objectIds: ["0x1"] },
        ],
      },
      "bob",
    );
    assert.equal(locked.status, 200);

    const listed = jsonLines((await ok(["locks", "list", iModelId, "--json"])).out);
    assert.equal(listed.length, 1);
    assert.equal(listed[0]!.briefcaseId, briefcaseId);
    assert.equal(listed[0]!.ownerId, "bob");
    const levels = Object.fromEntries(
      (listed[0]!.lockedObjects as Json[]).map((g) => [g.lockLevel, [...(g.objectIds as string[])].sort()]),
    );
    assert.deepEqual(levels, { exclusive: ["0x20000000001", "0x20000000002"], shared: ["0x1"] });
    const table = await ok(["locks", "list", iModelId, "--briefcase", String(briefcaseId)]);
    assert.match(table.out, new RegExp(`^${briefcaseId}\\s+bob\\s+exclusive\\s+0x20000000001 0x20000000002$`, "m"));
    assert.equal((await ok(["locks", "list", iModelId, "--briefcase", "999"])).out, "no locks held\n");

    // alice, a manager (open mode), releases bob's locks.
    const released = JSON.parse(
      (await ok(["locks", "release", iModelId, "--briefcase", String(briefcaseId), "--json"])).out,
    ) as Json;
    assert.deepEqual(released, { released: true, iModelId, briefcaseId, ownerId: "bob", locksReleased: 3 });
    const left = await api("GET", `/${iModelId}/locks?briefcaseId=${briefcaseId}`);
    assert.deepEqual(left.body.locks, []);
    assert.equal((await api("GET", `/${iModelId}/briefcases/${briefcaseId}`)).status, 200, "the briefcase stays");
    const none = await modelhub(["locks", "release", iModelId, "--briefcase", "4242"]);
    assert.equal(none.code, 1);
    oneLineError(none, "locks release", /BriefcaseNotFound/);
  });

  it("checkpoints list shows states, sizes and disk use; checkpoints download writes the .bim of a changeset's or a named version's checkpoint", async () => {
    // The named version v1 (changeset 1) gets a checkpoint: wait until the hub made it.
    const v1 = (await api("GET", `/${iModelId}/namedversions?name=v1`)).body.namedVersions[0] as Json;
    const deadline = Date.now() + 120_000;
    let list: Json[];
    for (;;) {
      // A list under --json: one checkpoint per line.
      list = jsonLines((await ok(["checkpoints", "list", iModelId, "--json"])).out);
      if (list.some((c) => c.changesetIndex === 1 && c.state === "successful")) break;
      assert.ok(Date.now() < deadline, `no checkpoint at changeset 1: ${JSON.stringify(list)}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    const successful = list.filter((c) => c.state === "successful");
    assert.ok(
      successful.some((c) => c.changesetIndex === 0),
      "the baseline's",
    );
    const table = await ok(["checkpoints", "list", iModelId]);
    assert.match(lines(table.out)[0]!, /^CHANGESET\s+CHANGESET ID\s+STATE\s+SIZE\s+NOTE$/);
    assert.match(table.out, /^disk used: [\d.]+ [KM]B$/m);

    const one = successful.find((c) => c.changesetIndex === 1)!;
    const target = join(work, "v1.bim");
    const byVersion = JSON.parse(
      (await ok(["checkpoints", "download", iModelId, "--version", v1.id as string, "--to", target, "--json"])).out,
    ) as Json;
    assert.deepEqual(byVersion, {
      iModelId,
      changesetIndex: 1,
      changesetId: fixture.changesets[0]!.id,
      path: target,
      size: one.size,
    });
    // A named version by its name as well as its id.
    const byName = JSON.parse(
      (
        await ok([
          "checkpoints",
          "download",
          iModelId,
          "--version",
          "v1",
          "--to",
          join(work, "v1-by-name.bim"),
          "--json",
        ])
      ).out,
    ) as Json;
    assert.equal(byName.changesetIndex, 1);
    assert.equal((await stat(target)).size, one.size);
    assert.equal((await readFile(target)).subarray(0, 15).toString(), "SQLite format 3");
    // By changeset: 2 has none of its own. Asked for 2, the command refuses (it would not hold 2) and names the nearest…
    const refused = await modelhub([
      "checkpoints",
      "download",
      iModelId,
      "--changeset",
      "2",
      "--to",
      join(work, "two.bim"),
    ]);
    assert.equal(refused.code, 1);
    oneLineError(
      refused,
      "checkpoints download",
      /CheckpointNotFound: The hub has no checkpoint at changeset 2; the nearest before it is at changeset 1\. .*--nearest/,
    );
    await assert.rejects(stat(join(work, "two.bim")), "nothing written");
    // …which --nearest takes, saying which changeset the file holds.
    const near = await ok([
      "checkpoints",
      "download",
      iModelId,
      "--changeset",
      "2",
      "--nearest",
      "--to",
      join(work, "near.bim"),
    ]);
    assert.match(near.out, /^checkpoint at changeset 1 → .*near\.bim/);
    assert.equal(await sha256(join(work, "near.bim")), await sha256(target));
  });

  it("errors: the hub's refusal exits 1 in one line; usage mistakes exit 2; an unreachable hub exits 1", async () => {
    const unknown = await modelhub(["imodel", "show", "00000000-0000-4000-8000-000000000000"]);
    assert.equal(unknown.code, 1);
    oneLineError(unknown, "imodels show", /^modelhub imodels show: iModelNotFound: .*\(404\)$/m);
    assert.equal(unknown.out, "");

    const noToken = await modelhub(["changesets", iModelId], { MODELHUB_TOKEN: undefined });
    assert.equal(noToken.code, 2);
    oneLineError(noToken, "changesets list", /--token or MODELHUB_TOKEN/);

    const badRef = await modelhub(["changeset", "download", iModelId, "abc"]);
    assert.equal(badRef.code, 2);
    assert.equal(lines(badRef.err).length, 1);
    assert.match(badRef.err, /changeset index \(a number\) or id/);

    const missingOption = await modelhub(["imodel", "create", "--name", "x"]);
    assert.equal(missingOption.code, 2);
    assert.match(missingOption.err, /required option '--itwin <name|id>'/);

    const badUrl = await modelhub(["imodel", "list", "--itwin", ITWIN, "--url", "not a url"]);
    assert.equal(badUrl.code, 2);

    // A port nobody listens on (just closed).
    const closed = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, "127.0.0.1", () => {
        const { port } = server.address() as AddressInfo;
        server.close(() => resolve(port));
      });
    });
    const unreachable = await modelhub(["imodel", "list", "--itwin", ITWIN], {
      MODELHUB_URL: `http://127.0.0.1:${closed}`,
    });
    assert.equal(unreachable.code, 1);
    oneLineError(
      unreachable,
      "imodels list",
      new RegExp(`NetworkError: cannot reach http://127\\.0\\.0\\.1:${closed}: ECONNREFUSED`),
    );

    const tooBig = await modelhub(["changesets", iModelId, "--page-size", "5000"]);
    assert.equal(tooBig.code, 2);
  });

  it("imodel delete removes it (--json); deleting it again exits 1 iModelNotFound", async () => {
    const deleted = JSON.parse((await ok(["imodel", "delete", iModelId, "--json", "--yes"])).out) as Json;
    assert.deepEqual(deleted, { deleted: true, iModelId });
    assert.equal((await api("GET", `/${iModelId}`)).status, 404);
    const again = await modelhub(["imodel", "delete", iModelId, "--yes"]);
    assert.equal(again.code, 1);
    oneLineError(again, "imodels delete", /iModelNotFound/);
  });
});
