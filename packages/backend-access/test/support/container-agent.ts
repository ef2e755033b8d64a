// An iTwin.js backend in a process of its own that uses the hub's blob containers through @modelhub/backend-access:
// ModelHubAccess for briefcases, installContainerService for BlobContainer.service (workspaces, SchemaSync).
//   node --import tsx container-agent.ts <hubUrl> <user>
// Driven over IPC: { id, command, args } → { id, ok: true, result } | { id, ok: false, error: { name, errorNumber, message } }.
import { mkdtemp } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type * as CoreBackend from "@itwin/core-backend";
import type * as CoreCommon from "@itwin/core-common";
import type * as BackendAccess from "../../src/index.js";

// MODELHUB_AGENT_ROOT runs the agent as an app installed in that folder (e.g. an iTwin.js 5.7.3 host): iTwin.js and
// @modelhub/backend-access are then that folder's copies.
const agentRoot = process.env.MODELHUB_AGENT_ROOT;
const require = createRequire(agentRoot ? `${agentRoot}/package.json` : import.meta.url);
const { ModelHubAccess, installContainerService } = agentRoot
  ? (require("@modelhub/backend-access") as typeof BackendAccess)
  : await import("../../src/index.js");
const backend = require("@itwin/core-backend") as typeof CoreBackend;
const common = require("@itwin/core-common") as typeof CoreCommon;

const [hubUrl, user] = process.argv.slice(2) as [string, string];
const bearer = `Bearer ${user}`;
const briefcases = new Map<string, CoreBackend.BriefcaseDb>();
const access = new ModelHubAccess({ baseUrl: hubUrl, accessToken: bearer, retry: { baseDelayMs: 100 } });

const commands: Record<string, (args: Record<string, unknown>) => Promise<unknown>> = {
  async hostVersion() {
    return (require("@itwin/core-backend/package.json") as { version: string }).version;
  },

  /** WorkspaceEditor: a new workspace container from the hub's BlobContainer service, with `strings` in its db. */
  async createWorkspace(a) {
    const editor = backend.WorkspaceEditor.construct();
    try {
      const container = await editor.createNewCloudContainer({
        scope: { iTwinId: String(a.iTwinId), ...(a.iModelId ? { iModelId: String(a.iModelId) } : {}) },
        metadata: { label: String(a.label), description: "written by container-agent" },
        manifest: { workspaceName: String(a.label) },
      });
      container.acquireWriteLock(user);
      const db = container.getEditableDb({});
      db.open();
      for (const [name, value] of Object.entries(a.strings as Record<string, string>)) db.addString(name, value);
      db.close();
      container.releaseWriteLock();
      const props = container.cloudContainer!;
      return { containerId: props.containerId, baseUri: props.baseUri, dbName: db.dbName };
    } finally {
      editor.close();
    }
  },

  /** Writes more strings into an existing workspace container (a new write lock, the same db). */
  async editWorkspace(a) {
    const editor = backend.WorkspaceEditor.construct();
    try {
      const container = await editor.getContainerAsync({
        containerId: String(a.containerId),
        baseUri: String(a.baseUri),
        storageType: "azure",
        writeable: true,
      });
      container.acquireWriteLock(user);
      const db = container.getEditableDb({});
      db.open();
      for (const [name, value] of Object.entries(a.strings as Record<string, string>)) db.updateString(name, value);
      db.close();
      container.releaseWriteLock();
      return true;
    } finally {
      editor.close();
    }
  },

  /** Reads strings through the app workspace (a read token from the hub, blocks from the storage account). */
  async readWorkspace(a) {
    const db = await backend.IModelHost.appWorkspace.getWorkspaceDb({
      containerId: String(a.containerId),
      baseUri: String(a.baseUri),
      storageType: "azure",
      dbName: String(a.dbName ?? "workspace-db"),
    });
    // Always the latest published contents: this process may have read the container before.
    db.container.cloudContainer?.checkForChanges();
    const out: Record<string, string | null> = {};
    for (const name of a.names as string[]) out[name] = db.getString(name) ?? null;
    db.close();
    return out;
  },

  async createIModel(a) {
    return access.createNewIModel({
      iTwinId: String(a.iTwinId),
      iModelName: String(a.name),
      version0: a.version0 as string | undefined,
      accessToken: bearer,
    });
  },

  async download(a) {
    const props = await backend.BriefcaseManager.downloadBriefcase({
      accessToken: bearer,
      iTwinId: String(a.iTwinId),
      iModelId: String(a.iModelId),
      fileName: join(String(a.dir), `${a.key}.bim`),
    });
    const db = await backend.BriefcaseDb.open({ fileName: props.fileName });
    briefcases.set(String(a.key), db);
    return { briefcaseId: db.briefcaseId, changesetIndex: db.changeset.index };
  },

  /** A SchemaSync container for the iModel (the hub's BlobContainer service), initialized and enabled on the iModel (pushed). */
  async enableSchemaSync(a) {
    const db = briefcases.get(String(a.key))!;
    const created = await backend.BlobContainer.service!.create({
      scope: { iTwinId: db.iTwinId, iModelId: db.iModelId },
      metadata: { containerType: "schemasync", label: "SchemaSync" },
      userToken: bearer,
    });
    const containerProps = {
      baseUri: created.baseUri,
      containerId: created.containerId,
      storageType: "azure" as const,
    };
    await backend.SchemaSync.CloudAccess.initializeDb(containerProps);
    await backend.SchemaSync.initializeForIModel({ iModel: db, containerProps });
    return {
      containerId: created.containerId,
      changesetIndex: db.changeset.index,
      enabled: backend.SchemaSync.isEnabled(db),
    };
  },

  /** Imports a schema (XML) and pushes; SchemaSync makes the import need no schema lock. */
  async importSchema(a) {
    const db = briefcases.get(String(a.key))!;
    await db.importSchemaStrings([String(a.xml)]);
    const heldSchemaLock = db.holdsSchemaLock;
    db.saveChanges("schema imported");
    await db.pushChanges({ description: "schema imported through SchemaSync" });
    return { heldSchemaLock, changesetIndex: db.changeset.index };
  },

  /** Inserts `count` elements (locks from the hub) and pushes them. */
  async insertAndPush(a) {
    const db = briefcases.get(String(a.key))!;
    const firstId = (ecsql: string) =>
      db.withPreparedStatement(ecsql, (stmt) => (stmt.step(), stmt.getValue(0).getId()));
    const model = firstId("SELECT ECInstanceId FROM bis.PhysicalModel WHERE IsPrivate = false");
    const category = firstId("SELECT ECInstanceId FROM bis.SpatialCategory");
    await db.locks.acquireLocks({ shared: model });
    for (let i = 0; i < Number(a.count); i++) {
      db.elements.insertElement({
        classFullName: "Generic:PhysicalObject",
        model,
        category,
        code: common.Code.createEmpty(),
        userLabel: `${user} ${i}`,
        placement: { origin: [i, 0, 0], angles: {} },
      } as never);
    }
    db.saveChanges(`insert ${a.count}`);
    await db.pushChanges({ description: `insert ${a.count}` });
    return { changesetIndex: db.changeset.index };
  },

  async pull(a) {
    const db = briefcases.get(String(a.key))!;
    await db.pullChanges(a.toIndex !== undefined ? { toIndex: Number(a.toIndex) } : {});
    return { changesetIndex: db.changeset.index, schemaSync: backend.SchemaSync.isEnabled(db) };
  },

  /** Takes what other briefcases put in the SchemaSync container, without pulling changesets. */
  async schemaSyncPull(a) {
    const db = briefcases.get(String(a.key))!;
    await backend.SchemaSync.pull(db);
    return { changesetIndex: db.changeset.index };
  },

  /**
   * Opens a checkpoint's `directoryAccessInfo` as iTwin.js's CloudSqlite does for V2 checkpoints (with the account's
   * real base URL: 5.x itself would build https://<account>.blob.core.windows.net), and downloads its database.
   */
  async openV2Checkpoint(a) {
    const info = a.directoryAccessInfo as { baseUrl: string; baseDirectory: string; azure: { sasToken: string } };
    const container = backend.CloudSqlite.createCloudContainer({
      baseUri: info.baseUrl,
      containerId: info.baseDirectory,
      accessToken: info.azure.sasToken,
      storageType: "azure",
      tokenRefreshSeconds: -1,
    });
    container.connect(backend.CloudSqlite.CloudCaches.getCache({ cacheName: "v2-checkpoints" }));
    try {
      const stats = container.queryDatabase(String(a.dbName));
      const localFileName = String(a.localFile);
      await backend.CloudSqlite.transferDb("download", container, { dbName: String(a.dbName), localFileName });
      const db = backend.SnapshotDb.openFile(localFileName);
      try {
        return {
          blockSize: container.blockSize,
          databases: container.queryDatabases(),
          totalBlocks: stats?.totalBlocks ?? null,
          changeset: db.changeset,
          iModelId: db.iModelId,
        };
      } finally {
        db.close();
      }
    } finally {
      container.disconnect({ detach: true });
    }
  },

  async hasSchema(a) {
    const db = briefcases.get(String(a.key))!;
    return db.querySchemaVersion(String(a.name)) ?? null;
  },
};

async function main(): Promise<void> {
  const cacheDir = await mkdtemp(join(tmpdir(), "container-agent-"));
  // Workspace containers are created with the host's user token (CloudSqlite.createBlobContainer asks the authorization client).
  await backend.IModelHost.startup({
    cacheDir,
    hubAccess: access,
    authorizationClient: { getAccessToken: async () => bearer },
  });
  backend.IModelHost.appWorkspace.settings.addDictionary(
    { name: "modelhub-tests", priority: backend.SettingsPriority.application },
    { "itwin/core/gcs/disableWorkspaces": true },
  );
  installContainerService({ baseUrl: hubUrl, accessToken: bearer });
  process.on("message", (message: { id: number; command: string; args: Record<string, unknown> }) => {
    void (async () => {
      try {
        const result = await commands[message.command]!(message.args);
        process.send!({
          id: message.id,
          ok: true,
          result: result === undefined ? null : JSON.parse(JSON.stringify(result)),
        });
      } catch (err) {
        const e = err as { name?: string; errorNumber?: number; message?: string };
        process.send!({
          id: message.id,
          ok: false,
          error: { name: e.name, errorNumber: e.errorNumber, message: e.message ?? String(err) },
        });
      }
    })();
  });
  process.on("disconnect", () => {
    for (const db of briefcases.values()) db.close();
    void backend.IModelHost.shutdown().finally(() => process.exit(0));
  });
  process.send!({ ready: true });
}

void main();
