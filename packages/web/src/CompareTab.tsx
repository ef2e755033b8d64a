import type { Changeset, Comparison, ElementOp, NamedVersion } from "@modelhub/client";
import { Alert, Badge, Button, LabeledSelect, ProgressRadial, Text } from "@itwin/itwinui-react";
import { useState } from "react";
import { useLoaded } from "./hooks.js";
import type { ComparePoints } from "./route.js";
import type { TabProps } from "./tab-props.js";

/** Element rows per page of the compare view. */
const PAGE_SIZE = 50;
/** Newest changesets offered as points (as the timeline shows). */
const MAX_POINTS = 1000;

const OPS: readonly ElementOp[] = ["inserted", "updated", "deleted", "reinserted"];
const OP_SIGN: Record<ElementOp, string> = { inserted: "+", updated: "~", deleted: "−", reinserted: "±" };

/**
 * The net effect between two points of history (docs/changes.md, `GET /imodels/{id}/changes`): counts, counts by model
 * and class, and the changed elements page by page with who changed each and in which changeset. Points are changeset
 * indexes; a named version is offered by its name at its changeset.
 */
export function CompareTab({
  client,
  iModelId,
  revisions,
  userName,
  onUnauthorized,
  initial,
}: TabProps & { initial?: ComparePoints | undefined }) {
  const points = useLoaded(
    async () => {
      const changesets: Changeset[] = [];
      for await (const changeset of client.changesets(iModelId, { descending: true, pageSize: 200 })) {
        changesets.push(changeset);
        if (changesets.length >= MAX_POINTS) break;
      }
      const versions = new Map<number, NamedVersion>();
      for await (const version of client.namedVersions(iModelId)) versions.set(version.changesetIndex, version);
      return { changesets, versions };
    },
    [client, iModelId, revisions.changesets, revisions.versions],
    onUnauthorized,
  );
  const latest = points.data?.changesets[0]?.index ?? 0;
  const [chosenFrom, setFrom] = useState<number | undefined>(initial?.from);
  const [chosenTo, setTo] = useState<number | undefined>(initial?.to);
  const [op, setOp] = useState<ElementOp | "">("");
  const [skip, setSkip] = useState(0);
  const to = chosenTo ?? latest;
  const from = chosenFrom ?? Math.max(0, to - 1);
  const backwards = from > to;

  const comparison = useLoaded(
    async () => {
      if (!points.data || backwards) return undefined;
      const query = new URLSearchParams({ from: String(from), to: String(to), $top: String(PAGE_SIZE) });
      if (skip) query.set("$skip", String(skip));
      if (op) query.set("op", op);
      return (
        await client.request<{ comparison: Comparison }>(
          "GET",
          `/${encodeURIComponent(iModelId)}/changes?${query.toString()}`,
        )
      ).comparison;
    },
    [client, iModelId, points.data, from, to, op, skip, revisions.changes],
    onUnauthorized,
  );

  if (!points.data)
    return points.error ? (
      <Alert type="negative">{points.error}</Alert>
    ) : (
      <ProgressRadial indeterminate aria-label="Loading history" />
    );
  const { changesets, versions } = points.data;
  if (changesets.length === 0)
    return <Text className="mh-muted">No changeset was pushed yet: there is nothing to compare.</Text>;
  const options = [...changesets.map((c) => c.index), 0].map((index) => {
    const version = versions.get(index);
    const what = index === 0 ? "version 0 (baseline)" : (changesets.find((c) => c.index === index)?.description ?? "");
    return {
      value: String(index),
      label: `${index}${version ? ` · named version ${version.name}` : ""}${what ? ` · ${what}` : ""}`,
    };
  });
  const c = comparison.data;
  return (
    <div className="mh-stack">
      <div className="mh-row">
        <LabeledSelect
          native
          className="mh-grow"
          label="From (before)"
          value={String(from)}
          onChange={(value: string) => {
            setFrom(Number(value));
            setSkip(0);
          }}
          options={options}
        />
        <LabeledSelect
          native
          className="mh-grow"
          label="To (after)"
          value={String(to)}
          onChange={(value: string) => {
            setTo(Number(value));
            setSkip(0);
          }}
          options={options}
        />
        <LabeledSelect
          native
          label="Operation"
          value={op}
          onChange={(value: string) => {
            setOp(value as ElementOp | "");
            setSkip(0);
          }}
          options={[{ value: "", label: "all" }, ...OPS.map((o) => ({ value: o, label: o }))]}
        />
      </div>
      {backwards && <Alert type="warning">“From” is after “To”: pick an earlier point to compare from.</Alert>}
      {comparison.error && <Alert type="negative">{comparison.error}</Alert>}
      {!backwards && !c && !comparison.error && <ProgressRadial indeterminate aria-label="Comparing" />}
      {c && c.state === "pending" && (
        <Alert type="informational" role="status" data-testid="compare-pending">
          The hub is still summarizing changesets {c.pendingChangesets.join(", ")}; the comparison shows when they are
          done.
        </Alert>
      )}
      {c && c.state === "partial" && (
        <Alert type="warning" data-testid="compare-partial">
          {`The hub could not summarize ${c.failedChangesets.length === 1 ? "changeset" : "changesets"} ${c.failedChangesets
            .map((f) => `${f.changesetIndex} (${f.failureReason})`)
            .join(", ")}: the comparison below leaves ${c.failedChangesets.length === 1 ? "it" : "them"} out.`}
        </Alert>
      )}
      {c && (c.state === "ready" || c.state === "partial") && (
        <>
          <div className="mh-row" style={{ alignItems: "center" }} data-testid="compare-counts">
            {OPS.map((o) => (
              <Badge
                key={o}
                backgroundColor={o === "deleted" ? "negative" : o === "inserted" ? "positive" : "primary"}
                data-op={o}
              >
                {`${c[o]} ${o}`}
              </Badge>
            ))}
            {c.schemaChanges.length > 0 && (
              <Badge backgroundColor="warning" title={schemaText(c)}>
                schema changed
              </Badge>
            )}
          </div>
          {c.countsByModelAndClass.length > 0 && (
            <div className="mh-table-wrap">
              <table
                className="mh-table mh-cards-narrow"
                aria-label="Changes by model and class"
                data-testid="compare-by-class"
              >
                <thead>
                  <tr>
                    <th scope="col">Model</th>
                    <th scope="col">Class</th>
                    {OPS.map((o) => (
                      <th key={o} className="mh-num" scope="col">
                        {o}
                      </th>
                    ))}
                  </tr>
                </thead>
                <tbody>
                  {c.countsByModelAndClass.map((m) => (
                    <tr key={`${m.modelId} ${m.classFullName}`}>
                      <td data-label="Model" className="mh-mono">
                        {m.modelId}
                      </td>
                      <td data-label="Class">{m.classFullName}</td>
                      {OPS.map((o) => (
                        <td key={o} className="mh-num" data-label={o}>
                          {m[o] ?? 0}
                        </td>
                      ))}
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          <Text className="mh-muted" data-testid="compare-matching">
            {c.matchingElements === 0
              ? "No element matches."
              : `Elements ${skip + 1}–${skip + c.elements.length} of ${c.matchingElements}${op ? ` ${op}` : ""}.`}
          </Text>
          {c.elements.length > 0 && (
            <div className="mh-table-wrap">
              <table className="mh-table mh-cards-narrow" aria-label="Changed elements" data-testid="compare-elements">
                <thead>
                  <tr>
                    <th scope="col">Element</th>
                    <th scope="col">Change</th>
                    <th scope="col">Class</th>
                    <th scope="col">Model</th>
                    <th scope="col">Properties</th>
                    <th scope="col">By, in changeset</th>
                  </tr>
                </thead>
                <tbody>
                  {c.elements.map((e) => (
                    <tr key={e.id} data-element={e.id}>
                      <td data-label="Element">
                        {e.label ?? <span className="mh-muted">no label</span>}{" "}
                        <span className="mh-mono mh-muted">{e.id}</span>
                      </td>
                      <td data-label="Change">
                        {OP_SIGN[e.op]} {e.op}
                      </td>
                      <td data-label="Class">{e.classFullName}</td>
                      <td data-label="Model" className="mh-mono">
                        {e.previousModelId ? `${e.previousModelId} → ` : ""}
                        {e.modelId}
                      </td>
                      <td data-label="Properties">{e.properties?.length ? e.properties.join(", ") : ""}</td>
                      <td data-label="By, in changeset">
                        {(e.changedBy ?? []).map((u) => userName(u)).join(", ")}
                        {e.changesets?.length ? ` (${e.changesets.join(", ")})` : ""}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          {c.matchingElements > PAGE_SIZE && (
            <div className="mh-row" style={{ alignItems: "center" }}>
              <Button size="small" disabled={skip === 0} onClick={() => setSkip(Math.max(0, skip - PAGE_SIZE))}>
                Previous page
              </Button>
              <Button
                size="small"
                disabled={skip + PAGE_SIZE >= c.matchingElements}
                onClick={() => setSkip(skip + PAGE_SIZE)}
              >
                Next page
              </Button>
            </div>
          )}
        </>
      )}
    </div>
  );
}

function schemaText(c: Comparison): string {
  return c.schemaChanges
    .map((s) => `changeset ${s.changesetIndex}: ${s.schemas.map((x) => `${x.name} ${x.op}`).join(", ")}`)
    .join("; ");
}
