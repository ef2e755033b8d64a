// `modelhub login`, `logout`, `profiles` and `completion`: the CLI's own sign-in and shell set-up.
import type { Command } from "commander";
import { fail, stdout } from "./terminal.js";

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** Adds the sign-in, profile and shell-completion commands to the CLI. */
export function registerSessionCommands(program: Command): void {
  program
    .command("login")
    .description(
      "Save a hub's URL and a token as a profile (in ~/.config/modelhub/profiles.json, readable by you only), after checking that the hub accepts the token; the commands that call a hub then need no --url or --token.",
    )
    .argument("<url>", "the hub, e.g. https://hub.example.com")
    .option("--token <token>", "the token (default: $MODELHUB_TOKEN; or --token-stdin)")
    .option(
      "--token-stdin",
      "read the token from standard input (keeps it out of the command line and the shell history)",
    )
    .option("--profile <name>", "the profile's name", "default")
    .option("--default", "make it the default profile (the first one saved is)")
    .option("--json", "print the saved profile (without the token) as JSON")
    .action(
      async (
        url: string,
        opts: { token?: string; tokenStdin?: boolean; profile: string; default?: boolean; json?: boolean },
      ) => {
        const { readProfiles, validProfileName, writeProfiles, profilesPath } = await import("./profiles.js");
        const json = opts.json === true;
        if (!validProfileName(opts.profile))
          fail("login", "--profile must be a name of letters, digits, '.', '_' or '-'.", 2, "UsageError", json);
        let token = opts.token ?? process.env.MODELHUB_TOKEN;
        if (opts.tokenStdin) token = (await readStdin()).trim();
        if (!token)
          fail("login", "give the token with --token-stdin, --token or MODELHUB_TOKEN.", 2, "UsageError", json);
        const { ModelHubClient, ModelHubError } = await import("@modelhub/client");
        let origin: string;
        try {
          const client = new ModelHubClient({ url, accessToken: token, retry: { baseDelayMs: 250 } });
          origin = client.apiBase.slice(0, -"/imodels".length);
          // Any authenticated read proves the token: the first page of the caller's iTwins.
          await client.request("GET", `${client.iTwinsBase}?$top=1`);
        } catch (err) {
          if (err instanceof ModelHubError)
            fail(
              "login",
              json ? err.message : err.describe(),
              err.status === 0 && err.code === "InvalidUrl" ? 2 : 1,
              err.code,
              json,
            );
          throw err;
        }
        const file = await readProfiles();
        file.profiles[opts.profile] = { url: origin, token, savedAt: new Date().toISOString() };
        // The first profile saved becomes the default; another one only with --default.
        const makeDefault = file.default === undefined || file.default === opts.profile || opts.default === true;
        if (makeDefault) file.default = opts.profile;
        await writeProfiles(file);
        if (json) stdout.json({ profile: opts.profile, url: origin, default: makeDefault, path: profilesPath() });
        else
          stdout.line(
            `logged in to ${origin} as profile '${opts.profile}'${makeDefault ? " (the default)" : ` (use it with --profile ${opts.profile})`}; saved in ${profilesPath()}`,
          );
      },
    );

  program
    .command("logout")
    .description("Forget a saved profile (its token is removed from the profiles file).")
    .option("--profile <name>", "the profile (default: the default one)")
    .option("--json", "print JSON")
    .action(async (opts: { profile?: string; json?: boolean }) => {
      const { readProfiles, writeProfiles } = await import("./profiles.js");
      const file = await readProfiles();
      const name = opts.profile ?? file.default;
      if (name === undefined || !file.profiles[name])
        fail(
          "logout",
          name === undefined ? "there is no saved profile." : `there is no profile '${name}'.`,
          1,
          "ProfileNotFound",
          opts.json === true,
        );
      delete file.profiles[name];
      if (file.default === name) delete file.default;
      await writeProfiles(file);
      if (opts.json) stdout.json({ profile: name, removed: true });
      else stdout.line(`forgot profile '${name}'`);
    });

  program
    .command("profiles")
    .description("List the saved profiles: name, hub URL, saved (never the token).")
    .option("--json", "one JSON object per line")
    .action(async (opts: { json?: boolean }) => {
      const { readProfiles } = await import("./profiles.js");
      const { tableLines, timestamp } = await import("./terminal.js");
      const file = await readProfiles();
      const entries = Object.entries(file.profiles);
      if (opts.json) {
        for (const [name, p] of entries)
          stdout.json({ profile: name, url: p.url, savedAt: p.savedAt, default: name === file.default });
        return;
      }
      if (entries.length === 0) return stdout.line("no profiles (save one: modelhub login <url>)");
      stdout.lines(
        tableLines([
          ["PROFILE", "URL", "SAVED", "DEFAULT"],
          ...entries.map(([name, p]) => [name, p.url, timestamp(p.savedAt), name === file.default ? "yes" : ""]),
        ]),
      );
    });

  program
    .command("completion")
    .description(
      'Print a shell completion script: eval "$(modelhub completion bash)" in ~/.bashrc, or zsh in ~/.zshrc.',
    )
    .argument("<shell>", "bash or zsh")
    .action(async (shell: string) => {
      const { bashCompletion, zshCompletion } = await import("./completion.js");
      if (shell !== "bash" && shell !== "zsh")
        fail("completion", `'${shell}' is not a shell this knows: bash or zsh.`, 2);
      stdout.lines((shell === "bash" ? bashCompletion(program) : zshCompletion(program)).trimEnd().split("\n"));
    });
}
