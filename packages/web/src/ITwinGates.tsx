// An iTwin's gates and webhooks on its page (issue 21; docs/events.md "Gates", "Webhooks"): shown to those who may
// manage the iTwin. Gates: each one's name, URL and failure mode, register one and delete one; a generated secret is
// shown once. Webhooks: Webhooks.tsx.
import type { CreatedGate, GateFailureMode, ModelHubClient } from "@modelhub/client";
import { Alert, Button, LabeledInput, LabeledSelect, ProgressRadial, Text } from "@itwin/itwinui-react";
import { useState } from "react";
import { useActionOutcome } from "./admin-common.js";
import { useLoaded } from "./hooks.js";
import { ITwinWebhooks } from "./Webhooks.js";

const FAILURE_LABELS: Record<GateFailureMode, string> = {
  closed: "closed (no answer refuses)",
  open: "open (no answer accepts)",
};

/** Nothing unless the caller has `imodels_manage` on the iTwin (the hub refuses others its gates and webhooks anyway). */
export function ITwinGates({
  client,
  iTwinId,
  onUnauthorized,
}: {
  client: ModelHubClient;
  iTwinId: string;
  onUnauthorized: () => void;
}) {
  const permissions = useLoaded(() => client.iTwinPermissions(iTwinId), [client, iTwinId], onUnauthorized);
  if (!permissions.data) return null;
  // A marker of the decision (nothing shown): the caller may not manage the iTwin's gates.
  if (!permissions.data.includes("imodels_manage")) return <span hidden data-testid="gates-not-managed" />;
  return (
    <>
      <GatesOfITwin client={client} iTwinId={iTwinId} onUnauthorized={onUnauthorized} />
      <ITwinWebhooks client={client} iTwinId={iTwinId} onUnauthorized={onUnauthorized} />
    </>
  );
}

function GatesOfITwin({
  client,
  iTwinId,
  onUnauthorized,
}: {
  client: ModelHubClient;
  iTwinId: string;
  onUnauthorized: () => void;
}) {
  const [revision, setRevision] = useState(0);
  const { act, alert } = useActionOutcome(() => setRevision((n) => n + 1));
  const [created, setCreated] = useState<CreatedGate>();
  const gates = useLoaded(() => client.gates(iTwinId), [client, iTwinId, revision], onUnauthorized);

  return (
    <section className="mh-stack" aria-labelledby="gates-heading">
      <Text variant="subheading" as="h2" id="gates-heading">
        Gates
      </Text>
      <Text className="mh-muted">
        URLs the hub asks before it accepts a push or creates a named version of this iTwin&apos;s iModels; a 4xx answer
        refuses it with the gate&apos;s message.
      </Text>
      {alert("gates-outcome")}
      {created?.secret && (
        <Alert type="informational" onClose={() => setCreated(undefined)} data-testid="gate-secret">
          The secret of {created.name}, shown only now: <span className="mh-mono">{created.secret}</span>. Give it to
          the gate, which checks each call&apos;s Signature header with it.
        </Alert>
      )}
      {gates.error && !gates.data ? (
        <Alert type="negative">{gates.error}</Alert>
      ) : !gates.data ? (
        <ProgressRadial indeterminate aria-label="Loading gates" />
      ) : gates.data.length === 0 ? (
        <Text className="mh-muted" data-testid="no-gates">
          No gates: every push is accepted as it is.
        </Text>
      ) : (
        <div className="mh-table-wrap">
          <table className="mh-table mh-cards-narrow" aria-label="Gates" data-testid="gates">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">URL</th>
                <th scope="col">Failure mode</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {gates.data.map((g) => (
                <tr key={g.id} data-gate={g.name}>
                  <td data-label="Name">{g.name}</td>
                  <td data-label="URL" className="mh-mono">
                    {g.url}
                  </td>
                  <td data-label="Failure mode">{FAILURE_LABELS[g.failure]}</td>
                  <td data-label="Actions">
                    <Button
                      size="small"
                      onClick={() =>
                        void act(`Deleted the gate ${g.name}.`, `The gate ${g.name} was not deleted`, () =>
                          client.deleteGate(iTwinId, g.id),
                        )
                      }
                    >
                      Delete {g.name}
                    </Button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <NewGateForm
        onCreate={(url, name, failure) =>
          act(`Registered the gate ${name || url}.`, "The gate was not registered", async () =>
            setCreated(await client.createGate(iTwinId, { url, failure, ...(name ? { name } : {}) })),
          )
        }
      />
    </section>
  );
}

function NewGateForm({
  onCreate,
}: {
  onCreate: (url: string, name: string, failure: GateFailureMode) => Promise<boolean>;
}) {
  const [url, setUrl] = useState("");
  const [name, setName] = useState("");
  const [failure, setFailure] = useState<GateFailureMode>("closed");
  return (
    <form
      className="mh-stack"
      aria-label="Register a gate"
      onSubmit={(e) => {
        e.preventDefault();
        if (!url.trim()) return;
        void onCreate(url.trim(), name.trim(), failure).then((ok) => {
          if (!ok) return;
          setUrl("");
          setName("");
        });
      }}
    >
      <div className="mh-row">
        <LabeledInput
          className="mh-grow"
          wrapperProps={{ className: "mh-grow" }}
          label="Gate URL"
          type="url"
          value={url}
          onChange={(e) => setUrl(e.target.value)}
          required
        />
        <LabeledInput label="Gate name (optional)" value={name} onChange={(e) => setName(e.target.value)} />
        <LabeledSelect
          native
          label="When it gives no answer"
          value={failure}
          onChange={(value: string) => setFailure(value as GateFailureMode)}
          options={[
            { value: "closed", label: "refuse (closed)" },
            { value: "open", label: "accept (open)" },
          ]}
        />
        <Button type="submit" styleType="high-visibility">
          Register gate
        </Button>
      </div>
    </form>
  );
}
