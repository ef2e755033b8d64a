import type { ModelHubClient, NamedVersion } from "@modelhub/client";
import { Alert, Button, Checkbox, LabeledInput, Modal, ModalButtonBar, ModalContent } from "@itwin/itwinui-react";
import { useState } from "react";
import { describeError } from "./format.js";

/**
 * Renames a named version, changes its description, hides or shows it (`PATCH …/namedversions/{id}`). A hidden
 * version stays (its checkpoint too): tools that list visible versions no longer offer it.
 */
export function EditVersionDialog({
  client,
  iModelId,
  version,
  onClose,
  onSaved,
}: {
  client: ModelHubClient;
  iModelId: string;
  version: NamedVersion;
  onClose: () => void;
  onSaved: (version: NamedVersion) => void;
}) {
  const [name, setName] = useState(version.name);
  const [description, setDescription] = useState(version.description ?? "");
  const [hidden, setHidden] = useState(version.state === "hidden");
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  async function submit(event: React.FormEvent) {
    event.preventDefault();
    if (!name.trim()) return setError("A named version needs a name.");
    const changes: { name?: string; description?: string; state?: "visible" | "hidden" } = {};
    if (name.trim() !== version.name) changes.name = name.trim();
    if (description.trim() !== (version.description ?? "")) changes.description = description.trim();
    if (hidden !== (version.state === "hidden")) changes.state = hidden ? "hidden" : "visible";
    if (Object.keys(changes).length === 0) return onClose();
    setBusy(true);
    setError(undefined);
    try {
      const { namedVersion } = await client.request<{ namedVersion: NamedVersion }>(
        "PATCH",
        `/${encodeURIComponent(iModelId)}/namedversions/${encodeURIComponent(version.id)}`,
        changes,
      );
      onSaved(namedVersion);
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <Modal isOpen title={`Edit named version '${version.name}'`} onClose={onClose} closeOnEsc>
      <form onSubmit={submit}>
        <ModalContent>
          <div className="mh-stack">
            <LabeledInput label="Name" value={name} onChange={(e) => setName(e.target.value)} autoFocus required />
            <LabeledInput label="Description" value={description} onChange={(e) => setDescription(e.target.value)} />
            <Checkbox
              label="Hidden (kept, but not offered by tools that list visible versions)"
              checked={hidden}
              onChange={(e) => setHidden(e.target.checked)}
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
            Save
          </Button>
          <Button type="button" onClick={onClose}>
            Cancel
          </Button>
        </ModalButtonBar>
      </form>
    </Modal>
  );
}
