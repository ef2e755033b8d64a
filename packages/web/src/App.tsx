import { Badge, Button, ProgressRadial, SkipToContentLink, Text } from "@itwin/itwinui-react";
import { useCallback, useEffect, useMemo, useState } from "react";
import { describeError } from "./format.js";
import { IModelList } from "./IModelList.js";
import { ITwinList } from "./ITwinList.js";
import { IModelPage } from "./IModelPage.js";
import { AdminPage } from "./Admin.js";
import { useRoute } from "./route.js";
import type { Session, UiConfig } from "./session.js";
import { clientOf, fetchUiConfig, loadSession, saveSession, whoAmI } from "./session.js";
import { completeSignIn, isSignInReturn } from "./oidc.js";
import { SignIn } from "./SignIn.js";

function whoTitle(session: Session): string {
  const { user, authMode, expiresAt } = session.me;
  const how =
    authMode === "open"
      ? "open mode: the name is trusted"
      : authMode === "tokens"
        ? "a hub token"
        : "the identity provider's token";
  return [
    `${user.displayName} (${user.id})`,
    user.email,
    `signed in with ${how}`,
    expiresAt ? `until ${new Date(expiresAt).toLocaleString()}` : undefined,
  ]
    .filter(Boolean)
    .join(" · ");
}

export function App() {
  const [config, setConfig] = useState<UiConfig>();
  const mode = config?.authMode;
  const [modeError, setModeError] = useState<string>();
  const [session, setSession] = useState<Session | undefined>(loadSession);
  const [signOutReason, setSignOutReason] = useState<string>();
  const route = useRoute();

  useEffect(() => {
    fetchUiConfig().then(setConfig, (err: unknown) => setModeError(describeError(err)));
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
  // Back from the identity provider (`/?code=…&state=…`): redeem the code, ask the hub who that is, sign in.
  const [returning, setReturning] = useState(isSignInReturn);
  useEffect(() => {
    if (!returning || !config) return;
    if (config.authMode !== "oidc" || !config.oidc) return setReturning(false);
    const oidc = config.oidc;
    void (async () => {
      try {
        const { accessToken } = await completeSignIn(oidc);
        signIn({ mode: "oidc", credential: accessToken, me: await whoAmI(accessToken) });
      } catch (err) {
        setSignOutReason(describeError(err));
      } finally {
        setReturning(false);
      }
    })();
  }, [returning, config, signIn]);

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
              {usable.me.user.displayName !== usable.me.user.id && (
                <span className="mh-muted mh-hide-narrow"> ({usable.me.user.id})</span>
              )}
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
        ) : !mode || !config || returning ? (
          <ProgressRadial indeterminate aria-label={returning ? "Signing in" : "Loading"} />
        ) : !usable || !client ? (
          <SignIn mode={mode} oidc={config.oidc} onSignIn={signIn} reason={signOutReason} />
        ) : route.page === "admin" ? (
          usable.me.administrator ? (
            <AdminPage section={route.section} client={client} mode={mode} onUnauthorized={onUnauthorized} />
          ) : (
            <Text role="alert">
              The administration pages are for the hub's administrators (modelhub serve --admin).
            </Text>
          )
        ) : route.page === "iModel" ? (
          <IModelPage
            key={route.iModelId}
            client={client}
            userId={usable.me.user.id}
            iModelId={route.iModelId}
            tab={route.tab}
            {...(route.compare ? { compare: route.compare } : {})}
            onUnauthorized={onUnauthorized}
          />
        ) : route.iTwinId ? (
          <IModelList
            key={route.iTwinId}
            client={client}
            credential={usable.credential}
            iTwinId={route.iTwinId}
            onUnauthorized={onUnauthorized}
          />
        ) : (
          <ITwinList
            client={client}
            openMode={mode === "open"}
            administrator={usable.me.administrator}
            onUnauthorized={onUnauthorized}
          />
        )}
      </main>
    </>
  );
}
