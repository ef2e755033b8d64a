import type { ModelHubClient, SequencedIModelEvent } from "@modelhub/client";
import { Alert, Anchor, Badge, ProgressRadial, Tabs, Text } from "@itwin/itwinui-react";
import { useCallback, useRef, useState } from "react";
import { BriefcasesTab } from "./BriefcasesTab.js";
import { ChangesetsTab } from "./ChangesetsTab.js";
import { CheckpointsTab } from "./CheckpointsTab.js";
import { CompareTab } from "./CompareTab.js";
import { formatDate } from "./format.js";
import type { LiveState } from "./hooks.js";
import { useIModelEvents, useLoaded, useTitle } from "./hooks.js";
import type { ComparePoints, IModelTab } from "./route.js";
import { IMODEL_TABS, hrefOf, navigate } from "./route.js";
import { VersionsTab } from "./VersionsTab.js";
import type { IModelPermissions, Revisions, TabProps } from "./tab-props.js";

const TAB_LABELS: Record<IModelTab, string> = {
  changesets: "Changesets",
  versions: "Named versions",
  briefcases: "Briefcases and locks",
  checkpoints: "Checkpoints",
  compare: "Compare",
};

const LIVE_TEXT: Record<LiveState, string> = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
  stopped: "Not live",
};

export function IModelPage({
  client,
  userId,
  iModelId,
  tab,
  compare,
  onUnauthorized,
}: {
  client: ModelHubClient;
  userId: string;
  iModelId: string;
  tab: IModelTab;
  /** The points the compare tab opens with (a link from the timeline). */
  compare?: ComparePoints;
  onUnauthorized: () => void;
}) {
  const [revisions, setRevisions] = useState<Revisions>({
    changesets: 0,
    versions: 0,
    briefcases: 0,
    checkpoints: 0,
    changes: 0,
  });
  const [announcement, setAnnouncement] = useState("");
  const freshChangesets = useRef(new Set<number>());

  const bump = useCallback((kinds: readonly (keyof Revisions)[]) => {
    setRevisions((r) => {
      const next = { ...r };
      for (const kind of kinds) next[kind]++;
      return next;
    });
  }, []);

  const onEvent = useCallback(
    (event: SequencedIModelEvent) => {
      switch (event.type) {
        case "changeset":
          freshChangesets.current.add(event.data.index);
          setAnnouncement(
            `Changeset ${event.data.index} pushed${event.data.description ? `: ${event.data.description}` : ""}.`,
          );
          return bump(["changesets", "checkpoints", "briefcases"]);
        case "namedVersion":
          setAnnouncement(`Named version '${event.data.name}' created at changeset ${event.data.changesetIndex}.`);
          return bump(["versions", "changesets"]);
        case "locks":
          setAnnouncement(
            `Locks of briefcase ${event.data.briefcaseId} changed: ${event.data.acquired} acquired, ${event.data.released} released.`,
          );
          return bump(["briefcases"]);
        case "briefcase":
          setAnnouncement(`Briefcase ${event.data.briefcaseId} ${event.data.action}.`);
          return bump(["briefcases"]);
        case "checkpoint":
          setAnnouncement(`Checkpoint of changeset ${event.data.changesetIndex}: ${event.data.state}.`);
          return bump(["checkpoints"]);
        case "changes":
          return bump(["changes"]);
        case "reset":
          return bump(["changesets", "versions", "briefcases", "checkpoints", "changes"]);
      }
    },
    [bump],
  );
  const live = useIModelEvents(client, iModelId, onEvent, () =>
    bump(["changesets", "versions", "briefcases", "checkpoints", "changes"]),
  );

  const iModel = useLoaded(() => client.getIModel(iModelId), [client, iModelId], onUnauthorized);
  const users = useLoaded(
    async () => {
      const names = new Map<string, string>();
      for await (const user of client.users(iModelId)) names.set(user.id, user.displayName || user.id);
      return names;
    },
    [client, iModelId, revisions.changesets, revisions.briefcases, revisions.versions],
    onUnauthorized,
  );
  const permissions = useLoaded(
    async (): Promise<IModelPermissions> => {
      const { permissions: granted } = await client.request<{ permissions: string[] }>(
        "GET",
        `/${encodeURIComponent(iModelId)}/permissions`,
      );
      const has = new Set(granted.map((p) => p.replace(/-/g, "_")));
      return {
        read: has.has("imodels_read"),
        write: has.has("imodels_write"),
        manage: has.has("imodels_manage"),
        granted,
      };
    },
    [client, iModelId],
    onUnauthorized,
  );
  useTitle(iModel.data ? `${TAB_LABELS[tab]} · ${iModel.data.name}` : "iModel");
  const userName = useCallback(
    (id: string | null | undefined) => (id ? (users.data?.get(id) ?? id) : "—"),
    [users.data],
  );

  if (iModel.error && !iModel.data) {
    return (
      <div className="mh-stack">
        <Alert type="negative">{iModel.error}</Alert>
        <Anchor href="#/">Back to the iModels</Anchor>
      </div>
    );
  }
  if (!iModel.data || (!permissions.data && !permissions.error))
    return <ProgressRadial indeterminate aria-label="Loading the iModel" />;

  // Unknown permissions (the hub did not say): the controls stay on and the hub's answer decides.
  const can: IModelPermissions = permissions.data ?? { read: true, write: true, manage: true, granted: [] };
  const props: TabProps = {
    client,
    userId,
    iModelId,
    iModelName: iModel.data.name,
    can,
    revisions,
    userName,
    onUnauthorized,
    onChanged: bump,
  };
  return (
    <div className="mh-stack">
      <nav aria-label="Breadcrumb">
        <Anchor href={hrefOf({ page: "home", iTwinId: iModel.data.iTwinId })}>iModels of the iTwin</Anchor>
      </nav>
      <div className="mh-row" style={{ justifyContent: "space-between", alignItems: "center" }}>
        <Text variant="headline" as="h1">
          {iModel.data.name}
        </Text>
        <span className="mh-live" data-testid="live-state" data-state={live.state} title={live.error}>
          <Badge
            backgroundColor={live.state === "live" ? "positive" : live.state === "stopped" ? "negative" : "warning"}
          >
            {LIVE_TEXT[live.state]}
          </Badge>
        </span>
      </div>
      <Text className="mh-muted">
        {iModel.data.description ? `${iModel.data.description} · ` : ""}created{" "}
        {formatDate(iModel.data.createdDateTime)} · <span className="mh-mono">{iModel.data.id}</span>
      </Text>
      {permissions.data && (
        <Text className="mh-muted" data-testid="my-permissions">
          Your permissions here:{" "}
          {permissions.data.granted.length
            ? permissions.data.granted.map((p) => p.replace(/^imodels[-_]/, "")).join(", ")
            : "none"}
        </Text>
      )}
      {live.state === "stopped" && live.error && <Alert type="warning">Live updates stopped: {live.error}</Alert>}
      <div aria-live="polite" className="mh-muted" data-testid="announcement">
        {announcement}
      </div>
      <Tabs.Wrapper
        value={tab}
        onValueChange={(value) => navigate({ page: "iModel", iModelId, tab: value as IModelTab })}
      >
        <Tabs.TabList>
          {IMODEL_TABS.map((t) => (
            <Tabs.Tab key={t} value={t} label={TAB_LABELS[t]} />
          ))}
        </Tabs.TabList>
        {IMODEL_TABS.map((t) => (
          <Tabs.Panel key={t} value={t}>
            {t === tab && t === "changesets" && <ChangesetsTab {...props} fresh={freshChangesets.current} />}
            {t === tab && t === "compare" && (
              <CompareTab key={compare ? `${compare.from}/${compare.to}` : ""} {...props} initial={compare} />
            )}
            {t === tab && t === "versions" && <VersionsTab {...props} />}
            {t === tab && t === "briefcases" && <BriefcasesTab {...props} />}
            {t === tab && t === "checkpoints" && <CheckpointsTab {...props} />}
          </Tabs.Panel>
        ))}
      </Tabs.Wrapper>
    </div>
  );
}
