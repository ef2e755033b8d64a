// `modelhub audit`, `briefcases` and `access`: commands that call a running hub (`--url`, `--token`, `--profile`).
import type { Command } from "commander";
// Types only: the `modelhub access` commands are loaded when one runs.
import type * as AccessCommands from "./access.js";
import { fail } from "./terminal.js";
import { collect, integer } from "./cli-options.js";

/** `--url`/`MODELHUB_URL`, `--token`/`MODELHUB_TOKEN` and `--profile` of the commands that call a running hub. */
interface HubFlags {
  url?: string;
  token?: string;
  profile?: string;
  json?: boolean;
}

function withHubOptions(command: Command): Command {
  return command
    .option("--url <origin>", "the hub (default: $MODELHUB_URL, the profile's, or http://127.0.0.1:3000)")
    .option(
      "--token <token>",
      "a bearer token (default: $MODELHUB_TOKEN or the profile's; prefer those: a command line is visible to other users)",
    )
    .option(
      "--profile <name>",
      "a connection saved by modelhub login (default: $MODELHUB_PROFILE, or the last one logged in to)",
    );
}

/** An `<imodel>` argument of the over-HTTP admin commands: an id as it is, a name looked up among the caller's iTwins. */
async function iModelIdFor(connection: { url: string; token: string }, ref: string): Promise<string> {
  const { isGuid, findIModel, AmbiguousIModel } = await import("./imodel-ref.js");
  if (isGuid(ref)) return ref.trim().toLowerCase();
  const { ModelHubClient, ModelHubError } = await import("@modelhub/client");
  const { HubCommandError } = await import("./hub-connection.js");
  try {
    return (
      await findIModel(
        new ModelHubClient({ url: connection.url, accessToken: connection.token, retry: { baseDelayMs: 250 } }),
        ref,
      )
    ).id;
  } catch (err) {
    if (err instanceof AmbiguousIModel) throw new HubCommandError(err.message, 2);
    if (err instanceof ModelHubError)
      throw new HubCommandError(
        err.status === 0 ? err.message : `the hub answered ${err.status}: ${err.code}: ${err.message}`,
        1,
      );
    throw err;
  }
}

/** The code of a HubCommandError for --json: the API's (from "the hub answered 404: iModelNotFound: …"), NetworkError, or UsageError/Failed. */
function errorCodeOf(err: { message: string; exitCode: 1 | 2 }): string {
  if (err.exitCode === 2) return "UsageError";
  if (/^cannot reach /.test(err.message)) return "NetworkError";
  return /^the hub answered \d+: (\w+):/.exec(err.message)?.[1] ?? "Failed";
}

/** Runs a command that calls the hub: its refusals are printed as `modelhub <name>: …` (or one JSON object under --json) with exit code 1 (2: bad arguments). */
async function runAgainstHub(
  name: string,
  flags: HubFlags,
  run: (connection: { url: string; token: string }) => Promise<unknown>,
): Promise<void> {
  const { HubCommandError } = await import("./hub-connection.js");
  const { resolveConnection } = await import("./profiles.js");
  const json = flags.json === true;
  const connection = await resolveConnection(flags).catch((err: unknown) =>
    fail(name, err instanceof Error ? err.message : String(err), 2, "UsageError", json),
  );
  if (!connection.token)
    fail(name, "give a token with --token or MODELHUB_TOKEN, or save one with modelhub login.", 2, "UsageError", json);
  try {
    await run({ url: connection.url, token: connection.token });
  } catch (err) {
    if (!(err instanceof HubCommandError)) throw err;
    fail(name, err.message, err.exitCode, errorCodeOf(err), json);
  }
}

/** Adds the audit, briefcase and access-control commands to the CLI. */
export function registerHubCommands(program: Command): void {
  withHubOptions(
    program
      .command("audit")
      .description(
        "Print the audit log (every write: who, what, where, outcome), one line per entry, oldest first. Needs imodels_manage, or an administrator for the whole hub.",
      )
      .option("--imodel <id>", "one iModel's entries")
      .option("--itwin <id>", "one iTwin's entries (all of the hub's without --imodel or --itwin: administrators only)")
      .option("--user <id>", "only this user's writes")
      .option("--action <name>", "only this action, e.g. briefcase.release, changeset.complete, locks.update")
      .option("--since <time>", "from this time on: ISO (2026-01-31T12:00:00Z) or an age (30m, 24h, 7d, 2w)")
      .option("--until <time>", "before this time (same forms)")
      .option("--limit <n>", "at most this many entries", integer)
      .option("--newest-first", "newest entries first")
      .option("--json", "one JSON object per line"),
  ).action(
    (
      opts: HubFlags & {
        imodel?: string;
        itwin?: string;
        user?: string;
        action?: string;
        since?: string;
        until?: string;
        limit?: number;
        newestFirst?: boolean;
        json?: boolean;
      },
    ) =>
      runAgainstHub("audit", opts, async (connection) => {
        const { runAudit } = await import("./audit.js");
        await runAudit({
          ...connection,
          json: opts.json === true,
          newestFirst: opts.newestFirst === true,
          ...(opts.imodel !== undefined ? { iModelId: opts.imodel } : {}),
          ...(opts.itwin !== undefined ? { iTwinId: opts.itwin } : {}),
          ...(opts.user !== undefined ? { user: opts.user } : {}),
          ...(opts.action !== undefined ? { action: opts.action } : {}),
          ...(opts.since !== undefined ? { since: opts.since } : {}),
          ...(opts.until !== undefined ? { until: opts.until } : {}),
          ...(opts.limit !== undefined ? { limit: opts.limit } : {}),
        });
      }),
  );

  const briefcases = program
    .command("briefcases")
    .alias("briefcase")
    .description("An iModel's briefcases over HTTP; release a lost one (and its locks) with imodels_manage.");

  withHubOptions(
    briefcases
      .command("list")
      .description("List the iModel's briefcases: id, owner, device, acquired, number of locks.")
      .argument("<imodel>", "the iModel's name or id")
      .option("--user <id>", "only this user's briefcases")
      .option("--json", "one JSON object per line"),
  ).action((ref: string, opts: HubFlags & { user?: string; json?: boolean }) =>
    runAgainstHub("briefcases list", opts, async (connection) => {
      const { runBriefcasesList } = await import("./briefcases.js");
      await runBriefcasesList({
        ...connection,
        iModelId: await iModelIdFor(connection, ref),
        json: opts.json === true,
        ...(opts.user !== undefined ? { user: opts.user } : {}),
      });
    }),
  );

  withHubOptions(
    briefcases
      .command("release")
      .description(
        "Release a briefcase and all its locks, e.g. a colleague's lost laptop's (needs imodels_manage unless it is your own). Its owner can no longer lock or push with it.",
      )
      .argument("<imodel>", "the iModel's name or id")
      .argument("<briefcaseId>", "the briefcase (see modelhub briefcases list)", integer)
      .option("--json", "print JSON"),
  ).action((ref: string, briefcaseId: number, opts: HubFlags & { json?: boolean }) =>
    runAgainstHub("briefcases release", opts, async (connection) => {
      const { runBriefcaseRelease } = await import("./briefcases.js");
      await runBriefcaseRelease({
        ...connection,
        iModelId: await iModelIdFor(connection, ref),
        briefcaseId,
        json: opts.json === true,
      });
    }),
  );

  const access = program
    .command("access")
    .description(
      "Roles, members and iModel permissions of a running hub (over HTTP; changing them needs imodels_manage).",
    );
  const accessCommand = (parent: Command, name: string, description: string) =>
    withHubOptions(parent.command(name).description(description)).option("--json", "print JSON, one object per line");
  const runAccess = (
    name: string,
    opts: HubFlags,
    run: (connection: { url: string; token: string }, admin: typeof AccessCommands) => Promise<void>,
  ) => runAgainstHub(`access ${name}`, opts, async (connection) => run(connection, await import("./access.js")));

  const accessRoles = access
    .command("roles")
    .description("An iTwin's roles: named sets of permissions given to members.");
  accessCommand(accessRoles, "list", "List the iTwin's roles and their permissions.")
    .requiredOption("--itwin <name|id>", "the iTwin (one of yours by name, or its id)")
    .action((opts: HubFlags & { itwin: string; json?: boolean }) =>
      runAccess("roles list", opts, (c, a) => a.runRolesList({ ...c, iTwinId: opts.itwin, json: opts.json === true })),
    );
  accessCommand(accessRoles, "create", "Create a role.")
    .requiredOption("--itwin <name|id>", "the iTwin (one of yours by name, or its id)")
    .requiredOption("--name <name>", "its display name, unique in the iTwin")
    .requiredOption("--permissions <list>", "comma-separated: webview, read, write, manage, delete")
    .option("--description <text>", "what the role is for")
    .action(
      (opts: HubFlags & { itwin: string; name: string; permissions: string; description?: string; json?: boolean }) =>
        runAccess("roles create", opts, (c, a) =>
          a.runRolesCreate({
            ...c,
            iTwinId: opts.itwin,
            name: opts.name,
            permissions: opts.permissions,
            json: opts.json === true,
            ...(opts.description !== undefined ? { description: opts.description } : {}),
          }),
        ),
    );
  accessCommand(accessRoles, "delete", "Delete a role (its members lose it, iModel grants to it go too).")
    .requiredOption("--itwin <name|id>", "the iTwin (one of yours by name, or its id)")
    .requiredOption("--role <name>", "the role's name or id")
    .action((opts: HubFlags & { itwin: string; role: string; json?: boolean }) =>
      runAccess("roles delete", opts, (c, a) =>
        a.runRolesDelete({ ...c, iTwinId: opts.itwin, role: opts.role, json: opts.json === true }),
      ),
    );

  const accessMembers = access.command("members").description("An iTwin's members and their roles.");
  accessCommand(accessMembers, "list", "List the iTwin's members and their roles.")
    .requiredOption("--itwin <name|id>", "the iTwin (one of yours by name, or its id)")
    .action((opts: HubFlags & { itwin: string; json?: boolean }) =>
      runAccess("members list", opts, (c, a) =>
        a.runMembersList({ ...c, iTwinId: opts.itwin, json: opts.json === true }),
      ),
    );
  accessCommand(accessMembers, "add", "Give a user roles on the iTwin (making them a member).")
    .requiredOption("--itwin <name|id>", "the iTwin (one of yours by name, or its id)")
    .requiredOption("--user <id>", "the user (the id their tokens carry)")
    .option("--role <name>", "a role's name or id (repeatable)", collect, [] as string[])
    .action((opts: HubFlags & { itwin: string; user: string; role: string[]; json?: boolean }) =>
      runAccess("members add", opts, (c, a) =>
        a.runMembersAdd({ ...c, iTwinId: opts.itwin, user: opts.user, roles: opts.role, json: opts.json === true }),
      ),
    );
  accessCommand(accessMembers, "remove", "Take roles from a user, or (without --role) remove them from the iTwin.")
    .requiredOption("--itwin <name|id>", "the iTwin (one of yours by name, or its id)")
    .requiredOption("--user <id>", "the user")
    .option("--role <name>", "only this role (repeatable)", collect, [] as string[])
    .action((opts: HubFlags & { itwin: string; user: string; role: string[]; json?: boolean }) =>
      runAccess("members remove", opts, (c, a) =>
        a.runMembersRemove({ ...c, iTwinId: opts.itwin, user: opts.user, roles: opts.role, json: opts.json === true }),
      ),
    );

  const accessIModel = access
    .command("imodel")
    .description("One iModel's own permissions: once it has any, they replace the iTwin's for it.");
  /** Exactly one of --user and --role. */
  function grantTarget(opts: { user?: string; role?: string }): { user: string } | { role: string } {
    if ((opts.user === undefined) === (opts.role === undefined)) {
      fail("access imodel", "give exactly one of --user <id> and --role <name>.", 2);
    }
    return opts.user !== undefined ? { user: opts.user } : { role: opts.role! };
  }
  accessCommand(accessIModel, "grant", "Give a user (or an iTwin role) permissions on one iModel.")
    .argument("<imodel>", "the iModel's name or id")
    .option("--user <id>", "the user")
    .option("--role <name>", "an iTwin role instead of a user")
    .requiredOption("--permissions <list>", "comma-separated: webview, read, write, manage")
    .action(
      (iModelId: string, opts: HubFlags & { user?: string; role?: string; permissions: string; json?: boolean }) => {
        const target = grantTarget(opts);
        return runAccess("imodel grant", opts, async (c, a) =>
          a.runIModelGrant({
            ...c,
            iModelId: await iModelIdFor(c, iModelId),
            target,
            permissions: opts.permissions,
            json: opts.json === true,
          }),
        );
      },
    );
  accessCommand(accessIModel, "revoke", "Remove a user's (or a role's) own permissions on one iModel.")
    .argument("<imodel>", "the iModel's name or id")
    .option("--user <id>", "the user")
    .option("--role <name>", "an iTwin role instead of a user")
    .action((iModelId: string, opts: HubFlags & { user?: string; role?: string; json?: boolean }) => {
      const target = grantTarget(opts);
      return runAccess("imodel revoke", opts, async (c, a) =>
        a.runIModelRevoke({ ...c, iModelId: await iModelIdFor(c, iModelId), target, json: opts.json === true }),
      );
    });
  accessCommand(access, "show", "Your effective permissions on an iModel.")
    .argument("<imodel>", "the iModel's name or id")
    .action((iModelId: string, opts: HubFlags & { json?: boolean }) =>
      runAccess("show", opts, async (c, a) =>
        a.runAccessShow({ ...c, iModelId: await iModelIdFor(c, iModelId), json: opts.json === true }),
      ),
    );
}
