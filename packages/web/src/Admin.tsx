import type { ITwin, ModelHubClient } from "@modelhub/client";
import {
  Alert,
  Badge,
  Button,
  Checkbox,
  LabeledInput,
  LabeledSelect,
  ProgressRadial,
  Tabs,
  Text,
} from "@itwin/itwinui-react";
import { useState } from "react";
import { describeError, formatBytes, formatDate } from "./format.js";
import { useLoaded, useTitle } from "./hooks.js";
import type { AdminSection } from "./route.js";
import { ADMIN_SECTIONS, navigate } from "./route.js";
import type { AuthMode } from "./session.js";

const SECTION_LABELS: Record<AdminSection, string> = {
  members: "Members and roles",
  tokens: "Tokens",
  audit: "Audit log",
  storage: "Storage",
  system: "Jobs and health",
};

interface AdminProps {
  client: ModelHubClient;
  mode: AuthMode;
  onUnauthorized: () => void;
}

/** A call to the hub outside `/imodels` (`/admin`, `/accesscontrol`, `/auditlog`): same token, same error bodies. */
function hubCall<T>(
  client: ModelHubClient,
  method: string,
  path: string,
  body?: unknown,
  expected: readonly number[] = [200],
): Promise<T> {
  return client.request<T>(method, `${window.location.origin}${path}`, body, expected);
}

/** The administrators' pages (shown to them only: the hub answers anyone else 403). */
export function AdminPage({ section, ...props }: AdminProps & { section: AdminSection }) {
  useTitle(`${SECTION_LABELS[section]} · Administration`);
  return (
    <div className="mh-stack">
      <Text variant="headline" as="h1">
        Administration
      </Text>
      <Tabs.Wrapper
        value={section}
        onValueChange={(value) => navigate({ page: "admin", section: value as AdminSection })}
      >
        <Tabs.TabList>
          {ADMIN_SECTIONS.map((s) => (
            <Tabs.Tab key={s} value={s} label={SECTION_LABELS[s]} />
          ))}
        </Tabs.TabList>
        {ADMIN_SECTIONS.map((s) => (
          <Tabs.Panel key={s} value={s}>
            {s === section && s === "members" && <MembersSection {...props} />}
            {s === section && s === "tokens" && <TokensSection {...props} />}
            {s === section && s === "audit" && <AuditSection {...props} />}
            {s === section && s === "storage" && <StorageSection {...props} />}
            {s === section && s === "system" && <SystemSection {...props} />}
          </Tabs.Panel>
        ))}
      </Tabs.Wrapper>
    </div>
  );
}

// Members and roles ------------------------------------------------------------------------------------------------

interface Role {
  id: string;
  displayName: string;
  description?: string | null;
  permissions: string[];
}
interface Member {
  id: string;
  email?: string | null;
  roles: { id: string; displayName: string }[];
}

function MembersSection({ client, onUnauthorized }: AdminProps) {
  const [iTwinId, setITwinId] = useState<string>();
  const iTwins = useLoaded(
    async () => {
      const list: ITwin[] = [];
      for await (const iTwin of client.iTwins({ all: true, pageSize: 100 })) {
        list.push(iTwin);
        if (list.length >= 500) break;
      }
      return list;
    },
    [client],
    onUnauthorized,
  );
  if (iTwins.error) return <Alert type="negative">{iTwins.error}</Alert>;
  if (!iTwins.data) return <ProgressRadial indeterminate aria-label="Loading iTwins" />;
  if (iTwins.data.length === 0) return <Text className="mh-muted">The hub has no iTwin yet.</Text>;
  const chosen = iTwinId ?? iTwins.data[0]!.id;
  return (
    <div className="mh-stack">
      <LabeledSelect
        native
        label="iTwin"
        value={chosen}
        onChange={(value: string) => setITwinId(value)}
        options={iTwins.data.map((t) => ({ value: t.id, label: t.displayName }))}
      />
      <ITwinMembers key={chosen} client={client} iTwinId={chosen} onUnauthorized={onUnauthorized} />
    </div>
  );
}

function ITwinMembers({
  client,
  iTwinId,
  onUnauthorized,
}: {
  client: ModelHubClient;
  iTwinId: string;
  onUnauthorized: () => void;
}) {
  const [revision, setRevision] = useState(0);
  const [outcome, setOutcome] = useState<{ ok: boolean; text: string }>();
  const [userId, setUserId] = useState("");
  const [roleId, setRoleId] = useState<string>();
  const base = `/accesscontrol/itwins/${encodeURIComponent(iTwinId)}`;
  const loaded = useLoaded(
    async () => {
      const [roles, members] = await Promise.all([
        hubCall<{ roles: Role[] }>(client, "GET", `${base}/roles`),
        hubCall<{ members: Member[] }>(client, "GET", `${base}/members/users?$top=1000`),
      ]);
      return { roles: roles.roles, members: members.members };
    },
    [client, iTwinId, revision],
    onUnauthorized,
  );
  if (loaded.error && !loaded.data) return <Alert type="negative">{loaded.error}</Alert>;
  if (!loaded.data) return <ProgressRadial indeterminate aria-label="Loading members" />;
  const { roles, members } = loaded.data;
  const chosenRole = roleId ?? roles.find((r) => r.displayName !== "Owner")?.id ?? roles[0]?.id;

  /** Runs a change and says how it went: `done` on success, `failed` and the hub's reason otherwise. */
  async function act(done: string, failed: string, call: () => Promise<unknown>) {
    try {
      await call();
      setOutcome({ ok: true, text: done });
    } catch (err) {
      setOutcome({ ok: false, text: `${failed}: ${describeError(err)}` });
    }
    setRevision((n) => n + 1);
  }

  return (
    <div className="mh-stack">
      {outcome && (
        <Alert
          type={outcome.ok ? "positive" : "negative"}
          role={outcome.ok ? "status" : "alert"}
          onClose={() => setOutcome(undefined)}
          data-testid="members-outcome"
        >
          {outcome.text}
        </Alert>
      )}
      <Text variant="subheading" as="h2">
        Members
      </Text>
      <div className="mh-table-wrap">
        <table className="mh-table mh-cards-narrow" aria-label="Members" data-testid="members">
          <thead>
            <tr>
              <th scope="col">User</th>
              <th scope="col">Roles</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {members.map((m) => (
              <tr key={m.id} data-member={m.id}>
                <td data-label="User">{m.id}</td>
                <td data-label="Roles">{m.roles.map((r) => r.displayName).join(", ")}</td>
                <td data-label="Actions">
                  <Button
                    size="small"
                    onClick={() =>
                      void act(`Removed ${m.id} from the iTwin.`, `${m.id} was not removed`, () =>
                        hubCall(
                          client,
                          "DELETE",
                          `${base}/members/users/${encodeURIComponent(m.id)}`,
                          undefined,
                          [204],
                        ),
                      )
                    }
                  >
                    Remove {m.id}
                  </Button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <form
        className="mh-row"
        aria-label="Add a member"
        onSubmit={(e) => {
          e.preventDefault();
          const user = userId.trim();
          if (!user || !chosenRole) return setOutcome({ ok: false, text: "Give a user id and a role." });
          void act(
            `Added ${user} as ${roles.find((r) => r.id === chosenRole)?.displayName ?? "member"}.`,
            `${user} was not added`,
            () =>
              hubCall(
                client,
                "POST",
                `${base}/members/users`,
                { members: [{ userId: user, roleIds: [chosenRole] }] },
                [201],
              ),
          ).then(() => setUserId(""));
        }}
      >
        <LabeledInput
          className="mh-grow"
          wrapperProps={{ className: "mh-grow" }}
          label="User id"
          value={userId}
          onChange={(e) => setUserId(e.target.value)}
        />
        <LabeledSelect
          native
          label="Role"
          value={chosenRole ?? null}
          onChange={(value: string) => setRoleId(value)}
          options={roles.map((r) => ({ value: r.id, label: r.displayName }))}
        />
        <Button type="submit" styleType="high-visibility">
          Add member
        </Button>
      </form>
      <Text variant="subheading" as="h2">
        Roles
      </Text>
      <div className="mh-table-wrap">
        <table className="mh-table mh-cards-narrow" aria-label="Roles" data-testid="roles">
          <thead>
            <tr>
              <th scope="col">Role</th>
              <th scope="col">Permissions</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {roles.map((r) => (
              <tr key={r.id} data-role={r.displayName}>
                <td data-label="Role">{r.displayName}</td>
                <td data-label="Permissions">{r.permissions.join(", ") || <span className="mh-muted">none</span>}</td>
                <td data-label="Actions">
                  {/* The Owner role is built in: the hub refuses to change or delete it. */}
                  {r.displayName !== "Owner" && (
                    <Button
                      size="small"
                      onClick={() =>
                        void act(
                          `Deleted the role ${r.displayName}.`,
                          `The role ${r.displayName} was not deleted`,
                          () =>
                            hubCall(client, "DELETE", `${base}/roles/${encodeURIComponent(r.id)}`, undefined, [204]),
                        )
                      }
                    >
                      Delete {r.displayName}
                    </Button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <NewRoleForm
        onCreate={(displayName, permissions) =>
          act(`Created the role ${displayName}.`, `The role ${displayName} was not created`, () =>
            hubCall(client, "POST", `${base}/roles`, { displayName, permissions }, [201]),
          )
        }
      />
    </div>
  );
}

const PERMISSIONS = ["imodels_webview", "imodels_read", "imodels_write", "imodels_manage", "imodels_delete"] as const;

function NewRoleForm({ onCreate }: { onCreate: (displayName: string, permissions: string[]) => Promise<void> }) {
  const [name, setName] = useState("");
  const [chosen, setChosen] = useState<ReadonlySet<string>>(new Set(["imodels_webview", "imodels_read"]));
  return (
    <form
      className="mh-stack"
      aria-label="Create a role"
      onSubmit={(e) => {
        e.preventDefault();
        if (!name.trim()) return;
        void onCreate(
          name.trim(),
          PERMISSIONS.filter((p) => chosen.has(p)),
        ).then(() => setName(""));
      }}
    >
      <div className="mh-row">
        <LabeledInput
          className="mh-grow"
          wrapperProps={{ className: "mh-grow" }}
          label="New role"
          value={name}
          onChange={(e) => setName(e.target.value)}
          required
        />
        <Button type="submit" styleType="high-visibility">
          Create role
        </Button>
      </div>
      <fieldset className="mh-row mh-permissions">
        <legend>Its permissions</legend>
        {PERMISSIONS.map((p) => (
          <Checkbox
            key={p}
            label={p}
            checked={chosen.has(p)}
            onChange={(e) => {
              const next = new Set(chosen);
              if (e.target.checked) next.add(p);
              else next.delete(p);
              setChosen(next);
            }}
          />
        ))}
      </fieldset>
    </form>
  );
}

// Tokens -----------------------------------------------------------------------------------------------------------

interface TokenRow {
  id: string;
  userId: string;
  description: string | null;
  createdDateTime: string;
  expiresDateTime: string | null;
  revokedDateTime: string | null;
  lastUsedDateTime: string | null;
}

function TokensSection({ client, mode, onUnauthorized }: AdminProps) {
  const [revision, setRevision] = useState(0);
  const [userId, setUserId] = useState("");
  const [description, setDescription] = useState("");
  const [expires, setExpires] = useState("90d");
  const [secret, setSecret] = useState<{ userId: string; secret: string }>();
  const [outcome, setOutcome] = useState<{ ok: boolean; text: string }>();
  const loaded = useLoaded(
    () => hubCall<{ tokens: TokenRow[] }>(client, "GET", "/admin/tokens"),
    [client, revision],
    onUnauthorized,
  );
  const notTokens =
    mode !== "tokens"
      ? `This hub runs in ${mode} mode: it does not accept hub tokens (start it with --auth tokens).`
      : undefined;

  return (
    <div className="mh-stack">
      {notTokens && <Alert type="informational">{notTokens}</Alert>}
      <form
        className="mh-row"
        aria-label="Create a token"
        onSubmit={(e) => {
          e.preventDefault();
          if (!userId.trim()) return setOutcome({ ok: false, text: "Give the user id the token is for." });
          hubCall<{ token: TokenRow; secret: string }>(
            client,
            "POST",
            "/admin/tokens",
            { userId: userId.trim(), expires, ...(description.trim() ? { description: description.trim() } : {}) },
            [201],
          ).then(
            (made) => {
              setSecret({ userId: made.token.userId, secret: made.secret });
              setOutcome(undefined);
              setUserId("");
              setDescription("");
              setRevision((n) => n + 1);
            },
            (err: unknown) => setOutcome({ ok: false, text: `The token was not created: ${describeError(err)}` }),
          );
        }}
      >
        <LabeledInput
          className="mh-grow"
          wrapperProps={{ className: "mh-grow" }}
          label="For user"
          value={userId}
          onChange={(e) => setUserId(e.target.value)}
          disabled={notTokens !== undefined}
        />
        <LabeledInput
          className="mh-grow"
          wrapperProps={{ className: "mh-grow" }}
          label="Description"
          value={description}
          onChange={(e) => setDescription(e.target.value)}
          disabled={notTokens !== undefined}
        />
        <LabeledSelect
          native
          label="Expires after"
          value={expires}
          onChange={(value: string) => setExpires(value)}
          disabled={notTokens !== undefined}
          options={[
            { value: "1d", label: "1 day" },
            { value: "30d", label: "30 days" },
            { value: "90d", label: "90 days" },
            { value: "1y", label: "1 year" },
            { value: "never", label: "never" },
          ]}
        />
        <Button type="submit" styleType="high-visibility" disabled={notTokens !== undefined} title={notTokens}>
          Create token
        </Button>
      </form>
      {secret && (
        <Alert type="positive" role="status" onClose={() => setSecret(undefined)} data-testid="new-token">
          Token for {secret.userId} (shown once; the hub keeps only its hash):{" "}
          <code className="mh-mono" data-testid="new-token-secret">
            {secret.secret}
          </code>
        </Alert>
      )}
      {outcome && (
        <Alert
          type={outcome.ok ? "positive" : "negative"}
          role={outcome.ok ? "status" : "alert"}
          onClose={() => setOutcome(undefined)}
        >
          {outcome.text}
        </Alert>
      )}
      {loaded.error && <Alert type="negative">{loaded.error}</Alert>}
      {!loaded.data ? (
        !loaded.error && <ProgressRadial indeterminate aria-label="Loading tokens" />
      ) : loaded.data.tokens.length === 0 ? (
        <Text className="mh-muted">No hub token was made yet.</Text>
      ) : (
        <div className="mh-table-wrap">
          <table className="mh-table mh-cards-narrow" aria-label="Tokens" data-testid="tokens">
            <thead>
              <tr>
                <th scope="col">User</th>
                <th scope="col">Description</th>
                <th scope="col">Created</th>
                <th scope="col">Expires</th>
                <th scope="col">Last used</th>
                <th scope="col">State</th>
              </tr>
            </thead>
            <tbody>
              {loaded.data.tokens.map((t) => {
                const expired = t.expiresDateTime !== null && Date.parse(t.expiresDateTime) <= Date.now();
                return (
                  <tr key={t.id} data-token={t.id} data-user={t.userId}>
                    <td data-label="User">{t.userId}</td>
                    <td data-label="Description">{t.description ?? <span className="mh-muted">—</span>}</td>
                    <td data-label="Created">{formatDate(t.createdDateTime)}</td>
                    <td data-label="Expires">{t.expiresDateTime ? formatDate(t.expiresDateTime) : "never"}</td>
                    <td data-label="Last used" data-testid="last-used">
                      {t.lastUsedDateTime ? formatDate(t.lastUsedDateTime) : <span className="mh-muted">never</span>}
                    </td>
                    <td data-label="State">
                      {t.revokedDateTime ? (
                        <Badge backgroundColor="negative">revoked</Badge>
                      ) : expired ? (
                        <Badge backgroundColor="warning">expired</Badge>
                      ) : (
                        <Button
                          size="small"
                          aria-label={`Revoke the token of ${t.userId}${t.description ? ` (${t.description})` : ""}`}
                          onClick={() =>
                            hubCall(client, "DELETE", `/admin/tokens/${encodeURIComponent(t.id)}`).then(
                              () => {
                                setOutcome({
                                  ok: true,
                                  text: `Revoked the token of ${t.userId}: it is refused from now on.`,
                                });
                                setRevision((n) => n + 1);
                              },
                              (err: unknown) =>
                                setOutcome({ ok: false, text: `The token was not revoked: ${describeError(err)}` }),
                            )
                          }
                        >
                          Revoke
                        </Button>
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

// Audit log --------------------------------------------------------------------------------------------------------

interface AuditRow {
  seq: number;
  at: string;
  userId: string | null;
  action: string;
  method: string;
  path: string;
  iModelId: string | null;
  target: string | null;
  status: number;
  outcome: "success" | "refused" | "failed";
}

function AuditSection({ client, onUnauthorized }: AdminProps) {
  const [draft, setDraft] = useState({ userId: "", action: "", since: "" });
  const [filter, setFilter] = useState(draft);
  const [pages, setPages] = useState<string[]>([]);
  // Percent-encoded by hand: the hub reads `+` as a plus, not a space (URLSearchParams would write one).
  const query: [string, string][] = [
    ["$top", "50"],
    ["$orderBy", "at desc"],
  ];
  if (filter.userId.trim()) query.push(["userId", filter.userId.trim()]);
  if (filter.action.trim()) query.push(["action", filter.action.trim()]);
  if (filter.since) query.push(["since", filter.since]);
  const first = `/auditlog?${query.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join("&")}`;
  const current = pages.at(-1) ?? first;
  const loaded = useLoaded(
    () => hubCall<{ auditEntries: AuditRow[]; _links: { next?: { href: string } | null } }>(client, "GET", current),
    [client, current],
    onUnauthorized,
  );
  return (
    <div className="mh-stack">
      <form
        className="mh-row"
        aria-label="Filter the audit log"
        onSubmit={(e) => {
          e.preventDefault();
          setPages([]);
          setFilter(draft);
        }}
      >
        <LabeledInput
          className="mh-grow"
          wrapperProps={{ className: "mh-grow" }}
          label="User"
          value={draft.userId}
          onChange={(e) => setDraft({ ...draft, userId: e.target.value })}
        />
        <LabeledInput
          className="mh-grow"
          wrapperProps={{ className: "mh-grow" }}
          label="Action"
          placeholder="e.g. changeset.create"
          value={draft.action}
          onChange={(e) => setDraft({ ...draft, action: e.target.value })}
        />
        <LabeledInput
          label="Since"
          type="date"
          value={draft.since}
          onChange={(e) => setDraft({ ...draft, since: e.target.value })}
        />
        <Button type="submit" styleType="high-visibility">
          Filter
        </Button>
      </form>
      {loaded.error && <Alert type="negative">{loaded.error}</Alert>}
      {!loaded.data ? (
        !loaded.error && <ProgressRadial indeterminate aria-label="Loading the audit log" />
      ) : loaded.data.auditEntries.length === 0 ? (
        <Text className="mh-muted">No entry matches.</Text>
      ) : (
        <div className="mh-table-wrap">
          <table className="mh-table mh-cards-narrow" aria-label="Audit log" data-testid="audit">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Who</th>
                <th scope="col">Action</th>
                <th scope="col">Target</th>
                <th scope="col">Outcome</th>
              </tr>
            </thead>
            <tbody>
              {loaded.data.auditEntries.map((e) => (
                <tr key={e.seq} data-action={e.action}>
                  <td data-label="When">{formatDate(e.at)}</td>
                  <td data-label="Who">{e.userId ?? <span className="mh-muted">anonymous</span>}</td>
                  <td data-label="Action" title={`${e.method} ${e.path}`}>
                    {e.action}
                  </td>
                  <td data-label="Target" className="mh-mono">
                    {e.target ?? ""}
                  </td>
                  <td data-label="Outcome">
                    <Badge
                      backgroundColor={
                        e.outcome === "success" ? "positive" : e.outcome === "refused" ? "warning" : "negative"
                      }
                    >
                      {`${e.outcome} ${e.status}`}
                    </Badge>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <div className="mh-row">
        {pages.length > 0 && <Button onClick={() => setPages((p) => p.slice(0, -1))}>Newer</Button>}
        {loaded.data?._links.next && (
          <Button
            onClick={() =>
              setPages((p) => [
                ...p,
                new URL(loaded.data!._links.next!.href).pathname + new URL(loaded.data!._links.next!.href).search,
              ])
            }
          >
            Older
          </Button>
        )}
      </div>
    </div>
  );
}

// Storage ----------------------------------------------------------------------------------------------------------

interface UsageRow {
  bytes: number;
  files: number;
}
interface IModelUse {
  iModelId: string;
  name: string | null;
  baseline: UsageRow;
  changesets: UsageRow;
  checkpoints: UsageRow;
  uploads: UsageRow;
  other: UsageRow;
  total: UsageRow;
}

function StorageSection({ client, onUnauthorized }: AdminProps) {
  const loaded = useLoaded(
    () =>
      hubCall<{ storage: { iModels: IModelUse[]; total: UsageRow; measuredAt: string } }>(
        client,
        "GET",
        "/admin/storage",
      ),
    [client],
    onUnauthorized,
  );
  if (loaded.error) return <Alert type="negative">{loaded.error}</Alert>;
  if (!loaded.data) return <ProgressRadial indeterminate aria-label="Measuring storage" />;
  const { iModels, total, measuredAt } = loaded.data.storage;
  return (
    <div className="mh-stack">
      <Text data-testid="storage-total">
        The hub's files take {formatBytes(total.bytes)} in {total.files} files (measured {formatDate(measuredAt)}).
      </Text>
      {iModels.length > 0 && (
        <div className="mh-table-wrap">
          <table className="mh-table mh-cards-narrow" aria-label="Storage per iModel" data-testid="storage">
            <thead>
              <tr>
                <th scope="col">iModel</th>
                <th className="mh-num" scope="col">
                  Changesets
                </th>
                <th className="mh-num" scope="col">
                  Checkpoints
                </th>
                <th className="mh-num" scope="col">
                  Other
                </th>
                <th className="mh-num" scope="col">
                  Total
                </th>
              </tr>
            </thead>
            <tbody>
              {iModels.map((u) => (
                <tr key={u.iModelId} data-imodel={u.iModelId}>
                  <td data-label="iModel">{u.name ?? <span className="mh-muted">deleted ({u.iModelId})</span>}</td>
                  <td className="mh-num" data-label="Changesets">
                    {formatBytes(u.changesets.bytes)} ({u.changesets.files})
                  </td>
                  <td className="mh-num" data-label="Checkpoints">
                    {formatBytes(u.checkpoints.bytes)} ({u.checkpoints.files})
                  </td>
                  <td className="mh-num" data-label="Other">
                    {formatBytes(u.baseline.bytes + u.uploads.bytes + u.other.bytes)}
                  </td>
                  <td className="mh-num" data-label="Total" data-testid="imodel-total" data-bytes={u.total.bytes}>
                    {formatBytes(u.total.bytes)}
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

// Jobs and health ----------------------------------------------------------------------------------------------------

function SystemSection({ client, onUnauthorized }: AdminProps) {
  const loaded = useLoaded(
    async () => {
      const [about, jobs, ready] = await Promise.all([
        hubCall<{ hub: { version: string; authMode: string; metadata: string; blobs: string; node: string } }>(
          client,
          "GET",
          "/admin/about",
        ),
        hubCall<{ jobs: { kind: string; state: string; count: number }[] }>(client, "GET", "/admin/jobs"),
        // The readiness probe answers 503 with the same body when a store is down: both are an answer here.
        fetch("/ready", { headers: { accept: "application/json" } }).then(async (r) => ({
          status: r.status,
          body: (await r.json().catch(() => ({}))) as Record<string, unknown>,
        })),
      ]);
      return { about: about.hub, jobs: jobs.jobs, ready };
    },
    [client],
    onUnauthorized,
  );
  if (loaded.error) return <Alert type="negative">{loaded.error}</Alert>;
  if (!loaded.data) return <ProgressRadial indeterminate aria-label="Loading the hub's state" />;
  const { about, jobs, ready } = loaded.data;
  const checks = Object.entries(
    (ready.body.checks ?? {}) as Record<string, { ok?: boolean; error?: string; message?: string }>,
  );
  return (
    <div className="mh-stack">
      <dl className="mh-facts" data-testid="about">
        <div>
          <dt>Version</dt>
          <dd data-testid="hub-version">{about.version}</dd>
        </div>
        <div>
          <dt>Auth</dt>
          <dd>{about.authMode}</dd>
        </div>
        <div>
          <dt>Metadata</dt>
          <dd>{about.metadata}</dd>
        </div>
        <div>
          <dt>Files</dt>
          <dd>{about.blobs}</dd>
        </div>
        <div>
          <dt>Node.js</dt>
          <dd>{about.node}</dd>
        </div>
      </dl>
      <Text variant="subheading" as="h2">
        Health
      </Text>
      <Text data-testid="readiness" data-status={ready.status}>
        {ready.status === 200 ? "Ready: every store answers." : `Not ready (${ready.status}).`}
      </Text>
      {checks.length > 0 && (
        <ul className="mh-ids">
          {checks.map(([name, check]) => (
            <li key={name}>
              {name}:{" "}
              {check.ok ? "ok" : `failing${check.error || check.message ? `: ${check.error ?? check.message}` : ""}`}
            </li>
          ))}
        </ul>
      )}
      <Text variant="subheading" as="h2">
        Background jobs
      </Text>
      {jobs.length === 0 ? (
        <Text className="mh-muted">No job has run yet.</Text>
      ) : (
        <div className="mh-table-wrap">
          <table className="mh-table mh-cards-narrow" aria-label="Jobs" data-testid="jobs">
            <thead>
              <tr>
                <th scope="col">Kind</th>
                <th scope="col">State</th>
                <th className="mh-num" scope="col">
                  Jobs
                </th>
              </tr>
            </thead>
            <tbody>
              {jobs.map((j) => (
                <tr key={`${j.kind}/${j.state}`} data-kind={j.kind} data-state={j.state}>
                  <td data-label="Kind">{j.kind}</td>
                  <td data-label="State">{j.state}</td>
                  <td className="mh-num" data-label="Jobs">
                    {j.count}
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
