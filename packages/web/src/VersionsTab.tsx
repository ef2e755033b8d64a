import type { NamedVersion } from "@modelhub/client";
import { Alert, Badge, Button, ProgressRadial, Text } from "@itwin/itwinui-react";
import { useState } from "react";
import { formatDate } from "./format.js";
import { useLoaded } from "./hooks.js";
import type { TabProps } from "./tab-props.js";
import { NameVersionDialog } from "./NameVersionDialog.js";

export function VersionsTab({ client, iModelId, revisions, userName, onUnauthorized, onChanged }: TabProps) {
  const [naming, setNaming] = useState(false);
  const [created, setCreated] = useState<string>();
  const loaded = useLoaded(
    async () => {
      const versions: NamedVersion[] = [];
      for await (const version of client.namedVersions(iModelId)) versions.push(version);
      return versions.reverse();
    },
    [client, iModelId, revisions.versions],
    onUnauthorized,
  );

  return (
    <div className="mh-stack">
      <div>
        <Button styleType="high-visibility" onClick={() => setNaming(true)}>
          Name a version…
        </Button>
      </div>
      {created && (
        <Alert type="positive" role="status" onClose={() => setCreated(undefined)}>
          {created}
        </Alert>
      )}
      {loaded.error && <Alert type="negative">{loaded.error}</Alert>}
      {!loaded.data ? (
        !loaded.error && <ProgressRadial indeterminate aria-label="Loading named versions" />
      ) : loaded.data.length === 0 ? (
        <Text className="mh-muted">No named version yet.</Text>
      ) : (
        <div className="mh-table-wrap">
          <table className="mh-table" aria-label="Named versions" data-testid="versions">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th className="mh-num" scope="col">
                  Changeset
                </th>
                <th scope="col">Description</th>
                <th scope="col">Created by</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {loaded.data.map((v) => (
                <tr key={v.id}>
                  <td>
                    {v.name} {v.state === "hidden" && <Badge backgroundColor="warning">hidden</Badge>}
                  </td>
                  <td className="mh-num">{v.changesetIndex}</td>
                  <td>{v.description ?? <span className="mh-muted">—</span>}</td>
                  <td>{userName(creatorOf(v))}</td>
                  <td>{formatDate(v.createdDateTime)}</td>
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
            setCreated(`Named version '${v.name}' created at changeset ${v.changesetIndex}.`);
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
