// The admin page of access tokens.
import { Alert, Badge, Button, LabeledInput, LabeledSelect, ProgressRadial, Text } from "@itwin/itwinui-react";
import { useState } from "react";
import { formatDate } from "./format.js";
import { useLoaded } from "./hooks.js";
import type { AdminProps } from "./admin-common.js";
import { hubCall, useActionOutcome } from "./admin-common.js";

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

export function TokensSection({ client, mode, onUnauthorized }: AdminProps) {
  const [revision, setRevision] = useState(0);
  const [userId, setUserId] = useState("");
  const [description, setDescription] = useState("");
  const [expires, setExpires] = useState("90d");
  const [secret, setSecret] = useState<{ userId: string; secret: string }>();
  const { act, alert, setOutcome } = useActionOutcome(() => setRevision((n) => n + 1));
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
          const body = {
            userId: userId.trim(),
            expires,
            ...(description.trim() ? { description: description.trim() } : {}),
          };
          void act(undefined, "The token was not created", async () => {
            const made = await hubCall<{ token: TokenRow; secret: string }>(
              client,
              "POST",
              "/admin/tokens",
              body,
              [201],
            );
            setSecret({ userId: made.token.userId, secret: made.secret });
            setUserId("");
            setDescription("");
          });
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
      {alert()}
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
                            void act(
                              `Revoked the token of ${t.userId}: it is refused from now on.`,
                              "The token was not revoked",
                              () => hubCall(client, "DELETE", `/admin/tokens/${encodeURIComponent(t.id)}`),
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
