import type { CheckpointState } from "@modelhub/client";
import { Alert, Badge, ProgressRadial, Text } from "@itwin/itwinui-react";
import { formatBytes } from "./format.js";
import { useLoaded } from "./hooks.js";
import type { TabProps } from "./tab-props.js";

const STATE_COLOR: Record<CheckpointState, "positive" | "negative" | "warning" | "informational"> = {
  successful: "positive",
  failed: "negative",
  scheduled: "informational",
  notGenerated: "warning",
};

export function CheckpointsTab({ client, iModelId, revisions, onUnauthorized }: TabProps) {
  const loaded = useLoaded(() => client.checkpoints(iModelId), [client, iModelId, revisions.checkpoints], onUnauthorized);
  if (!loaded.data) return loaded.error ? <Alert type="negative">{loaded.error}</Alert> : <ProgressRadial indeterminate aria-label="Loading checkpoints" />;
  const checkpoints = [...loaded.data.checkpoints].sort((a, b) => b.changesetIndex - a.changesetIndex);
  return (
    <div className="mh-stack">
      {loaded.error && <Alert type="negative">{loaded.error}</Alert>}
      <Text data-testid="checkpoints-total">
        {checkpoints.length} checkpoint{checkpoints.length === 1 ? "" : "s"}, {formatBytes(loaded.data.totalSize)} on disk
      </Text>
      {checkpoints.length > 0 && (
        <div className="mh-table-wrap">
          <table className="mh-table mh-cards-narrow" aria-label="Checkpoints" data-testid="checkpoints">
            <thead>
              <tr>
                <th className="mh-num" scope="col">
                  Changeset
                </th>
                <th scope="col">State</th>
                <th className="mh-num" scope="col">
                  Size
                </th>
                <th scope="col">Note</th>
              </tr>
            </thead>
            <tbody>
              {checkpoints.map((c) => (
                <tr key={c.changesetIndex} data-index={c.changesetIndex}>
                  <td className="mh-num" data-label="Changeset">
                    {c.changesetIndex === 0 ? "0 (baseline)" : c.changesetIndex}
                  </td>
                  <td data-label="State">
                    <Badge backgroundColor={STATE_COLOR[c.state]}>{c.state}</Badge>
                  </td>
                  <td className="mh-num" data-label="Size">
                    {c.state === "successful" ? formatBytes(c.size) : "—"}
                  </td>
                  <td data-label="Note">{c.failureReason ?? ""}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
