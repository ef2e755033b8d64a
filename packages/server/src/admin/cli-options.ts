// Option parsers shared by the CLI's command groups.
import { InvalidArgumentError } from "commander";

/** A whole number option (`--page-size 10`). */
export function integer(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError("Not a whole number.");
  return Number(value);
}

/** A repeatable option's values, in order (`--role a --role b`). */
export const collect = (value: string, previous: string[]) => [...previous, value];
