import type { Briefcase, Lock, ModelHubClient } from "@modelhub/client";
import { Alert, Button, Modal, ModalButtonBar, ModalContent, ProgressRadial, Text } from "@itwin/itwinui-react";
import { useEffect, useState } from "react";
import { describeError, formatDate } from "./format.js";
import { useLoaded } from "./hooks.js";
import type { TabProps } from "./tab-props.js";
import { lacking } from "./tab-props.js";

/** Object ids listed per briefcase and level; the counts say how many there are. */
const IDS_SHOWN = 50;

function countOf(lock: Lock | undefined, level: "shared" | "exclusive"): number {
  return lock?.lockedObjects.filter((g) => g.lockLevel === level).reduce((n, g) => n + g.objectIds.length, 0) ?? 0;
}

export function BriefcasesTab({
  client,
  userId,
  iModelId,
  can,
  revisions,
  userName,
  onUnauthorized,
  onChanged,
}: TabProps) {
  /** Releasing a briefcase's locks: one's own with imodels_write, anyone's with imodels_manage (the hub's rule). */
  const cannotRelease = (ownerId: string | null | undefined): string | undefined =>
    can.manage
      ? undefined
      : ownerId === userId
        ? lacking(can, "write")
        : `${lacking(can, "manage") ?? ""} Only the owner (with imodels_write) or a manager may release them.`.trim();
  const [releasing, setReleasing] = useState<Briefcase>();
  const [outcome, setOutcome] = useState<{ ok: boolean; text: string }>();
  const loaded = useLoaded(
    async () => {
      const briefcases: Briefcase[] = [];
      for await (const briefcase of client.briefcases(iModelId)) briefcases.push(briefcase);
      const locks = new Map((await client.locks(iModelId)).map((l) => [l.briefcaseId, l]));
      return { briefcases: briefcases.sort((a, b) => a.briefcaseId - b.briefcaseId), locks };
    },
    [client, iModelId, revisions.briefcases],
    onUnauthorized,
  );

  if (!loaded.data)
    return loaded.error ? (
      <Alert type="negative">{loaded.error}</Alert>
    ) : (
      <ProgressRadial indeterminate aria-label="Loading briefcases" />
    );
  const { briefcases, locks } = loaded.data;
  return (
    <div className="mh-stack">
      {loaded.error && <Alert type="negative">{loaded.error}</Alert>}
      {outcome && (
        <Alert
          type={outcome.ok ? "positive" : "negative"}
          role={outcome.ok ? "status" : "alert"}
          onClose={() => setOutcome(undefined)}
          data-testid="release-outcome"
        >
          {outcome.text}
        </Alert>
      )}
      {briefcases.length === 0 ? (
        <Text className="mh-muted">Nobody holds a briefcase of this iModel.</Text>
      ) : (
        <div className="mh-table-wrap">
          <table className="mh-table mh-cards-narrow" aria-label="Briefcases and their locks" data-testid="briefcases">
            <thead>
              <tr>
                <th className="mh-num" scope="col">
                  Briefcase
                </th>
                <th scope="col">Owner</th>
                <th scope="col" className="mh-hide-narrow">
                  Device / application
                </th>
                <th scope="col" className="mh-hide-narrow">
                  Acquired
                </th>
                <th scope="col">Locks</th>
                <th scope="col">
                  <span className="mh-hide-narrow">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {briefcases.map((b) => {
                const lock = locks.get(b.briefcaseId);
                const exclusive = countOf(lock, "exclusive");
                const shared = countOf(lock, "shared");
                return (
                  <tr key={b.briefcaseId} data-briefcase={b.briefcaseId}>
                    <td className="mh-num" data-label="Briefcase">
                      {b.briefcaseId}
                    </td>
                    <td data-label="Owner">{userName(b.ownerId)}</td>
                    <td className="mh-hide-narrow">
                      {[b.deviceName, b.application?.name].filter(Boolean).join(" · ") || "—"}
                    </td>
                    <td className="mh-hide-narrow">{formatDate(b.acquiredDateTime)}</td>
                    <td data-label="Locks" data-testid="lock-counts" data-exclusive={exclusive} data-shared={shared}>
                      {exclusive === 0 && shared === 0 ? (
                        <span className="mh-muted">none</span>
                      ) : (
                        <LockDetails
                          client={client}
                          iModelId={iModelId}
                          lock={lock}
                          exclusive={exclusive}
                          shared={shared}
                          canRead={can.read}
                          revision={revisions.briefcases}
                        />
                      )}
                    </td>
                    <td data-label="Actions">
                      {(() => {
                        const why = cannotRelease(b.ownerId);
                        return (
                          <Button
                            size="small"
                            disabled={exclusive + shared === 0 || why !== undefined}
                            title={why}
                            onClick={() => setReleasing(b)}
                          >
                            Release locks
                          </Button>
                        );
                      })()}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {releasing && (
        <ReleaseLocksDialog
          briefcase={releasing}
          owner={userName(releasing.ownerId)}
          onClose={() => setReleasing(undefined)}
          onConfirm={async () => {
            const briefcaseId = releasing.briefcaseId;
            setReleasing(undefined);
            try {
              await client.releaseLocks(iModelId, briefcaseId);
              setOutcome({ ok: true, text: `Released the locks of briefcase ${briefcaseId}.` });
            } catch (err) {
              setOutcome({
                ok: false,
                text: `The locks of briefcase ${briefcaseId} were not released: ${describeError(err)}`,
              });
            }
            onChanged(["briefcases"]);
          }}
        />
      )}
    </div>
  );
}

function ReleaseLocksDialog({
  briefcase,
  owner,
  onClose,
  onConfirm,
}: {
  briefcase: Briefcase;
  owner: string;
  onClose: () => void;
  onConfirm: () => void;
}) {
  return (
    <Modal isOpen title={`Release the locks of briefcase ${briefcase.briefcaseId}?`} onClose={onClose} closeOnEsc>
      <ModalContent>
        <Text>
          {owner}'s briefcase keeps its local changes, but others may then lock and change the same elements: do this
          when its owner cannot (a lost laptop, someone who left). The briefcase itself stays.
        </Text>
      </ModalContent>
      <ModalButtonBar>
        <Button styleType="high-visibility" onClick={onConfirm}>
          Release locks
        </Button>
        <Button onClick={onClose}>Cancel</Button>
      </ModalButtonBar>
    </Modal>
  );
}

interface ElementLabels {
  asOf: { changesetIndex: number; changesetId: string };
  elements: {
    id: string;
    className: string;
    label: string | null;
    model: { id: string; className: string | null; label: string | null } | null;
  }[];
  notInCheckpoint: string[];
}

/**
 * One briefcase's locked objects, listed when opened: with their label, class and model as the hub's worker reads
 * them from the newest checkpoint (`GET …/elementlabels`, imodels_read); raw ids otherwise.
 */
function LockDetails({
  client,
  iModelId,
  lock,
  exclusive,
  shared,
  canRead,
  revision,
}: {
  client: ModelHubClient;
  iModelId: string;
  lock: Lock | undefined;
  exclusive: number;
  shared: number;
  canRead: boolean;
  revision: number;
}) {
  const [open, setOpen] = useState(false);
  const [labels, setLabels] = useState<{ data?: ElementLabels; error?: string }>({});
  const shown = (lock?.lockedObjects ?? []).flatMap((g) => g.objectIds.slice(0, IDS_SHOWN));
  const key = shown.join(",");
  useEffect(() => {
    if (!open || !canRead || shown.length === 0) return;
    let stale = false;
    client
      .request<ElementLabels>(
        "GET",
        `/${encodeURIComponent(iModelId)}/elementlabels?ids=${shown.map(encodeURIComponent).join(",")}`,
      )
      .then(
        (data) => !stale && setLabels({ data }),
        (err: unknown) => !stale && setLabels({ error: describeError(err) }),
      );
    return () => {
      stale = true;
    };
  }, [open, canRead, key, revision]);
  const byId = new Map((labels.data?.elements ?? []).map((e) => [e.id, e]));
  return (
    <details onToggle={(e) => setOpen((e.target as HTMLDetailsElement).open)}>
      <summary>
        {exclusive} exclusive, {shared} shared
      </summary>
      {!canRead && <Text className="mh-muted">Element names need the imodels_read permission: ids only.</Text>}
      {labels.error && <Text className="mh-muted">Names unavailable: {labels.error}</Text>}
      {labels.data && (
        <Text variant="small" className="mh-muted" as="div" data-testid="labels-as-of">
          Names as of changeset {labels.data.asOf.changesetIndex} (the newest checkpoint).
        </Text>
      )}
      {lock?.lockedObjects.map((g) => (
        <div key={g.lockLevel}>
          <Text variant="small" as="span">
            {g.lockLevel}:
          </Text>
          <ul className="mh-ids" data-testid={`locked-${g.lockLevel}`}>
            {g.objectIds.slice(0, IDS_SHOWN).map((id) => {
              const element = byId.get(id);
              return (
                <li key={id} data-object={id}>
                  {element ? (
                    <>
                      <strong>{element.label ?? "(no label)"}</strong>{" "}
                      <span className="mh-muted">{element.className}</span>
                      {element.model && element.model.id !== element.id && (
                        <span className="mh-muted"> in {element.model.label ?? element.model.id}</span>
                      )}{" "}
                      <span className="mh-mono">{id}</span>
                    </>
                  ) : (
                    <>
                      <span className="mh-mono">{id}</span>
                      {labels.data?.notInCheckpoint.includes(id) && (
                        <span className="mh-muted"> (not in that checkpoint: created later or not pushed yet)</span>
                      )}
                    </>
                  )}
                </li>
              );
            })}
            {g.objectIds.length > IDS_SHOWN && <li>… {g.objectIds.length - IDS_SHOWN} more</li>}
          </ul>
        </div>
      ))}
    </details>
  );
}
