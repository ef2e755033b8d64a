// Per-iTwin gates through the API (issue 21), on a hub with tokens (permissions enforced): a manager registers a
// gate on iTwin A through @modelhub/client pointing at a local receiver; an iTwin.js backend's push to A is refused
// with the gate's message, while a push to iTwin B's iModel is not gated at all; removing the gate lets A's push
// through; a reader of A (and a non-member) cannot register or list gates; all of it in the audit log.
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type * as CoreBackend from "@itwin/core-backend";
import type * as CoreCommon from "@itwin/core-common";
import { ModelHubClient, ModelHubError } from "@modelhub/client";
import { ModelHubAccess } from "../src/index.js";
import { createToken } from "../../server/src/admin/tokens.js";
import { makeVersion0 } from "@modelhub/test-support/fixtures.js";
import { createIModelFromFile } from "@modelhub/test-support/flows.js";
import type { TestHub } from "@modelhub/test-support/hub.js";
import { startTestHub } from "@modelhub/test-support/hub.js";
import { startOfflineIModelHost } from "@modelhub/test-support/itwin-host.js";

const require = createRequire(import.meta.url);
const backend = require("@itwin/core-backend") as typeof CoreBackend;
const common = require("@itwin/core-common") as typeof CoreCommon;

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const ITWIN_A = "3c9d7e1f-2a4b-4c6d-8e0f-1a2b3c4d5e6f";
const ITWIN_B = "4d0e8f2a-3b5c-4d7e-9f1a-2b3c4d5e6f70";
const SECRET = "per-itwin-gate-secret-of-32-characters-at-least";

interface Receiver {
  server: Server;
  url: string;
  answer: { status: number; body: string };
  calls: { payload: Json; signatureOk: boolean }[];
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    request.setEncoding("utf8");
    request.on("data", (chunk: string) => (text += chunk));
    request.on("end", () => resolve(text));
    request.on("error", reject);
  });
}

/** A gate on a loopback port: records each call (and whether its signature is right), answers as told. */
async function startReceiver(): Promise<Receiver> {
  const receiver = { answer: { status: 200, body: "{}" }, calls: [] } as unknown as Receiver;
  receiver.server = createServer((request, response) => {
    void readBody(request).then((raw) => {
      const expected = `sha256=${createHmac("sha256", SECRET).update(raw).digest("hex")}`;
      receiver.calls.push({ payload: JSON.parse(raw) as Json, signatureOk: request.headers.signature === expected });
      response.writeHead(receiver.answer.status, { "content-type": "application/json" });
      response.end(receiver.answer.body);
    });
  });
  await new Promise<void>((resolve) => receiver.server.listen(0, "127.0.0.1", resolve));
  receiver.url = `http://127.0.0.1:${(receiver.server.address() as AddressInfo).port}/per-itwin`;
  return receiver;
}

describe(
  "per-iTwin gates registered through the API refuse and then let through iTwin.js pushes",
  { timeout: 240_000 },
  () => {
    let hub: TestHub;
    const tokens = new Map<string, string>();
    const token = (user: string) => tokens.get(user)!;
    /** The hub as `user` sees it: every call carries that user's hub token. */
    const as = (user: string): TestHub => ({
      ...hub,
      api: (method, path, options = {}) => hub.api(method, path, { ...options, user: token(user) }),
    });
    let access: ModelHubAccess;
    let work: string;
    let receiver: Receiver;
    let manager: ModelHubClient;
    const briefcases: Record<"A" | "B", { db: CoreBackend.BriefcaseDb; model: string; category: string }> = {} as never;
    let gateId: string;
    let finished = false;

    const clientOf = (user: string) => new ModelHubClient({ url: hub.url, accessToken: token(user) });

    /** One new element in the briefcase, saved (not pushed). */
    async function edit(which: "A" | "B", label: string): Promise<CoreBackend.BriefcaseDb> {
      const { db, model, category } = briefcases[which];
      await db.locks.acquireLocks({ shared: [model, common.IModel.repositoryModelId] });
      db.elements.insertElement({
        classFullName: "Generic:PhysicalObject",
        model,
        category,
        code: common.Code.createEmpty(),
        userLabel: label,
        placement: { origin: [0, 0, 0], angles: {} },
      } as CoreCommon.PhysicalElementProps);
      db.saveChanges(label);
      return db;
    }

    before(async () => {
      work = await mkdtemp(join(tmpdir(), "modelhub-gates-api-"));
      receiver = await startReceiver();
      hub = await startTestHub({ auth: { mode: "tokens" } });
      for (const userId of ["alice", "reader", "stranger"])
        tokens.set(userId, (await createToken({ dataDir: hub.dataDir, userId })).token);
      const bearer = `Bearer ${token("alice")}`;
      access = new ModelHubAccess({ baseUrl: hub.url, accessToken: bearer });
      await startOfflineIModelHost({ cacheDir: join(work, "cache"), hubAccess: access });
      const version0 = await makeVersion0(join(tmpdir(), "modelhub-fixtures"));
      // alice claims both iTwins by creating an iModel in each (she is their Owner).
      for (const [which, iTwinId] of [
        ["A", ITWIN_A],
        ["B", ITWIN_B],
      ] as const) {
        const iModel = await createIModelFromFile(as("alice"), version0, {
          iTwinId,
          user: "alice",
          name: `gated-${which}`,
        });
        const props = await backend.BriefcaseManager.downloadBriefcase({
          accessToken: bearer,
          iTwinId,
          iModelId: iModel.id,
          fileName: join(work, `${which}.bim`),
        });
        const db = await backend.BriefcaseDb.open({ fileName: props.fileName });
        const first = (sql: string) => db.withSqliteStatement(sql, (st) => (st.step(), st.getValueId(0)));
        briefcases[which] = {
          db,
          model: first(
            "SELECT e.Id FROM bis_Element e JOIN ec_Class c ON c.Id = e.ECClassId WHERE c.Name = 'PhysicalPartition' AND e.CodeValue = 'Physical'",
          ),
          category: first("SELECT Id FROM bis_Element WHERE CodeValue = 'Things'"),
        };
      }
      // reader: a member of A who may read, not manage.
      manager = clientOf("alice");
      const role = await manager.createRole(ITWIN_A, {
        displayName: "Readers",
        permissions: ["imodels_webview", "imodels_read"],
      });
      await manager.addMembers(ITWIN_A, [{ userId: "reader", roleIds: [role.id] }]);
    });
    after(async () => {
      for (const b of Object.values(briefcases)) b.db.close();
      access?.dispose();
      await backend.IModelHost.shutdown();
      await hub?.close();
      await new Promise((resolve) => receiver?.server.close(resolve));
      await rm(work, { recursive: true, force: true });
      assert.ok(finished, "the last step ran");
    });

    it("a reader of the iTwin, and a non-member, can neither register nor list its gates", async () => {
      for (const user of ["reader", "stranger"]) {
        const client = clientOf(user);
        await assert.rejects(client.createGate(ITWIN_A, { url: receiver.url }), (err: unknown) => {
          assert.ok(err instanceof ModelHubError, String(err));
          assert.equal(err.status, 403, `${user}: ${err.message}`);
          assert.equal(err.code, "InsufficientPermissions");
          return true;
        });
        await assert.rejects(client.gates(ITWIN_A), (err: ModelHubError) => err.status === 403);
      }
      assert.deepEqual(await manager.gates(ITWIN_A), []);
    });

    it("a manager registers a gate on iTwin A; A's push is refused with the gate's message, B's is not gated", async () => {
      const created = await manager.createGate(ITWIN_A, { url: receiver.url, name: "fire-safety", secret: SECRET });
      gateId = created.id;
      assert.deepEqual(
        [created.name, created.failure, created.signed, created.secret],
        ["fire-safety", "closed", true, undefined],
      );

      receiver.answer = { status: 422, body: JSON.stringify({ message: "element 'stair 3' has no fire rating" }) };
      const a = await edit("A", "stair 3");
      await assert.rejects(a.pushChanges({ description: "stairs" }), (err: Error) => {
        assert.match(err.message, /fire-safety: element 'stair 3' has no fire rating/);
        return true;
      });
      assert.equal(a.changeset.index, 0, "A's history is unchanged");
      assert.equal(receiver.calls.length, 1);
      const call = receiver.calls[0]!;
      assert.equal(call.signatureOk, true, "signed with the secret given at registration");
      assert.equal(call.payload.event, "changeset.push");
      assert.equal(call.payload.iModel.iTwinId, ITWIN_A);
      assert.equal(call.payload.user.id, "alice");

      const b = await edit("B", "pump 1");
      await b.pushChanges({ description: "pumps" });
      assert.equal(b.changeset.index, 1, "B's push went through");
      assert.equal(receiver.calls.length, 1, "B's push never called A's gate");
    });

    it("once the manager removes the gate, the same briefcase of A pushes", async () => {
      await manager.deleteGate(ITWIN_A, gateId);
      assert.deepEqual(await manager.gates(ITWIN_A), []);
      const a = briefcases.A.db;
      await a.pushChanges({ description: "stairs" });
      assert.equal(a.changeset.index, 1);
      assert.equal(receiver.calls.length, 1, "no gate was asked");
    });

    it("the registration, the refusal and the removal are in iTwin A's audit log", async () => {
      const actions: string[] = [];
      const refused: string[] = [];
      for await (const e of manager.auditLog({ iTwinId: ITWIN_A })) {
        if (!e.action.startsWith("gate.")) continue;
        if (e.userId === "alice") actions.push(e.action);
        else refused.push(`${e.userId}:${e.action}:${e.status}`);
      }
      assert.deepEqual(actions, ["gate.create", "gate.decision", "gate.delete"]);
      // The refused attempts are recorded too (reads are not audited).
      assert.deepEqual(refused, ["reader:gate.create:403", "stranger:gate.create:403"]);
      const refusals = [];
      for await (const e of manager.auditLog({ iTwinId: ITWIN_A, action: "gate.decision" })) refusals.push(e);
      assert.equal(refusals[0]?.outcome, "refused");
      assert.equal((refusals[0]?.details as Json | null)?.gateId, gateId);
      finished = true;
    });
  },
);
