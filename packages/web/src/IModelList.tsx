import type { IModel, ModelHubClient } from "@modelhub/client";
import { Alert, Anchor, Badge, LabeledInput, ProgressRadial, Text } from "@itwin/itwinui-react";
import { useEffect, useState } from "react";
import { formatDate } from "./format.js";
import { useLoaded } from "./hooks.js";
import { hrefOf } from "./route.js";

/** iModels listed at most: the name search narrows a bigger iTwin. */
const MAX_LISTED = 500;

/** One iTwin's page: its name and its iModels, searched by name. */
export function IModelList({ client, iTwinId, onUnauthorized }: { client: ModelHubClient; iTwinId: string; onUnauthorized: () => void }) {
  const [search, setSearch] = useState("");
  const iTwin = useLoaded(() => client.getITwin(iTwinId), [client, iTwinId], onUnauthorized);

  return (
    <div className="mh-stack">
      <Anchor href={hrefOf({ page: "home" })}>← All iTwins</Anchor>
      <Text variant="headline" as="h1">
        {iTwin.data?.displayName ?? "iTwin"}
      </Text>
      {iTwin.error ? (
        <Alert type="negative">{iTwin.error}</Alert>
      ) : (
        <>
          {iTwin.data && (
            <Text className="mh-muted">
              {iTwin.data.subClass} · created {formatDate(iTwin.data.createdDateTime)} by {iTwin.data.createdBy} · id <span className="mh-mono">{iTwin.data.id}</span>
            </Text>
          )}
          <LabeledInput label="Search by name" type="search" value={search} onChange={(e) => setSearch(e.target.value)} />
          <IModelsOfITwin client={client} iTwinId={iTwinId} search={search.trim()} onUnauthorized={onUnauthorized} />
        </>
      )}
    </div>
  );
}

function IModelsOfITwin({ client, iTwinId, search, onUnauthorized }: { client: ModelHubClient; iTwinId: string; search: string; onUnauthorized: () => void }) {
  const [debounced, setDebounced] = useState(search);
  useEffect(() => {
    const timer = setTimeout(() => setDebounced(search), 250);
    return () => clearTimeout(timer);
  }, [search]);
  const loaded = useLoaded(
    async () => {
      const list: IModel[] = [];
      for await (const iModel of client.iModels(iTwinId, debounced ? { search: debounced } : {})) {
        list.push(iModel);
        if (list.length >= MAX_LISTED) break;
      }
      return list;
    },
    [client, iTwinId, debounced],
    onUnauthorized,
  );
  if (loaded.error) return <Alert type="negative">{loaded.error}</Alert>;
  if (!loaded.data) return <ProgressRadial indeterminate aria-label="Loading iModels" />;
  if (loaded.data.length === 0) return <Text className="mh-muted">{debounced ? `No iModel of this iTwin matches '${debounced}'.` : "This iTwin has no iModels you can see."}</Text>;
  return (
    <ul className="mh-card-list" aria-label="iModels of the iTwin">
      {loaded.data.map((iModel) => (
        <li key={iModel.id}>
          <a href={hrefOf({ page: "iModel", iModelId: iModel.id, tab: "changesets" })}>
            <Text variant="leading" as="span">
              {iModel.name}
            </Text>{" "}
            {iModel.state !== "initialized" && <Badge backgroundColor="warning">{iModel.state}</Badge>}
            <Text as="div" className="mh-muted">
              {iModel.description ? `${iModel.description} · ` : ""}created {formatDate(iModel.createdDateTime)}
            </Text>
          </a>
        </li>
      ))}
    </ul>
  );
}
