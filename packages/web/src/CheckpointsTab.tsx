import type { CheckpointState } from "@modelhub/client";
import { Alert, Badge, Button, ProgressRadial, Text } from "@itwin/itwinui-react";
import { useState } from "react";
import { describeError, formatBytes } from "./format.js";
import { fileNameOf, saveCheckpoint } from "./downloads.js";
import { useLoaded } from "./hooks.js";
import type { TabProps } from "./tab-props.js";
import { lacking } from "./tab-props.js";

const STATE_COLOR: Record<CheckpointState, "positive" | "negative" | "warning" | "informational"> = {
  successful: "positive",
  failed: "negative",
  scheduled: "informational",
  notGenerated: "warning",
};

export function CheckpointsTab({ client, iModelId, iModelName, can, revisions, onUnauthorized }: TabProps) {
  const [outcome, setOutcome] = useState<{ ok: boolean; text: string }>();
  const cannotRead = lacking(can, "read");
  const loaded = useLoaded(
    () => client.checkpoints(iModelId),
    [client, iModelId, revisions.checkpoints],
    onUnauthorized,
  );
  if (!loaded.data)
    return loaded.error ? (
      <Alert type="negative">{loaded.error}</Alert>
    ) : (
      <ProgressRadial indeterminate aria-label="Loading checkpoints" />
    );
  const checkpoints = [...loaded.data.checkpoints].sort((a, b) => b.changesetIndex - a.changesetIndex);
  return (
    <div className="mh-stack">
      {loaded.error && <Alert type="negative">{loaded.error}</Alert>}
      {outcome && (
        <Alert
          type={outcome.ok ? "positive" : "negative"}
          role={outcome.ok ? "status" : "alert"}
          onClose={() => setOutcome(undefined)}
        >
          {outcome.text}
        </Alert>
      )}
      <Text data-testid="checkpoints-total">
        {checkpoints.length} checkpoint{checkpoints.length === 1 ? "" : "s"}, {formatBytes(loaded.data.totalSize)} on
        disk
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
                <th scope="col">File</th>
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
                  <td data-label="File">
                    {c.state === "successful" && (
                      <Button
                        size="small"
                        disabled={cannotRead !== undefined}
                        title={cannotRead}
                        aria-label={`Download .bim of changeset ${c.changesetIndex}`}
                        onClick={async () => {
                          const fileName = fileNameOf([iModelName, "changeset", c.changesetIndex], "bim");
                          try {
                            // A fresh link: the list's may have expired while the page was open.
                            const fresh = (await client.checkpoints(iModelId)).checkpoints.find(
                              (x) => x.changesetIndex === c.changesetIndex,
                            );
                            if (!fresh) throw new Error("the checkpoint was pruned meanwhile.");
                            const result = saveCheckpoint(fresh, fileName);
                            setOutcome(
                              result.kind === "started"
                                ? { ok: true, text: `Downloading ${fileName}.` }
                                : { ok: false, text: `The checkpoint is ${fresh.state} now.` },
                            );
                          } catch (err) {
                            setOutcome({ ok: false, text: `The .bim cannot be downloaded: ${describeError(err)}` });
                          }
                        }}
                      >
                        Download .bim
                      </Button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
