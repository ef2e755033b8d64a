// A token refreshed by IModelHost.authorizationClient is used on the very next attempt: against a hub in
// `--auth tokens` mode, the first attempt is refused by a proxy (503), the authorization client then hands out a new
// token and the old one is revoked — the retry succeeds only if it carries the new token.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type * as CoreBackend from "@itwin/core-backend";
import { ModelHubAccess } from "../src/index.js";
import { createToken, listTokens, revokeToken } from "../../server/src/admin/tokens.js";
import type { Fixture } from "@modelhub/test-support/fixtures.js";
import { makeChangesets } from "@modelhub/test-support/fixtures.js";
import type { TestHub } from "@modelhub/test-support/hub.js";
import { startTestHub } from "@modelhub/test-support/hub.js";
import { FaultProxy } from "./support/fault-proxy.js";
import { startOfflineIModelHost } from "@modelhub/test-support/itwin-host.js";

const require = createRequire(import.meta.url);
const backend = require("@itwin/core-backend") as typeof CoreBackend;

const ITWIN = "3c1d3e5f-2b4c-4d6e-8f01-23456789abce";

describe("ModelHubAccess reads the host's token anew for every attempt", () => {
  let hub: TestHub;
  let proxy: FaultProxy;
  let fixture: Fixture;
  let work: string;
  let access: ModelHubAccess;
  let current = "";
  let handedOut = 0;

  before(async () => {
    fixture = await makeChangesets(join(tmpdir(), "modelhub-fixtures"), 1);
    work = await mkdtemp(join(tmpdir(), "modelhub-token-refresh-"));
    proxy = await FaultProxy.start();
    hub = await startTestHub({ auth: { mode: "tokens" }, rateLimitPerMinute: 0 });
    proxy.forwardTo(hub.url);
    current = (await createToken({ dataDir: hub.dataDir, userId: "alice" })).token;
    access = new ModelHubAccess({
      baseUrl: proxy.url,
      installCheckpointDownload: false,
      retry: { baseDelayMs: 20, maxDelayMs: 100 },
    });
    await startOfflineIModelHost({
      cacheDir: join(work, "cache"),
      hubAccess: access,
      authorizationClient: {
        getAccessToken: async () => {
          handedOut++;
          return `Bearer ${current}`;
        },
      },
    });
  });
  after(async () => {
    await backend.IModelHost.shutdown();
    access?.dispose();
    await proxy?.close();
    await hub?.close();
    await rm(work, { recursive: true, force: true });
  });

  /** Runs `operation` with its first matching request refused (503); swaps the token in between; returns its result. */
  async function withTokenSwappedAfterFirstAttempt<T>(
    method: string,
    path: RegExp,
    operation: () => Promise<T>,
  ): Promise<T> {
    const old = current;
    const oldId = (await listTokens({ dataDir: hub.dataDir })).find((t) => t.revokedAt === null)!.id;
    proxy.reset();
    proxy.add({ method, path, times: 1, kind: { reply: 503, headers: { "retry-after": "1" } } });
    const result = operation();
    // Once the first attempt was refused: the identity provider's token changes and the old one stops working.
    for (let i = 0; !proxy.seen.some((s) => s.method === method && path.test(s.path) && s.outcome === 503); i++) {
      assert.ok(i < 500, "the first attempt was sent");
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    current = (await createToken({ dataDir: hub.dataDir, userId: "alice" })).token;
    await revokeToken({ dataDir: hub.dataDir, id: oldId });
    assert.notEqual(current, old);
    const value = await result;
    const outcomes = proxy.seen.filter((s) => s.method === method && path.test(s.path)).map((s) => s.outcome);
    assert.equal(outcomes.length, 2, "one refused attempt and one retry");
    assert.equal(outcomes[0], 503);
    assert.ok(
      typeof outcomes[1] === "number" && outcomes[1] >= 200 && outcomes[1] < 300,
      `the retry succeeded (${outcomes[1]})`,
    );
    return value;
  }

  it("a retried acquire carries the refreshed token (the old one is revoked by then)", async () => {
    const iModelId = await access.createNewIModel({
      iTwinId: ITWIN,
      iModelName: "token refresh",
      version0: fixture.version0Path,
    });
    const before = handedOut;
    const briefcaseId = await withTokenSwappedAfterFirstAttempt("POST", /\/briefcases$/, () =>
      access.acquireNewBriefcaseId({ iModelId }),
    );
    assert.equal(briefcaseId, 2);
    assert.ok(handedOut > before + 1, "the authorization client was asked again for the retry");
    const ids = await access.getMyBriefcaseIds({ iModelId });
    assert.deepEqual(ids, [2], "the briefcase is alice's");
  });

  it("a token passed by iTwin.js (the host's at the start) is refreshed on retry too, e.g. a changeset list", async () => {
    const iModelId = (await access.queryIModelByName({ iTwinId: ITWIN, iModelName: "token refresh" }))!;
    const snapshot = await backend.IModelHost.getAccessToken();
    const changesets = await withTokenSwappedAfterFirstAttempt("GET", /\/changesets\?/, () =>
      access.queryChangesets({ iModelId, accessToken: snapshot }),
    );
    assert.deepEqual(changesets, []);
  });
});
