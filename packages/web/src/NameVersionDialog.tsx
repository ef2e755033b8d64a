import type { ModelHubClient, NamedVersion } from "@modelhub/client";
import { Alert, Button, LabeledInput, Modal, ModalButtonBar, ModalContent } from "@itwin/itwinui-react";
import { useState } from "react";
import { describeError } from "./format.js";

/** Names a changeset (index 0: the baseline). API errors (a name taken, no permission) stay in the dialog. */
export function NameVersionDialog({
  client,
  iModelId,
  changesetIndex,
  onClose,
  onCreated,
}: {
  client: ModelHubClient;
  iModelId: string;
  changesetIndex: number | undefined;
  onClose: () => void;
  onCreated: (version: NamedVersion) => void;
}) {
  const [name, setName] = useState("");
  const [index, setIndex] = useState(changesetIndex === undefined ? "" : String(changesetIndex));
  const [description, setDescription] = useState("");
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  async function submit(event: React.FormEvent) {
    event.preventDefault();
    const changeset = Number(index);
    if (!name.trim()) return setError("Give the version a name.");
    if (index.trim() === "" || !Number.isInteger(changeset) || changeset < 0)
      return setError("The changeset is a whole number, 0 for the baseline.");
    setBusy(true);
    setError(undefined);
    try {
      const created = await client.createNamedVersion(iModelId, {
        name: name.trim(),
        changeset,
        ...(description.trim() ? { description: description.trim() } : {}),
      });
      onCreated(created);
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <Modal isOpen title="Name a version" onClose={onClose} closeOnEsc>
      <form onSubmit={submit}>
        <ModalContent>
          <div className="mh-stack">
            <LabeledInput label="Name" value={name} onChange={(e) => setName(e.target.value)} autoFocus required />
            <LabeledInput
              label="Changeset index"
              type="number"
              min={0}
              value={index}
              onChange={(e) => setIndex(e.target.value)}
              required
            />
            <LabeledInput
              label="Description (optional)"
              value={description}
              onChange={(e) => setDescription(e.target.value)}
            />
            {error && (
              <Alert type="negative" role="alert">
                {error}
              </Alert>
            )}
          </div>
        </ModalContent>
        <ModalButtonBar>
          <Button type="submit" styleType="high-visibility" disabled={busy}>
            Create named version
          </Button>
          <Button type="button" onClick={onClose}>
            Cancel
          </Button>
        </ModalButtonBar>
      </form>
    </Modal>
  );
}
