import type { Changeset, NamedVersion } from "@modelhub/client";
import { Alert, Badge, Button, ProgressRadial, Text } from "@itwin/itwinui-react";
import { useState } from "react";
import { formatBytes, formatDate } from "./format.js";
import { useLoaded } from "./hooks.js";
import type { TabProps } from "./tab-props.js";
import { NameVersionDialog } from "./NameVersionDialog.js";

/** Newest changesets shown; older ones are a CLI query away (`modelhub changesets`). */
const MAX_SHOWN = 1000;

export function ChangesetsTab({ client, iModelId, revisions, userName, onUnauthorized, onChanged, fresh }: TabProps & { fresh: ReadonlySet<number> }) {
  const [naming, setNaming] = useState<number>();
  const [created, setCreated] = useState<string>();
  const loaded = useLoaded(
    async () => {
      const changesets: Changeset[] = [];
      for await (const changeset of client.changesets(iModelId, { descending: true, pageSize: 200 })) {
        changesets.push(changeset);
        if (changesets.length >= MAX_SHOWN) break;
      }
      const versions = new Map<number, NamedVersion[]>();
      for await (const version of client.namedVersions(iModelId)) versions.set(version.changesetIndex, [...(versions.get(version.changesetIndex) ?? []), version]);
      return { changesets, versions };
    },
    [client, iModelId, revisions.changesets, revisions.versions],
    onUnauthorized,
  );

  if (!loaded.data) return loaded.error ? <Alert type="negative">{loaded.error}</Alert> : <ProgressRadial indeterminate aria-label="Loading changesets" />;
  const { changesets, versions } = loaded.data;
  return (
    <div className="mh-stack">
      {loaded.error && <Alert type="negative">{loaded.error}</Alert>}
      {created && (
        <Alert type="positive" role="status" onClose={() => setCreated(undefined)}>
          {created}
        </Alert>
      )}
      {changesets.length === 0 ? (
        <Text className="mh-muted">No changeset was pushed yet: the iModel is its baseline.</Text>
      ) : (
        <div className="mh-table-wrap">
          <table className="mh-table" aria-label="Changeset timeline" data-testid="changesets">
            <thead>
              <tr>
                <th className="mh-num" scope="col">
                  #
                </th>
                <th scope="col">Description</th>
                <th scope="col">Who</th>
                <th scope="col">When</th>
                <th className="mh-num mh-hide-narrow" scope="col">
                  Size
                </th>
                <th scope="col">Named version</th>
              </tr>
            </thead>
            <tbody>
              {changesets.map((c) => (
                <tr key={c.id} data-index={c.index} className={fresh.has(c.index) ? "mh-fresh" : undefined}>
                  <td className="mh-num">{c.index}</td>
                  <td>{c.description || <span className="mh-muted">no description</span>}</td>
                  <td>{userName(c.creatorId)}</td>
                  <td>{formatDate(c.pushDateTime)}</td>
                  <td className="mh-num mh-hide-narrow">{formatBytes(c.fileSize)}</td>
                  <td>
                    <span className="mh-row" style={{ alignItems: "center" }}>
                      {(versions.get(c.index) ?? []).map((v) => (
                        <Badge key={v.id} backgroundColor="primary" data-testid="version-badge">
                          {v.name}
                        </Badge>
                      ))}
                      {/* One named version per changeset (the hub refuses a second): offered only where there is none. */}
                      {!versions.has(c.index) && (
                        <Button size="small" styleType="borderless" onClick={() => setNaming(c.index)} aria-label={`Name changeset ${c.index} as a version`}>
                          Name…
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
