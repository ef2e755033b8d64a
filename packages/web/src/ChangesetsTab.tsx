import type { Changeset, ChangesetChanges, Checkpoint, NamedVersion } from "@modelhub/client";
import { Alert, Anchor, Badge, Button, DropdownMenu, MenuItem, ProgressRadial, Text } from "@itwin/itwinui-react";
import { useEffect, useState } from "react";
import { describeError, formatBytes, formatDate } from "./format.js";
import { downloadChangesetFile, fileNameOf, saveCheckpoint } from "./downloads.js";
import { useLoaded } from "./hooks.js";
import { summaryText, useChangeSummaries } from "./change-summaries.js";
import type { TabProps } from "./tab-props.js";
import { lacking } from "./tab-props.js";
import { NameVersionDialog } from "./NameVersionDialog.js";
import { hrefOf } from "./route.js";

/** Newest changesets shown; older ones are a CLI query away (`modelhub changesets`). */
const MAX_SHOWN = 1000;

export function ChangesetsTab({
  client,
  iModelId,
  iModelName,
  can,
  revisions,
  userName,
  onUnauthorized,
  onChanged,
  fresh,
}: TabProps & { fresh: ReadonlySet<number> }) {
  const [naming, setNaming] = useState<number>();
  const [created, setCreated] = useState<string>();
  const [download, setDownload] = useState<{ ok: boolean; text: string; ready?: number }>();
  /** Changesets whose .bim this page asked the hub to make: offered for download once their checkpoint is made. */
  const [preparing, setPreparing] = useState<ReadonlySet<number>>(new Set());
  const cannotRead = lacking(can, "read");
  const cannotName = lacking(can, "write");

  // A checkpoint event (live) may mean a .bim asked for here is ready: look again at those still being made.
  useEffect(() => {
    if (preparing.size === 0) return;
    let stale = false;
    void (async () => {
      const list = await client.checkpoints(iModelId).catch(() => undefined);
      for (const index of preparing) {
        const checkpoint = list?.checkpoints.find((c) => c.changesetIndex === index);
        if (stale || !checkpoint || checkpoint.state === "scheduled") continue;
        setPreparing((p) => new Set([...p].filter((i) => i !== index)));
        setDownload(
          checkpoint.state === "successful"
            ? { ok: true, text: `The .bim of changeset ${index} is ready.`, ready: index }
            : {
                ok: false,
                text: `The hub could not make the .bim of changeset ${index}: ${checkpoint.failureReason ?? checkpoint.state}.`,
              },
        );
      }
    })();
    return () => {
      stale = true;
    };
  }, [revisions.checkpoints, preparing]);

  async function downloadBim(index: number) {
    const fileName = fileNameOf([iModelName, "changeset", index], "bim");
    try {
      // The list, not GET …/checkpoint: a changeset without one is the usual case here, not an error to log.
      let checkpoint = (await client.checkpoints(iModelId)).checkpoints.find((c) => c.changesetIndex === index);
      // None yet (checkpoints are made at named versions and every so often), or a failed one: ask the hub for one.
      if (!checkpoint || checkpoint.state === "failed") {
        checkpoint = (
          await client.request<{ checkpoint: Checkpoint }>(
            "PUT",
            `/${encodeURIComponent(iModelId)}/changesets/${index}/checkpoint`,
          )
        ).checkpoint;
      }
      const outcome = saveCheckpoint(checkpoint, fileName);
      if (outcome.kind === "started") return setDownload({ ok: true, text: `Downloading ${fileName}.` });
      setPreparing((p) => new Set([...p, index]));
      setDownload({
        ok: true,
        text: `The hub is making the .bim of changeset ${index}; it is offered here when ready.`,
      });
    } catch (err) {
      setDownload({ ok: false, text: `The .bim of changeset ${index} cannot be downloaded: ${describeError(err)}` });
    }
  }

  async function downloadFile(index: number) {
    try {
      await downloadChangesetFile(client, iModelId, iModelName, index);
      setDownload({ ok: true, text: `Downloading ${fileNameOf([iModelName, "changeset", index], "cs")}.` });
    } catch (err) {
      setDownload({ ok: false, text: `The file of changeset ${index} cannot be downloaded: ${describeError(err)}` });
    }
  }
  const loaded = useLoaded(
    async () => {
      const changesets: Changeset[] = [];
      for await (const changeset of client.changesets(iModelId, { descending: true, pageSize: 200 })) {
        changesets.push(changeset);
        if (changesets.length >= MAX_SHOWN) break;
      }
      const versions = new Map<number, NamedVersion[]>();
      for await (const version of client.namedVersions(iModelId))
        versions.set(version.changesetIndex, [...(versions.get(version.changesetIndex) ?? []), version]);
      return { changesets, versions };
    },
    [client, iModelId, revisions.changesets, revisions.versions],
    onUnauthorized,
  );

  const summaries = useChangeSummaries(
    client,
    iModelId,
    loaded.data?.changesets.map((c) => c.index) ?? [],
    revisions.changes,
  );

  if (!loaded.data)
    return loaded.error ? (
      <Alert type="negative">{loaded.error}</Alert>
    ) : (
      <ProgressRadial indeterminate aria-label="Loading changesets" />
    );
  const { changesets, versions } = loaded.data;
  return (
    <div className="mh-stack">
      {loaded.error && <Alert type="negative">{loaded.error}</Alert>}
      {created && (
        <Alert type="positive" role="status" onClose={() => setCreated(undefined)}>
          {created}
        </Alert>
      )}
      {download && (
        <Alert
          type={download.ok ? "informational" : "negative"}
          role={download.ok ? "status" : "alert"}
          onClose={() => setDownload(undefined)}
          data-testid="download-outcome"
        >
          {download.text}{" "}
          {download.ready !== undefined && (
            <Button size="small" onClick={() => void downloadBim(download.ready!)}>
              Download the .bim of changeset {download.ready}
            </Button>
          )}
        </Alert>
      )}
      {changesets.length === 0 ? (
        <Text className="mh-muted">No changeset was pushed yet: the iModel is its baseline.</Text>
      ) : (
        <div className="mh-table-wrap">
          <table className="mh-table mh-cards-narrow" aria-label="Changeset timeline" data-testid="changesets">
            <thead>
              <tr>
                <th className="mh-num" scope="col">
                  #
                </th>
                <th scope="col">Description</th>
                <th scope="col">Who</th>
                <th scope="col">When</th>
                <th scope="col">Changes</th>
                <th className="mh-num mh-hide-narrow" scope="col">
                  Size
                </th>
                <th scope="col">Named version</th>
                <th scope="col">Files</th>
              </tr>
            </thead>
            <tbody>
              {changesets.map((c) => (
                <tr key={c.id} data-index={c.index} className={fresh.has(c.index) ? "mh-fresh" : undefined}>
                  <td className="mh-num" data-label="#">
                    {c.index}
                  </td>
                  <td data-label="Description">{c.description || <span className="mh-muted">no description</span>}</td>
                  <td data-label="Who">{userName(c.creatorId)}</td>
                  <td data-label="When">{formatDate(c.pushDateTime)}</td>
                  <td data-label="Changes" data-testid="change-summary">
                    <span className="mh-row" style={{ alignItems: "center" }}>
                      <ChangeSummaryCell summary={summaries.get(c.index)} />
                      <Anchor
                        href={hrefOf({
                          page: "iModel",
                          iModelId,
                          tab: "compare",
                          compare: { from: c.index - 1, to: c.index },
                        })}
                        aria-label={`elements changed by changeset ${c.index}`}
                      >
                        elements
                      </Anchor>
                    </span>
                  </td>
                  <td className="mh-num mh-hide-narrow" data-label="Size">
                    {formatBytes(c.fileSize)}
                  </td>
                  <td data-label="Named version">
                    <span className="mh-row" style={{ alignItems: "center" }}>
                      {(versions.get(c.index) ?? []).map((v) => (
                        <Badge key={v.id} backgroundColor="primary" data-testid="version-badge">
                          {v.name}
                        </Badge>
                      ))}
                      {/* One named version per changeset (the hub refuses a second): offered only where there is none. */}
                      {!versions.has(c.index) && (
                        <Button
                          size="small"
                          styleType="borderless"
                          onClick={() => setNaming(c.index)}
                          aria-label={`Name changeset ${c.index} as a version`}
                          disabled={cannotName !== undefined}
                          title={cannotName}
                        >
                          Name…
                        </Button>
                      )}
                    </span>
                  </td>
                  <td data-label="Files">
                    {cannotRead ? (
                      <span className="mh-muted" title={cannotRead}>
                        no access
                      </span>
                    ) : (
                      <DropdownMenu
                        menuItems={(close) => [
                          <MenuItem
                            key="bim"
                            onClick={() => {
                              close();
                              void downloadBim(c.index);
                            }}
                            sublabel={preparing.has(c.index) ? "being made…" : "the iModel as of this changeset"}
                          >
                            iModel (.bim)
                          </MenuItem>,
                          <MenuItem
                            key="cs"
                            onClick={() => {
                              close();
                              void downloadFile(c.index);
                            }}
                            sublabel={formatBytes(c.fileSize)}
                          >
                            Changeset file (.cs)
                          </MenuItem>,
                        ]}
                      >
                        <Button size="small" aria-label={`Download changeset ${c.index}`}>
                          Download
                        </Button>
                      </DropdownMenu>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {changesets.length >= MAX_SHOWN && <Text className="mh-muted">The newest {MAX_SHOWN} changesets are shown.</Text>}
      {naming !== undefined && (
        <NameVersionDialog
          client={client}
          iModelId={iModelId}
          changesetIndex={naming}
          onClose={() => setNaming(undefined)}
          onCreated={(v) => {
            setNaming(undefined);
            setCreated(`Named version '${v.name}' created at changeset ${v.changesetIndex}.`);
            onChanged(["versions", "changesets"]);
          }}
        />
      )}
    </div>
  );
}

function ChangeSummaryCell({ summary }: { summary: ChangesetChanges | "unavailable" | undefined }) {
  if (!summary) return <span className="mh-muted">…</span>;
  if (summary === "unavailable")
    return (
      <span className="mh-muted" title="The hub did not give this changeset's summary" data-state="unavailable">
        —
      </span>
    );
  if (summary.state === "pending")
    return (
      <span className="mh-muted" title="The hub is still summarizing this changeset" data-state="pending">
        …
      </span>
    );
  if (summary.state === "failed")
    return (
      <span
        className="mh-row"
        style={{ alignItems: "center" }}
        data-state="failed"
        title={`The hub could not summarize this changeset: ${summary.failureReason ?? "no reason given"}`}
      >
        <Badge backgroundColor="negative">summary failed</Badge>
      </span>
    );
  return (
    <span className="mh-row" style={{ alignItems: "center" }} data-state="ready">
      <span className="mh-nowrap">{summaryText(summary)}</span>
      {summary.schemaChanged && (
        <Badge
          backgroundColor="warning"
          title={`Schemas: ${summary.schemas.map((s) => `${s.name} ${s.op}`).join(", ")}`}
          data-testid="schema-badge"
        >
          schema
        </Badge>
      )}
    </span>
  );
}
