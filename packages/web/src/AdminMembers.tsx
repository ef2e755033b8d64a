// The admin page of an iTwin's members and roles.
import type { ITwin, ModelHubClient } from "@modelhub/client";
import { Alert, Button, Checkbox, LabeledInput, LabeledSelect, ProgressRadial, Text } from "@itwin/itwinui-react";
import { useState } from "react";
import { useLoaded } from "./hooks.js";
import type { AdminProps } from "./admin-common.js";
import { hubCall, toggled, useActionOutcome } from "./admin-common.js";

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

export function MembersSection({ client, onUnauthorized }: AdminProps) {
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
  const { act, alert, setOutcome } = useActionOutcome(() => setRevision((n) => n + 1));
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

  return (
    <div className="mh-stack">
      {alert("members-outcome")}
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
                <td data-label="Roles">
                  <MemberRoles
                    member={m}
                    roles={roles}
                    onChange={(roleIds, done, failed) =>
                      void act(done, failed, () =>
                        hubCall(
                          client,
                          "PATCH",
                          `${base}/members/users/${encodeURIComponent(m.id)}`,
                          { roleIds },
                          [200],
                        ),
                      )
                    }
                  />
                </td>
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

/**
 * A member's roles, changed in place (`PATCH …/members/users/{id}` with the new list): each role can be taken away,
 * and any role the member does not hold yet can be given. The hub refuses what the signed-in user may not do (and
 * taking away the last Owner) with its reason, shown above the table.
 */
function MemberRoles({
  member,
  roles,
  onChange,
}: {
  member: Member;
  roles: Role[];
  onChange: (roleIds: string[], done: string, failed: string) => void;
}) {
  const held = member.roles.map((r) => r.id);
  const others = roles.filter((r) => !held.includes(r.id));
  return (
    <span className="mh-roles">
      {member.roles.map((r) => (
        <span key={r.id} className="mh-role" data-role={r.displayName}>
          {r.displayName}
          <Button
            size="small"
            styleType="borderless"
            aria-label={`Take the role ${r.displayName} from ${member.id}`}
            title={`Take the role ${r.displayName} from ${member.id}`}
            onClick={() =>
              onChange(
                held.filter((id) => id !== r.id),
                `${member.id} no longer has the role ${r.displayName}.`,
                `The role ${r.displayName} was not taken from ${member.id}`,
              )
            }
          >
            ×
          </Button>
        </span>
      ))}
      {others.length > 0 && (
        <select
          className="mh-native-select"
          aria-label={`Give ${member.id} a role`}
          value=""
          onChange={(e) => {
            const role = others.find((r) => r.id === e.target.value);
            if (role)
              onChange(
                [...held, role.id],
                `${member.id} now has the role ${role.displayName}.`,
                `${member.id} was not given the role ${role.displayName}`,
              );
          }}
        >
          <option value="">Give a role…</option>
          {others.map((r) => (
            <option key={r.id} value={r.id}>
              {r.displayName}
            </option>
          ))}
        </select>
      )}
    </span>
  );
}

function NewRoleForm({ onCreate }: { onCreate: (displayName: string, permissions: string[]) => Promise<boolean> }) {
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
            onChange={(e) => setChosen(toggled(chosen, p, e.target.checked))}
          />
        ))}
      </fieldset>
    </form>
  );
}
