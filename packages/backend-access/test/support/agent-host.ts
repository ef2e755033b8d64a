// A child process that plays iTwin.js users against a hub, driven over IPC by a test.
//   node --import tsx agent-host.ts hubmock            → HubMock (all users in this process, as HubMock requires)
//   node --import tsx agent-host.ts <hubUrl> <user>    → @modelhub/backend-access against a modelhub server
// Every command answers { ok, result } or { ok: false, error: { name, errorNumber, message, briefcaseId } }.
// MODELHUB_AGENT_LOG=<file>: every command and its outcome, and iTwin.js's log (the client's retries, changeset
// application, native conflict messages), are appended to that file — what a failed long run leaves to be read.
import { createHash, randomBytes } from "node:crypto";
import { appendFileSync, readFileSync } from "node:fs";
import { mkdtemp, readdir } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type * as CoreBackend from "@itwin/core-backend";
import type * as CoreBentley from "@itwin/core-bentley";
import type * as CoreCommon from "@itwin/core-common";
import type * as HubMockModule from "@itwin/core-backend/lib/cjs/internal/HubMock.js";
import type { ModelHubAccess as LocalModelHubAccess } from "../../src/index.js";
import type { AckedPush } from "./crash-hub.js";

// MODELHUB_AGENT_ROOT runs the agent as an app installed in that folder (e.g. the iTwin.js 4.x host): iTwin.js and
// @modelhub/backend-access are then that folder's copies. MODELHUB_AGENT_ACCESS: the module that gives ModelHubAccess
// otherwise, when not this package's sources (test-support's agent-script.ts: the build, once it is current).
const agentRoot = process.env.MODELHUB_AGENT_ROOT;
const require = createRequire(agentRoot ? `${agentRoot}/package.json` : import.meta.url);
const ModelHubAccess: typeof LocalModelHubAccess = agentRoot
  ? (require("@modelhub/backend-access") as { ModelHubAccess: typeof LocalModelHubAccess }).ModelHubAccess
  : process.env.MODELHUB_AGENT_ACCESS
    ? ((await import(process.env.MODELHUB_AGENT_ACCESS)) as { ModelHubAccess: typeof LocalModelHubAccess })
        .ModelHubAccess
    : (await import("../../src/index.js")).ModelHubAccess;
const backend = require("@itwin/core-backend") as typeof CoreBackend;
const common = require("@itwin/core-common") as typeof CoreCommon;
const bentley = require("@itwin/core-bentley") as typeof CoreBentley;

const [mode, defaultUser] = process.argv.slice(2) as [string, string | undefined];
const useHubMock = mode === "hubmock";
let access: LocalModelHubAccess | undefined;
let hubMock: typeof HubMockModule.HubMock | undefined;

type Db = CoreBackend.BriefcaseDb;
const briefcases = new Map<string, Db>();

const acked: AckedPush[] = [];

function hub(): CoreBackend.BackendHubAccess {
  return useHubMock ? (hubMock as unknown as CoreBackend.BackendHubAccess) : access!;
}

/** The hub access with the two methods iTwin.js 5.9 added to BackendHubAccess (older typings lack them). */
function abandoning(): {
  abandonAllLocks(arg: CoreBackend.BriefcaseIdArg): Promise<void>;
  abandonLocks(arg: CoreBackend.BriefcaseIdArg, locks: CoreBackend.LockMap): Promise<void>;
} {
  const h = hub() as unknown as Partial<ReturnType<typeof abandoning>>;
  if (!h.abandonAllLocks || !h.abandonLocks) throw new Error("this hub access has no abandonLocks/abandonAllLocks");
  return h as ReturnType<typeof abandoning>;
}

function firstId(db: Db, ecsql: string): string {
  return db.withPreparedStatement(ecsql, (stmt) => {
    stmt.step();
    return stmt.getValue(0).getId();
  });
}

function countObjects(db: Db): number {
  return db.withPreparedStatement("SELECT COUNT(*) FROM Generic.PhysicalObject", (stmt) => {
    stmt.step();
    return stmt.getValue(0).getInteger();
  });
}

const commands: Record<string, (args: Record<string, unknown>) => Promise<unknown>> = {
  async hostVersion() {
    return (require("@itwin/core-backend/package.json") as { version: string }).version;
  },

  async createIModel(a) {
    return hub().createNewIModel({
      iTwinId: String(a.iTwinId),
      iModelName: String(a.name),
      version0: a.version0 as string | undefined,
      accessToken: token(a),
    });
  },

  async download(a) {
    const props = await backend.BriefcaseManager.downloadBriefcase({
      accessToken: token(a),
      iTwinId: String(a.iTwinId),
      iModelId: String(a.iModelId),
      fileName: join(String(a.dir), `${a.key}.bim`),
      ...(a.asOf !== undefined ? { asOf: { afterChangeSetId: String(a.asOf) } } : {}),
    });
    const db = await backend.BriefcaseDb.open({ fileName: props.fileName });
    briefcases.set(String(a.key), db);
    return { briefcaseId: db.briefcaseId, changesetIndex: db.changeset.index, count: countObjects(db) };
  },

  async insert(a) {
    const db = briefcases.get(String(a.key))!;
    const model = firstId(db, "SELECT ECInstanceId FROM bis.PhysicalModel WHERE IsPrivate = false");
    const category = firstId(db, "SELECT ECInstanceId FROM bis.SpatialCategory");
    await db.locks.acquireLocks({ shared: model });
    const ids: string[] = [];
    const prefix = String(a.labelPrefix ?? a.key);
    for (let i = 0; i < Number(a.count); i++) {
      ids.push(
        db.elements.insertElement({
          classFullName: "Generic:PhysicalObject",
          model,
          category,
          code: common.Code.createEmpty(),
          userLabel: `${prefix} ${i}`,
          placement: { origin: [i, 0, 0], angles: {} },
        } as never),
      );
    }
    db.saveChanges(`insert ${a.count}`);
    return ids;
  },

  /** Inserts elements carrying `bytes` of random (incompressible) data in all, for a changeset of about that size. */
  async insertLarge(a) {
    const db = briefcases.get(String(a.key))!;
    const model = firstId(db, "SELECT ECInstanceId FROM bis.PhysicalModel WHERE IsPrivate = false");
    const category = firstId(db, "SELECT ECInstanceId FROM bis.SpatialCategory");
    await db.locks.acquireLocks({ shared: model });
    const perElement = 1024 * 1024;
    const count = Math.max(1, Math.ceil(Number(a.bytes) / perElement));
    const prefix = String(a.labelPrefix ?? a.key);
    for (let i = 0; i < count; i++) {
      const payload = randomBytes((perElement * 3) / 4).toString("base64");
      db.elements.insertElement({
        classFullName: "Generic:PhysicalObject",
        model,
        category,
        code: common.Code.createEmpty(),
        userLabel: `${prefix} ${i}`,
        jsonProperties: { payload },
        placement: { origin: [i, 1, 0], angles: {} },
      } as never);
    }
    db.saveChanges(`insert ${count} large`);
    return count;
  },

  /** A version 0 of about `bytes` (random element data): a snapshot with a physical model and a category. */
  async makeLargeVersion0(a) {
    const snapshot = backend.SnapshotDb.createEmpty(String(a.path), { rootSubject: { name: "large" } });
    const model = backend.PhysicalModel.insert(snapshot, common.IModel.rootSubjectId, "Physical");
    const category = backend.SpatialCategory.insert(
      snapshot,
      common.IModel.dictionaryId,
      "Things",
      new common.SubCategoryAppearance(),
    );
    const perElement = 1024 * 1024;
    for (let i = 0; i < Math.ceil(Number(a.bytes) / perElement); i++) {
      const payload = randomBytes((perElement * 3) / 4).toString("base64");
      snapshot.elements.insertElement({
        classFullName: "Generic:PhysicalObject",
        model,
        category,
        code: common.Code.createEmpty(),
        userLabel: `v0 ${i}`,
        jsonProperties: { payload },
        placement: { origin: [i, 2, 0], angles: {} },
      } as never);
    }
    snapshot.saveChanges();
    snapshot.close();
    return true;
  },

  /** Pushes the hub acknowledged, from the `from`th on. */
  async acked(a) {
    return acked.slice(Number(a.from ?? 0));
  },

  /** Element count and the labels found more than once (a changeset applied twice would show here). */
  async labels(a) {
    const db = briefcases.get(String(a.key))!;
    const duplicates = db.withPreparedStatement(
      "SELECT UserLabel, COUNT(*) FROM Generic.PhysicalObject GROUP BY UserLabel HAVING COUNT(*) > 1",
      (stmt) => {
        const out: { label: string; count: number }[] = [];
        while (stmt.step() === bentley.DbResult.BE_SQLITE_ROW)
          out.push({ label: stmt.getValue(0).getString(), count: stmt.getValue(1).getInteger() });
        return out;
      },
    );
    return { total: countObjects(db), duplicates };
  },

  async lock(a) {
    const db = briefcases.get(String(a.key))!;
    await db.locks.acquireLocks(
      a.level === "exclusive" ? { exclusive: a.ids as string[] } : { shared: a.ids as string[] },
    );
    return true;
  },

  /**
   * Takes the exclusive lock on `id`, edits it without saving, throws the edit away, then gives the locks back the
   * way discarding does: `LockControl.abandonAllLocks` where iTwin.js has it (≥ 5.9), else the hub access's
   * `abandonAllLocks` called as iTwin.js ≥ 5.9 calls it (a `BriefcaseIdArg`: no changeset).
   */
  async editAndDiscard(a) {
    const db = briefcases.get(String(a.key))!;
    await db.locks.acquireLocks({ exclusive: String(a.id) });
    const element = db.elements.getElementProps(String(a.id));
    db.elements.updateElement({ ...element, userLabel: "never pushed" });
    db.abandonChanges();
    const locks = db.locks as unknown as { abandonAllLocks?: () => Promise<void> };
    if (typeof locks.abandonAllLocks === "function") {
      await locks.abandonAllLocks();
      return "LockControl.abandonAllLocks";
    }
    await abandoning().abandonAllLocks({ iModelId: db.iModelId, briefcaseId: db.briefcaseId, accessToken: token(a) });
    return "BackendHubAccess.abandonAllLocks";
  },

  /** Calls the hub access's `abandonLocks` as iTwin.js ≥ 5.9 does: a `BriefcaseIdArg` and each lock's previous state. */
  async abandonLocks(a) {
    const db = briefcases.get(String(a.key))!;
    const states = { none: common.LockState.None, shared: common.LockState.Shared } as const;
    const locks = new Map(
      Object.entries(a.previous as Record<string, keyof typeof states>).map(([id, state]) => [id, states[state]]),
    );
    await abandoning().abandonLocks(
      { iModelId: db.iModelId, briefcaseId: db.briefcaseId, accessToken: token(a) },
      locks,
    );
    return true;
  },

  /** The briefcase's locks as the hub has them. */
  async heldLocks(a) {
    const db = briefcases.get(String(a.key))!;
    const held = await hub().queryAllLocks({
      iModelId: db.iModelId,
      briefcaseId: db.briefcaseId,
      changeset: db.changeset,
      accessToken: token(a),
    });
    return held.map((l) => ({ id: l.id, state: l.state })).sort((x, y) => x.id.localeCompare(y.id));
  },

  async update(a) {
    const db = briefcases.get(String(a.key))!;
    const element = db.elements.getElementProps(String(a.id));
    db.elements.updateElement({ ...element, userLabel: String(a.label) });
    db.saveChanges(`update ${a.id}`);
    return true;
  },

  async push(a) {
    const db = briefcases.get(String(a.key))!;
    await db.pushChanges({
      description: String(a.description ?? "push"),
      accessToken: token(a),
      // The crash and soak runs shorten iTwin.js's 3 s wait before merging again after PullIsRequired.
      ...(a.mergeRetryDelayMs !== undefined
        ? { mergeRetryDelay: bentley.BeDuration.fromMilliseconds(Number(a.mergeRetryDelayMs)) }
        : {}),
      ...(a.mergeRetryCount !== undefined ? { mergeRetryCount: Number(a.mergeRetryCount) } : {}),
    });
    return db.changeset.index;
  },

  async pull(a) {
    const db = briefcases.get(String(a.key))!;
    await db.pullChanges({ accessToken: token(a) });
    return { changesetIndex: db.changeset.index, count: countObjects(db) };
  },

  /** Changeset files left in iTwin.js's cache folder of the iModel (it deletes each one it applied). */
  async changesetFiles(a) {
    const names = await readdir(backend.BriefcaseManager.getChangeSetsPath(String(a.iModelId))).catch(
      () => [] as string[],
    );
    return names.filter((name) => name.endsWith(".cs"));
  },

  async state(a) {
    const db = briefcases.get(String(a.key))!;
    return { changesetIndex: db.changeset.index, count: countObjects(db) };
  },

  async close(a) {
    const db = briefcases.get(String(a.key))!;
    const { iModelId, briefcaseId } = db;
    const fileName = db.pathName;
    db.close();
    briefcases.delete(String(a.key));
    if (a.release) await backend.BriefcaseManager.deleteBriefcaseFiles(fileName, token(a));
    return { iModelId, briefcaseId };
  },

  async nameVersion(a) {
    if (useHubMock) {
      hubMock!
        .findLocalHub(String(a.iModelId))
        .addNamedVersion({ versionName: String(a.name), csIndex: Number(a.index) });
      return true;
    }
    const response = await fetch(`${mode}/imodels/${a.iModelId}/namedversions`, {
      method: "POST",
      headers: { authorization: `Bearer ${defaultUser}`, "content-type": "application/json" },
      body: JSON.stringify({ name: a.name, changesetIndex: a.index }),
    });
    if (response.status !== 201) throw new Error(`named version: ${response.status} ${await response.text()}`);
    return true;
  },

  /** Calls a BackendHubAccess method directly; IModelVersion arguments are given as {first|asOf|named|latest}. */
  async hubCall(a) {
    const args: Record<string, unknown> = { ...(a.args as Record<string, unknown>), accessToken: token(a) };
    const v = args.version as { first?: true; asOf?: string; named?: string } | undefined;
    if (v) {
      args.version = v.first
        ? common.IModelVersion.first()
        : v.asOf
          ? common.IModelVersion.asOfChangeSet(v.asOf)
          : v.named
            ? common.IModelVersion.named(v.named)
            : common.IModelVersion.latest();
    }
    if (args.targetDir === "") args.targetDir = await mkdtemp(join(tmpdir(), "agent-cs-"));
    const method = (hub() as unknown as Record<string, (arg: unknown) => Promise<unknown>>)[String(a.method)]!;
    return method.call(hub(), args);
  },
};

/** Records each push the hub acknowledged, hashing the file before it is sent (iTwin.js deletes it afterwards). */
function recordAcks(hubAccess: LocalModelHubAccess): void {
  const push = hubAccess.pushChangeset.bind(hubAccess);
  hubAccess.pushChangeset = async (arg) => {
    const bytes = readFileSync(arg.changesetProps.pathname);
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    const index = await push(arg);
    const p = arg.changesetProps;
    acked.push({
      id: p.id,
      parentId: p.parentId,
      index,
      briefcaseId: p.briefcaseId,
      size: bytes.length,
      sha256,
      at: Date.now(),
    });
    return index;
  };
}

const logFile = process.env.MODELHUB_AGENT_LOG;

function log(line: string): void {
  if (logFile) appendFileSync(logFile, `${new Date().toISOString()} ${line}\n`);
}

/** Sends iTwin.js's log to the agent's log file: warnings and errors of every category, the hub client's and briefcase work's info too. */
function logITwinJs(): void {
  const to = (level: string) => (category: string, message: string, metaData?: CoreBentley.LoggingMetaData) => {
    const meta = bentley.Logger.stringifyMetaData(metaData);
    log(`${level} ${category}: ${message}${meta === "{}" || meta === "" ? "" : ` ${meta}`}`);
  };
  bentley.Logger.initialize(to("error"), to("warning"), to("info"), to("trace"));
  bentley.Logger.setLevelDefault(bentley.LogLevel.Warning);
  for (const category of ["ModelHubAccess", "core-backend.BriefcaseManager", "core-backend.IModelDb"])
    bentley.Logger.setLevel(category, bentley.LogLevel.Info);
}

const brief = (value: unknown) => {
  const text = JSON.stringify(value) ?? "";
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
};

function token(a: Record<string, unknown>): string {
  return String(a.user ?? defaultUser ?? "");
}

async function main(): Promise<void> {
  if (logFile) {
    logITwinJs();
    log(
      `agent ${process.pid}: ${mode} ${defaultUser ?? ""}, iTwin.js ${(require("@itwin/core-backend/package.json") as { version: string }).version}`,
    );
  }
  const cacheDir = await mkdtemp(join(tmpdir(), "agent-cache-"));
  if (useHubMock) {
    await backend.IModelHost.startup({ cacheDir });
    // No geographic coordinate data from the public cloud: offline it stalls the first file open (~15 s DNS).
    backend.IModelHost.appWorkspace.settings.addDictionary(
      { name: "modelhub-tests", priority: backend.SettingsPriority.application },
      { "itwin/core/gcs/disableWorkspaces": true },
    );
    hubMock = (require("@itwin/core-backend/lib/cjs/internal/HubMock.js") as typeof HubMockModule).HubMock;
    hubMock.startup("scenario", join(cacheDir, "hubmock"));
  } else {
    // MODELHUB_AGENT_RETRY: a JSON retry policy, e.g. long enough to ride out a hub restart.
    const retry = process.env.MODELHUB_AGENT_RETRY
      ? (JSON.parse(process.env.MODELHUB_AGENT_RETRY) as Record<string, number>)
      : { baseDelayMs: 100 };
    // MODELHUB_AGENT_ACCESS_OPTIONS: JSON of more ModelHubAccess options, e.g. {"oneRequestPushBytes":0}.
    const more = process.env.MODELHUB_AGENT_ACCESS_OPTIONS
      ? (JSON.parse(process.env.MODELHUB_AGENT_ACCESS_OPTIONS) as Record<string, unknown>)
      : {};
    access = new ModelHubAccess({ baseUrl: mode, accessToken: `Bearer ${defaultUser}`, retry, ...more });
    recordAcks(access);
    await backend.IModelHost.startup({ cacheDir, hubAccess: access });
    // No geographic coordinate data from the public cloud: offline it stalls the first file open (~15 s DNS).
    backend.IModelHost.appWorkspace.settings.addDictionary(
      { name: "modelhub-tests", priority: backend.SettingsPriority.application },
      { "itwin/core/gcs/disableWorkspaces": true },
    );
  }
  process.on("message", (message: { id: number; command: string; args: Record<string, unknown> }) => {
    void (async () => {
      log(`→ #${message.id} ${message.command} ${brief(message.args)}`);
      try {
        const result = await commands[message.command]!(message.args);
        log(`← #${message.id} ${message.command} ok ${brief(result)}`);
        process.send!({
          id: message.id,
          ok: true,
          result: result === undefined ? null : JSON.parse(JSON.stringify(result)),
        });
      } catch (err) {
        const e = err as { name?: string; errorNumber?: number; message?: string; briefcaseId?: number };
        log(
          `✗ #${message.id} ${message.command} failed: ${e.name ?? ""} ${e.errorNumber ?? ""} ${e.message ?? String(err)}`,
        );
        process.send!({
          id: message.id,
          ok: false,
          error: { name: e.name, errorNumber: e.errorNumber, message: e.message, briefcaseId: e.briefcaseId },
        });
      }
    })();
  });
  process.on("disconnect", () => {
    for (const db of briefcases.values()) db.close();
    if (useHubMock) hubMock!.shutdown();
    void backend.IModelHost.shutdown().finally(() => process.exit(0));
  });
  process.send!({ ready: true });
}

void main();
