// The admin page of the audit log.
import { Alert, Badge, Button, LabeledInput, ProgressRadial, Text } from "@itwin/itwinui-react";
import { useState } from "react";
import { formatDate } from "./format.js";
import { useLoaded } from "./hooks.js";
import type { AdminProps } from "./admin-common.js";
import { hubCall } from "./admin-common.js";

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

export function AuditSection({ client, onUnauthorized }: AdminProps) {
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
