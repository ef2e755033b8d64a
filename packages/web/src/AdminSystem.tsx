// The admin pages of storage and of jobs and health.
import { Alert, ProgressRadial, Text } from "@itwin/itwinui-react";
import { formatBytes, formatDate } from "./format.js";
import { useLoaded } from "./hooks.js";
import type { AdminProps } from "./admin-common.js";
import { hubCall } from "./admin-common.js";

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

export function StorageSection({ client, onUnauthorized }: AdminProps) {
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

export function SystemSection({ client, onUnauthorized }: AdminProps) {
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
