// /health while one user sends 20 lock requests of 10,000 ids each at once (issue 18, finding 2: it stalled
// 2.8–12 s), against /health of the same hub idle, measured in the same run. The figure that counts is net of the
// time the hub's event-loop thread and the sampler waited for a CPU (see health-sampler.ts): on this shared 2-core
// machine that wait is other work's doing, not the hub's.
import { startHubProcess } from "@modelhub/test-support/hub-process.js";
import type { HealthFigures, HealthSample } from "@modelhub/test-support/health-sampler.js";
import { healthFigures, sampleHealthDuring } from "@modelhub/test-support/health-sampler.js";
import { api, emptyIModel } from "./hub-only.js";
import { median } from "./stats.js";

export interface LockStormFigures {
  idle: HealthFigures;
  storm: HealthFigures;
  /** Wall time of the 20 requests (all answered 200), median of the rounds. */
  stormMs: number;
}

export async function benchLockStorm(requests = 20, ids = 10_000, rounds = 5): Promise<LockStormFigures> {
  const hub = await startHubProcess({
    logLevel: "error",
    args: ["--checkpoint-every", "0", "--checkpoint-every-mb", "0"],
  });
  try {
    const target = { port: Number(new URL(hub.url).port), pid: hub.pid };
    const iModelId = await emptyIModel(hub.url, "lock storm");
    const idle = healthFigures(await sampleHealthDuring(target, () => new Promise((r) => setTimeout(r, 3000)), 100));
    // Rounds of `requests` at once, each on a briefcase of its own; only samples taken while a round runs count.
    const samples: HealthSample[] = [];
    const stormMs: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const briefcaseId = (await api(hub.url, "POST", `/${iModelId}/briefcases`, {})).briefcase.briefcaseId as number;
      const bodies = Array.from({ length: requests }, (_, r) =>
        JSON.stringify({
          briefcaseId,
          changesetId: "",
          lockedObjects: [
            {
              lockLevel: "exclusive",
              objectIds: Array.from(
                { length: ids },
                (_, i) => `0x${(0x1000000 + (round * requests + r) * ids + i).toString(16)}`,
              ),
            },
          ],
        }),
      );
      samples.push(
        ...(await sampleHealthDuring(
          target,
          async () => {
            const started = performance.now();
            const statuses = await Promise.all(
              bodies.map(async (body) => {
                const r = await fetch(`${hub.url}/imodels/${iModelId}/locks`, {
                  method: "PATCH",
                  headers: { authorization: "Bearer bench", "content-type": "application/json" },
                  body,
                });
                await r.arrayBuffer();
                return r.status;
              }),
            );
            stormMs.push(performance.now() - started);
            if (statuses.some((s) => s !== 200)) throw new Error(`lock requests answered ${statuses.join(", ")}`);
          },
          1,
        )),
      );
    }
    const storm = healthFigures(samples);
    return { idle, storm, stormMs: median(stormMs) };
  } finally {
    await hub.stop();
  }
}
