// `modelhub completion bash|zsh`: a completion script made from the command tree itself (commands, their aliases,
// subcommands and options), so it never falls behind the commands. zsh runs the bash script through bashcompinit.
import type { Command } from "commander";

/** Every command path (aliases included, as spelled) with the words that may follow it. */
export function completionTable(program: Command): Map<string, string[]> {
  const table = new Map<string, string[]>();
  const walk = (command: Command, paths: string[]) => {
    const subcommands = command.commands.filter((c) => c.name() !== "help");
    const words = [
      ...subcommands.flatMap((c) => [c.name(), ...c.aliases()]),
      ...command.options.flatMap((o) => [o.long, o.short].filter((f): f is string => f !== undefined)),
      "--help",
    ];
    for (const path of paths) table.set(path, words);
    for (const sub of subcommands)
      walk(
        sub,
        paths.flatMap((p) => [sub.name(), ...sub.aliases()].map((n) => `${p} ${n}`.trim())),
      );
  };
  walk(program, [""]);
  return table;
}

const quote = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;

export function bashCompletion(program: Command): string {
  const entries = [...completionTable(program)].map(
    ([path, words]) => `  [${quote(path === "" ? "." : path)}]=${quote(words.join(" "))}`,
  );
  return [
    '# modelhub completion for bash: eval "$(modelhub completion bash)" (e.g. in ~/.bashrc)',
    "_modelhub_completion() {",
    "  local -A words=(",
    ...entries.map((e) => `  ${e}`),
    "  )",
    '  local cur="${COMP_WORDS[COMP_CWORD]}" path="" w i',
    "  for ((i = 1; i < COMP_CWORD; i++)); do",
    '    w="${COMP_WORDS[i]}"',
    '    [[ "$w" == -* ]] && continue',
    '    if [[ -n "${words["${path:+$path }$w"]+x}" ]]; then path="${path:+$path }$w"; fi',
    "  done",
    '  COMPREPLY=($(compgen -W "${words[${path:-.}]}" -- "$cur"))',
    "}",
    "complete -F _modelhub_completion modelhub",
    "",
  ].join("\n");
}

export function zshCompletion(program: Command): string {
  return [
    '# modelhub completion for zsh: eval "$(modelhub completion zsh)" (e.g. in ~/.zshrc)',
    "autoload -U +X bashcompinit && bashcompinit",
    bashCompletion(program),
  ].join("\n");
}
