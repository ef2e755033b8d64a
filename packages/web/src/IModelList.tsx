import type { IModel, ModelHubClient } from "@modelhub/client";
import { Alert, Badge, Button, LabeledInput, ProgressRadial, Text } from "@itwin/itwinui-react";
import { useEffect, useState } from "react";
import { formatDate } from "./format.js";
import { useLoaded } from "./hooks.js";
import { hrefOf, navigate } from "./route.js";
import { lastITwin, rememberITwin } from "./session.js";

/** iModels listed at most: the name search narrows a bigger iTwin. */
const MAX_LISTED = 500;

export function IModelList({ client, iTwinId, onUnauthorized }: { client: ModelHubClient; iTwinId: string | undefined; onUnauthorized: () => void }) {
  const [iTwinInput, setITwinInput] = useState(iTwinId ?? lastITwin());
  const [search, setSearch] = useState("");
  useEffect(() => {
    if (iTwinId) rememberITwin(iTwinId);
  }, [iTwinId]);

  return (
    <div className="mh-stack">
      <Text variant="headline" as="h1">
        iModels
      </Text>
      <form
        className="mh-row"
        onSubmit={(e) => {
          e.preventDefault();
          if (iTwinInput.trim()) navigate({ page: "home", iTwinId: iTwinInput.trim() });
        }}
      >
        <LabeledInput className="mh-grow" wrapperProps={{ className: "mh-grow" }} label="iTwin id" value={iTwinInput} onChange={(e) => setITwinInput(e.target.value)} placeholder="e.g. 3c4b5a19-7d0e-4f5a-9a7e-2b1c0d9e8f70" />
        <Button type="submit" styleType="high-visibility">
          Show iModels
        </Button>
      </form>
      {iTwinId && (
        <>
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
