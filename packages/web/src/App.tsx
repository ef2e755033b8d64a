import { Badge, Button, ProgressRadial, SkipToContentLink, Text } from "@itwin/itwinui-react";
import { useCallback, useEffect, useMemo, useState } from "react";
import { describeError } from "./format.js";
import { IModelList } from "./IModelList.js";
import { ITwinList } from "./ITwinList.js";
import { IModelPage } from "./IModelPage.js";
import { AdminPage } from "./Admin.js";
import { useRoute } from "./route.js";
import type { AuthMode, Session } from "./session.js";
import { clientOf, fetchAuthMode, loadSession, saveSession } from "./session.js";
import { SignIn } from "./SignIn.js";

function whoTitle(session: Session): string {
  const { user, authMode, expiresAt } = session.me;
  const how = authMode === "open" ? "open mode: the name is trusted" : authMode === "tokens" ? "a hub token" : "the identity provider's token";
  return [`${user.displayName} (${user.id})`, user.email, `signed in with ${how}`, expiresAt ? `until ${new Date(expiresAt).toLocaleString()}` : undefined].filter(Boolean).join(" · ");
}

export function App() {
  const [mode, setMode] = useState<AuthMode>();
  const [modeError, setModeError] = useState<string>();
  const [session, setSession] = useState<Session | undefined>(loadSession);
  const [signOutReason, setSignOutReason] = useState<string>();
  const route = useRoute();

  useEffect(() => {
    fetchAuthMode().then(setMode, (err: unknown) => setModeError(describeError(err)));
  }, []);

  const signIn = useCallback((next: Session) => {
    saveSession(next);
    setSignOutReason(undefined);
    setSession(next);
  }, []);
  const signOut = useCallback((reason?: string) => {
    saveSession(undefined);
    setSignOutReason(reason);
    setSession(undefined);
  }, []);
  const onUnauthorized = useCallback(() => signOut("The hub refused your token (401): sign in again."), [signOut]);
  const client = useMemo(() => (session ? clientOf(session) : undefined), [session]);

  // A session made for another auth mode (the hub was restarted differently) is not offered.
  const usable = session && mode && session.mode === mode ? session : undefined;

  return (
    <>
      <SkipToContentLink href="#main" />
      <header className="mh-header">
        <Text variant="title" as="span">
          <a href="#/">modelhub</a>
        </Text>
        {usable && (
          <span className="mh-row mh-who" style={{ alignItems: "center" }}>
            <Text as="span" data-testid="signed-in-as" data-user-id={usable.me.user.id} title={whoTitle(usable)}>
              {usable.me.user.displayName}
              {usable.me.user.displayName !== usable.me.user.id && <span className="mh-muted mh-hide-narrow"> ({usable.me.user.id})</span>}
            </Text>
            {usable.me.administrator && mode !== "open" && <Badge backgroundColor="informational">administrator</Badge>}
            {usable.me.administrator && (
              <a href="#/admin/members" className="mh-header-link">
                Administration
              </a>
            )}
            <Button size="small" onClick={() => signOut()}>
              Sign out
            </Button>
          </span>
        )}
      </header>
      <main id="main" className="mh-main" tabIndex={-1}>
        {modeError ? (
          <Text role="alert">Cannot reach the hub: {modeError}</Text>
        ) : !mode ? (
          <ProgressRadial indeterminate aria-label="Loading" />
        ) : !usable || !client ? (
          <SignIn mode={mode} onSignIn={signIn} reason={signOutReason} />
        ) : route.page === "admin" ? (
          usable.me.administrator ? (
            <AdminPage section={route.section} client={client} mode={mode} onUnauthorized={onUnauthorized} />
          ) : (
            <Text role="alert">The administration pages are for the hub's administrators (modelhub serve --admin).</Text>
          )
        ) : route.page === "iModel" ? (
          <IModelPage key={route.iModelId} client={client} userId={usable.me.user.id} iModelId={route.iModelId} tab={route.tab} onUnauthorized={onUnauthorized} />
        ) : route.iTwinId ? (
          <IModelList key={route.iTwinId} client={client} iTwinId={route.iTwinId} onUnauthorized={onUnauthorized} />
        ) : (
          <ITwinList client={client} openMode={mode === "open"} administrator={usable.me.administrator} onUnauthorized={onUnauthorized} />
        )}
      </main>
    </>
  );
}
