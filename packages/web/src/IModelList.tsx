import type { IModel, ModelHubClient } from "@modelhub/client";
import { Alert, Anchor, Badge, LabeledInput, ProgressRadial, Text } from "@itwin/itwinui-react";
import { useEffect, useState } from "react";
import { formatBytes, formatDate } from "./format.js";
import { useLoaded, useTitle } from "./hooks.js";
import { hrefOf } from "./route.js";
import { ITwinGates } from "./ITwinGates.js";

/** iModels listed at most: the name search narrows a bigger iTwin. */
const MAX_LISTED = 500;

/** One iTwin's page: its name and its iModels, searched by name. */
export function IModelList({
  client,
  credential,
  iTwinId,
  onUnauthorized,
}: {
  client: ModelHubClient;
  credential: string;
  iTwinId: string;
  onUnauthorized: () => void;
}) {
  const [search, setSearch] = useState("");
  const iTwin = useLoaded(() => client.getITwin(iTwinId), [client, iTwinId], onUnauthorized);
  useTitle(iTwin.data ? `${iTwin.data.displayName} (iTwin)` : "iTwin");

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
              {iTwin.data.subClass} · created {formatDate(iTwin.data.createdDateTime)} by {iTwin.data.createdBy} · id{" "}
              <span className="mh-mono">{iTwin.data.id}</span>
            </Text>
          )}
          <LabeledInput
            label="Search by name"
            type="search"
            value={search}
            onChange={(e) => setSearch(e.target.value)}
          />
          <IModelsOfITwin
            client={client}
            credential={credential}
            iTwinId={iTwinId}
            search={search.trim()}
            onUnauthorized={onUnauthorized}
          />
          <ITwinGates client={client} iTwinId={iTwinId} onUnauthorized={onUnauthorized} />
        </>
      )}
    </div>
  );
}

function IModelsOfITwin({
  client,
  credential,
  iTwinId,
  search,
  onUnauthorized,
}: {
  client: ModelHubClient;
  credential: string;
  iTwinId: string;
  search: string;
  onUnauthorized: () => void;
}) {
  const [debounced, setDebounced] = useState(search);
  useEffect(() => {
    const timer = setTimeout(() => setDebounced(search), 250);
    return () => clearTimeout(timer);
  }, [search]);
  const loaded = useLoaded(
    async () => {
      const list: IModel[] = [];
      for await (const iModel of client.iModels(iTwinId, {
        // Failed creations too (the hub's $includeFailed extension): their card says why, instead of hiding them.
        includeFailed: true,
        ...(debounced ? { search: debounced } : {}),
      })) {
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
  if (loaded.data.length === 0)
    return (
      <Text className="mh-muted">
        {debounced ? `No iModel of this iTwin matches '${debounced}'.` : "This iTwin has no iModels you can see."}
      </Text>
    );
  return (
    <ul className="mh-card-list" aria-label="iModels of the iTwin">
      {loaded.data.map((iModel) => (
        <li key={iModel.id}>
          <a href={hrefOf({ page: "iModel", iModelId: iModel.id, tab: "changesets" })} className="mh-imodel-card">
            <Thumbnail credential={credential} iModelId={iModel.id} />
            <div className="mh-imodel-card-text">
              <Text variant="leading" as="span">
                {iModel.name}
              </Text>{" "}
              {iModel.state !== "initialized" && <Badge backgroundColor="warning">{iModel.state}</Badge>}
              <Text as="div" className="mh-muted">
                {iModel.description ? `${iModel.description} · ` : ""}created {formatDate(iModel.createdDateTime)}
              </Text>
              {iModel.state === "initialized" ? (
                <IModelFacts client={client} iModel={iModel} />
              ) : (
                <CreationState client={client} iModelId={iModel.id} />
              )}
            </div>
          </a>
        </li>
      ))}
    </ul>
  );
}

/**
 * What a BIM manager looks for first on an iModel's card: how much history it has, who pushed last and when, and
 * how big the model is (its newest checkpoint's .bim).
 */
function IModelFacts({ client, iModel }: { client: ModelHubClient; iModel: IModel }) {
  const facts = useLoaded(
    async () => {
      const [latest, checkpoints] = await Promise.all([
        client.latestChangeset(iModel.id),
        client.checkpoints(iModel.id),
      ]);
      const newest = checkpoints.checkpoints
        .filter((c) => c.state === "successful")
        .sort((a, b) => b.changesetIndex - a.changesetIndex)[0];
      let pusher = latest?.creatorId;
      if (latest)
        pusher = await client
          .request<{ user: { displayName?: string } }>(
            "GET",
            `/${encodeURIComponent(iModel.id)}/users/${encodeURIComponent(latest.creatorId)}`,
          )
          .then(
            (u) => u.user.displayName || latest.creatorId,
            () => latest.creatorId,
          );
      return {
        count: latest?.index ?? 0,
        lastPush: latest ? { who: pusher, when: latest.pushDateTime } : undefined,
        size: newest?.size,
        sizeAt: newest?.changesetIndex,
      };
    },
    [client, iModel.id],
    () => undefined,
  );
  if (!facts.data)
    return facts.error ? null : (
      <Text as="div" className="mh-muted">
        …
      </Text>
    );
  const { count, lastPush, size, sizeAt } = facts.data;
  return (
    <dl className="mh-facts" data-testid="imodel-facts" data-changesets={count}>
      <div>
        <dt>Changesets</dt>
        <dd>{count}</dd>
      </div>
      <div>
        <dt>Last push</dt>
        <dd>{lastPush ? `${formatDate(lastPush.when)} by ${lastPush.who}` : "none yet"}</dd>
      </div>
      <div>
        <dt>Size</dt>
        <dd title={sizeAt === undefined ? undefined : `The .bim as of changeset ${sizeAt} (its newest checkpoint)`}>
          {formatBytes(size)}
        </dd>
      </div>
    </dl>
  );
}

/** Why an iModel is not initialized: its baseline is still being processed, or failed (with the hub's reason). */
function CreationState({ client, iModelId }: { client: ModelHubClient; iModelId: string }) {
  const creation = useLoaded(
    () => client.getCreateOperation(iModelId),
    [client, iModelId],
    () => undefined,
  );
  if (!creation.data) return null;
  const { state, failureReason } = creation.data;
  if (state === "failed")
    return (
      <Text as="div" className="mh-negative" data-testid="imodel-creation-failed">
        Creation failed{failureReason ? `: ${failureReason}` : ""}
      </Text>
    );
  return (
    <Text as="div" className="mh-muted">
      Creating: {state}
    </Text>
  );
}

/**
 * The iModel's thumbnail (`GET /imodels/{id}/thumbnail`: its uploaded image, or the hub's default). Read with the
 * token in the Authorization header, as every API call, and shown as a data: URL (the page's policy allows no other
 * image source than the hub itself and data:).
 */
function Thumbnail({ credential, iModelId }: { credential: string; iModelId: string }) {
  const [src, setSrc] = useState<string>();
  useEffect(() => {
    let stale = false;
    void (async () => {
      const response = await fetch(`/imodels/${encodeURIComponent(iModelId)}/thumbnail?size=small`, {
        headers: { authorization: `Bearer ${credential}` },
      });
      if (!response.ok) return;
      const blob = await response.blob();
      const reader = new FileReader();
      reader.onload = () => !stale && typeof reader.result === "string" && setSrc(reader.result);
      reader.readAsDataURL(blob);
    })().catch(() => undefined);
    return () => {
      stale = true;
    };
  }, [credential, iModelId]);
  return <span className="mh-thumb">{src && <img src={src} alt="" data-testid="imodel-thumbnail" />}</span>;
}
