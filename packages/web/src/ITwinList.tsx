import type { IModel, ITwin, ModelHubClient } from "@modelhub/client";
import { Alert, Badge, Button, Checkbox, LabeledInput, ProgressRadial, Text } from "@itwin/itwinui-react";
import { useEffect, useState } from "react";
import { describeError, formatDate } from "./format.js";
import { useLoaded, useTitle } from "./hooks.js";
import { hrefOf } from "./route.js";

/** iTwins listed at most (the search narrows more), and iModels shown under each. */
const MAX_ITWINS = 200;
const IMODELS_PER_ITWIN = 10;

/**
 * The home page: the signed-in user's iTwins by name, each with its iModels, and a form to create one (its
 * creator becomes its Owner). Administrators, and everyone in open mode, may list every iTwin of the hub.
 */
export function ITwinList({
  client,
  openMode,
  administrator,
  onUnauthorized,
}: {
  client: ModelHubClient;
  openMode: boolean;
  administrator: boolean;
  onUnauthorized: () => void;
}) {
  const [search, setSearch] = useState("");
  const [debounced, setDebounced] = useState("");
  const [all, setAll] = useState(openMode);
  const [created, setCreated] = useState<ITwin>();
  useTitle("iTwins");
  useEffect(() => {
    const timer = setTimeout(() => setDebounced(search.trim()), 250);
    return () => clearTimeout(timer);
  }, [search]);
  const loaded = useLoaded(
    async () => {
      const list: ITwin[] = [];
      for await (const iTwin of client.iTwins({
        ...(debounced ? { search: debounced } : {}),
        ...(all ? { all: true } : {}),
        pageSize: 100,
      })) {
        list.push(iTwin);
        if (list.length >= MAX_ITWINS) break;
      }
      return list;
    },
    [client, debounced, all, created],
    onUnauthorized,
  );

  return (
    <div className="mh-stack">
      <Text variant="headline" as="h1">
        iTwins
      </Text>
      <CreateITwin client={client} onCreated={setCreated} />
      {created && (
        <Alert type="positive" role="status">
          Created iTwin '{created.displayName}': you are its Owner.
        </Alert>
      )}
      <div className="mh-row" style={{ alignItems: "center" }}>
        <LabeledInput
          className="mh-grow"
          wrapperProps={{ className: "mh-grow" }}
          label="Search iTwins"
          type="search"
          value={search}
          onChange={(e) => setSearch(e.target.value)}
        />
        {/* Only administrators may list every iTwin (others would get 403): offered to them alone. */}
        {administrator && !openMode && (
          <Checkbox label="Every iTwin of the hub" checked={all} onChange={(e) => setAll(e.target.checked)} />
        )}
      </div>
      {loaded.error ? (
        <Alert type="negative">{loaded.error}</Alert>
      ) : !loaded.data ? (
        <ProgressRadial indeterminate aria-label="Loading iTwins" />
      ) : loaded.data.length === 0 ? (
        <Text className="mh-muted">
          {debounced
            ? `No iTwin matches '${debounced}'.`
            : "You are a member of no iTwin yet: create one above, or ask an iTwin's Owner to add you."}
        </Text>
      ) : (
        <ul className="mh-card-list" aria-label="iTwins">
          {loaded.data.map((iTwin) => (
            <li key={iTwin.id} className="mh-card" data-itwin={iTwin.id}>
              <a href={hrefOf({ page: "home", iTwinId: iTwin.id })}>
                <Text variant="leading" as="span">
                  {iTwin.displayName}
                </Text>{" "}
                {iTwin.status !== "Active" && <Badge backgroundColor="warning">{iTwin.status}</Badge>}
                <Text as="div" className="mh-muted">
                  {iTwin.subClass}
                  {iTwin.number !== iTwin.id ? ` · ${iTwin.number}` : ""} · created {formatDate(iTwin.createdDateTime)}{" "}
                  by {iTwin.createdBy}
                </Text>
              </a>
              <IModelsUnder client={client} iTwin={iTwin} onUnauthorized={onUnauthorized} />
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

function CreateITwin({ client, onCreated }: { client: ModelHubClient; onCreated: (iTwin: ITwin) => void }) {
  const [name, setName] = useState("");
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  return (
    <form
      className="mh-row"
      aria-label="Create an iTwin"
      onSubmit={(e) => {
        e.preventDefault();
        if (!name.trim()) return setError("Give the iTwin a name.");
        setBusy(true);
        client.createITwin({ displayName: name.trim() }).then(
          (iTwin) => {
            setBusy(false);
            setError(undefined);
            setName("");
            onCreated(iTwin);
          },
          (err: unknown) => {
            setBusy(false);
            setError(describeError(err));
          },
        );
      }}
    >
      <LabeledInput
        className="mh-grow"
        wrapperProps={{ className: "mh-grow" }}
        label="New iTwin name"
        value={name}
        onChange={(e) => setName(e.target.value)}
        status={error ? "negative" : undefined}
        message={error}
        placeholder="e.g. West plant"
      />
      <Button type="submit" styleType="high-visibility" disabled={busy}>
        Create iTwin
      </Button>
    </form>
  );
}

/** The first iModels of one iTwin, as links (the iTwin's page lists and searches them all). */
function IModelsUnder({
  client,
  iTwin,
  onUnauthorized,
}: {
  client: ModelHubClient;
  iTwin: ITwin;
  onUnauthorized: () => void;
}) {
  const loaded = useLoaded(
    async () => {
      const list: IModel[] = [];
      for await (const iModel of client.iModels(iTwin.id, { pageSize: IMODELS_PER_ITWIN + 1 })) {
        list.push(iModel);
        if (list.length > IMODELS_PER_ITWIN) break;
      }
      return list;
    },
    [client, iTwin.id],
    onUnauthorized,
  );
  if (loaded.error) return <Text className="mh-muted">{loaded.error}</Text>;
  if (!loaded.data)
    return <ProgressRadial size="x-small" indeterminate aria-label={`Loading the iModels of ${iTwin.displayName}`} />;
  if (loaded.data.length === 0) return <Text className="mh-muted mh-nested">No iModels yet.</Text>;
  return (
    <ul className="mh-nested" aria-label={`iModels of ${iTwin.displayName}`}>
      {loaded.data.slice(0, IMODELS_PER_ITWIN).map((iModel) => (
        <li key={iModel.id}>
          <a href={hrefOf({ page: "iModel", iModelId: iModel.id, tab: "changesets" })}>{iModel.name}</a>
          {iModel.state !== "initialized" && <Text as="span" className="mh-muted">{` (${iModel.state})`}</Text>}
        </li>
      ))}
      {loaded.data.length > IMODELS_PER_ITWIN && (
        <li>
          <a href={hrefOf({ page: "home", iTwinId: iTwin.id })}>All iModels of {iTwin.displayName}…</a>
        </li>
      )}
    </ul>
  );
}
