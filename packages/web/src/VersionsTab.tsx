import type { NamedVersion } from "@modelhub/client";
import { Alert, Badge, Button, ProgressRadial, Text } from "@itwin/itwinui-react";
import { useState } from "react";
import { describeError, formatDate } from "./format.js";
import { fileNameOf, saveCheckpoint } from "./downloads.js";
import { EditVersionDialog } from "./EditVersionDialog.js";
import { useLoaded } from "./hooks.js";
import type { TabProps } from "./tab-props.js";
import { lacking } from "./tab-props.js";
import { NameVersionDialog } from "./NameVersionDialog.js";

export function VersionsTab({
  client,
  iModelId,
  iModelName,
  can,
  revisions,
  userName,
  onUnauthorized,
  onChanged,
}: TabProps) {
  const [naming, setNaming] = useState(false);
  const [editing, setEditing] = useState<NamedVersion>();
  const [outcome, setOutcome] = useState<{ ok: boolean; text: string }>();
  const cannotWrite = lacking(can, "write");
  const cannotRead = lacking(can, "read");
  const loaded = useLoaded(
    async () => {
      const versions: NamedVersion[] = [];
      for await (const version of client.namedVersions(iModelId)) versions.push(version);
      return versions.reverse();
    },
    [client, iModelId, revisions.versions],
    onUnauthorized,
  );

  async function downloadBim(version: NamedVersion) {
    const fileName = fileNameOf([iModelName, version.name], "bim");
    try {
      const result = saveCheckpoint(await client.checkpointOfNamedVersion(iModelId, version.id), fileName);
      if (result.kind === "started") setOutcome({ ok: true, text: `Downloading ${fileName}.` });
      else if (result.kind === "failed")
        setOutcome({
          ok: false,
          text: `The hub could not make the .bim of '${version.name}': ${result.checkpoint.failureReason ?? "no reason given"}.`,
        });
      else
        setOutcome({
          ok: true,
          text: `The .bim of '${version.name}' is still being made (${result.checkpoint.state}); try again in a moment.`,
        });
    } catch (err) {
      setOutcome({ ok: false, text: `The .bim of '${version.name}' cannot be downloaded: ${describeError(err)}` });
    }
  }

  return (
    <div className="mh-stack">
      <div className="mh-row" style={{ alignItems: "center" }}>
        <Button
          styleType="high-visibility"
          onClick={() => setNaming(true)}
          disabled={cannotWrite !== undefined}
          aria-describedby={cannotWrite ? "versions-why" : undefined}
        >
          Name a version…
        </Button>
        {cannotWrite && (
          <Text className="mh-muted" id="versions-why">
            {cannotWrite}
          </Text>
        )}
      </div>
      {outcome && (
        <Alert
          type={outcome.ok ? "positive" : "negative"}
          role={outcome.ok ? "status" : "alert"}
          onClose={() => setOutcome(undefined)}
          data-testid="version-outcome"
        >
          {outcome.text}
        </Alert>
      )}
      {loaded.error && <Alert type="negative">{loaded.error}</Alert>}
      {!loaded.data ? (
        !loaded.error && <ProgressRadial indeterminate aria-label="Loading named versions" />
      ) : loaded.data.length === 0 ? (
        <Text className="mh-muted">No named version yet.</Text>
      ) : (
        <div className="mh-table-wrap">
          <table className="mh-table mh-cards-narrow" aria-label="Named versions" data-testid="versions">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th className="mh-num" scope="col">
                  Changeset
                </th>
                <th scope="col">Description</th>
                <th scope="col">Created by</th>
                <th scope="col">Created</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {loaded.data.map((v) => (
                <tr key={v.id} data-version={v.name}>
                  <td data-label="Name">
                    {v.name} {v.state === "hidden" && <Badge backgroundColor="warning">hidden</Badge>}
                  </td>
                  <td className="mh-num" data-label="Changeset">
                    {v.changesetIndex}
                  </td>
                  <td data-label="Description">{v.description ?? <span className="mh-muted">—</span>}</td>
                  <td data-label="Created by">{userName(creatorOf(v))}</td>
                  <td data-label="Created">{formatDate(v.createdDateTime)}</td>
                  <td data-label="Actions">
                    <span className="mh-row" style={{ alignItems: "center" }}>
                      <Button
                        size="small"
                        onClick={() => void downloadBim(v)}
                        disabled={cannotRead !== undefined}
                        title={cannotRead}
                        aria-label={`Download .bim of ${v.name}`}
                      >
                        Download .bim
                      </Button>
                      {!cannotWrite && (
                        <Button
                          size="small"
                          styleType="borderless"
                          onClick={() => setEditing(v)}
                          aria-label={`Edit ${v.name}`}
                        >
                          Edit…
                        </Button>
                      )}
                    </span>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {naming && (
        <NameVersionDialog
          client={client}
          iModelId={iModelId}
          changesetIndex={undefined}
          onClose={() => setNaming(false)}
          onCreated={(v) => {
            setNaming(false);
            setOutcome({ ok: true, text: `Named version '${v.name}' created at changeset ${v.changesetIndex}.` });
            onChanged(["versions", "changesets"]);
          }}
        />
      )}
      {editing && (
        <EditVersionDialog
          client={client}
          iModelId={iModelId}
          version={editing}
          onClose={() => setEditing(undefined)}
          onSaved={(v) => {
            setEditing(undefined);
            setOutcome({
              ok: true,
              text: `Named version '${v.name}' saved${v.state === "hidden" ? " (hidden)" : ""}.`,
            });
            onChanged(["versions", "changesets"]);
          }}
        />
      )}
    </div>
  );
}

/** The creator's id is the last segment of `_links.creator` (…/users/{id}). */
function creatorOf(version: NamedVersion): string | undefined {
  const href = version._links.creator?.href;
  return href ? decodeURIComponent(href.slice(href.lastIndexOf("/") + 1)) : undefined;
}
