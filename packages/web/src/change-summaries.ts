// The change summaries of timeline rows (docs/changes.md): one small request per changeset (`$top=1`, the counts),
// asked again for those still `pending` whenever the feed says a summary was stored (or failed).
import type { ChangesetChanges, ModelHubClient } from "@modelhub/client";
import { useEffect, useState } from "react";

/** Summaries asked at once; a long timeline is read a few rows at a time. */
const CONCURRENCY = 4;

/** "+12 ~40 −3 in 2 models" (the counts of one changeset's element changes). */
export function summaryText(c: Pick<ChangesetChanges, "inserted" | "updated" | "deleted" | "countsByModelAndClass">) {
  const models = new Set(c.countsByModelAndClass.map((m) => m.modelId)).size;
  if (c.inserted + c.updated + c.deleted === 0) return "no element changes";
  return `+${c.inserted} ~${c.updated} −${c.deleted} in ${models} ${models === 1 ? "model" : "models"}`;
}

/**
 * The summaries of `indexes` by changeset index (absent while being asked, `unavailable` when the hub did not answer).
 * `revision` changes when the feed announced new summaries: pending ones are asked again.
 */
export function useChangeSummaries(
  client: ModelHubClient,
  iModelId: string,
  indexes: readonly number[],
  revision: number,
): ReadonlyMap<number, ChangesetChanges | "unavailable"> {
  const [summaries, setSummaries] = useState<ReadonlyMap<number, ChangesetChanges | "unavailable">>(new Map());
  const key = indexes.join(",");
  useEffect(() => {
    let stale = false;
    const wanted = indexes.filter((i) => {
      const known = summaries.get(i);
      return known === undefined || known === "unavailable" || known.state === "pending";
    });
    void (async () => {
      let next = 0;
      const worker = async () => {
        while (!stale && next < wanted.length) {
          const index = wanted[next++]!;
          try {
            const { changes } = await client.request<{ changes: ChangesetChanges }>(
              "GET",
              `/${encodeURIComponent(iModelId)}/changesets/${index}/changes?$top=1`,
            );
            if (!stale) setSummaries((s) => new Map(s).set(index, changes));
          } catch {
            // No imodels_read (the summary shows element contents), a hub without summaries, a changeset gone: the
            // row says it has none (asked again on the next feed event).
            if (!stale) setSummaries((s) => new Map(s).set(index, "unavailable"));
          }
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    })();
    return () => {
      stale = true;
    };
  }, [client, iModelId, key, revision]);
  return summaries;
}
