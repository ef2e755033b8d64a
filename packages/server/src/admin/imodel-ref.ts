// An iModel as people name it on the command line: its id, or its name (exact) in one iTwin or among all of theirs.
import type { IModel, ModelHubClient } from "@modelhub/client";
import { ModelHubError } from "@modelhub/client";

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A name that matches several iModels, or no name at all: the user must say more (a usage error). */
export class AmbiguousIModel extends Error {}

export const isGuid = (text: string) => GUID.test(text.trim());

/**
 * The iModel `ref` names: a GUID is its id; anything else is a name, looked up in the iTwin `iTwinId` or, without
 * it, in every iTwin the caller is a member of. Not found: ModelHubError iModelNotFound (404).
 */
export async function findIModel(
  client: ModelHubClient,
  ref: string,
  iTwinId?: string,
  iTwinLabel?: string,
): Promise<IModel> {
  const text = ref.trim();
  if (text === "") throw new AmbiguousIModel("give the iModel's name or id.");
  if (isGuid(text)) return client.getIModel(text.toLowerCase());
  const iTwinIds: string[] = [];
  if (iTwinId !== undefined) iTwinIds.push(iTwinId);
  else for await (const t of client.iTwins()) iTwinIds.push(t.id);
  const found: IModel[] = [];
  for (const id of iTwinIds)
    for await (const m of client.iModels(id, { name: text })) if (m.name === text) found.push(m);
  if (found.length === 1) return found[0]!;
  if (found.length === 0)
    throw new ModelHubError(
      404,
      "iModelNotFound",
      `No iModel named '${text}' in ${iTwinId !== undefined ? `iTwin '${iTwinLabel ?? iTwinId}'` : "your iTwins"}.`,
    );
  throw new AmbiguousIModel(
    `${found.length} iModels are named '${text}' (in iTwins ${found.map((m) => m.iTwinId).join(", ")}): give --itwin or the id.`,
  );
}
