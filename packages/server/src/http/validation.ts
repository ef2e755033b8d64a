import type { ErrorDetail } from "@modelhub/protocol";
import type { z } from "zod";
import { invalidRequest } from "../domain/errors.js";

/**
 * Validates a JSON body against a schema and turns every problem into the API's 422 details:
 * `MissingRequiredProperty` for an absent required property, `InvalidValue` for a wrong one, `InvalidRequestBody`
 * when the body is not a JSON object at all.
 */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown, operation: string): z.infer<S> {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw invalidRequest(operation, [
      { code: "InvalidRequestBody", message: "Failed to parse request body. Make sure it is a valid JSON object." },
    ]);
  }
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const details: ErrorDetail[] = [];
  for (const issue of result.error.issues) {
    const target = issue.path.map(String).join(".");
    if (
      issue.code !== "unrecognized_keys" &&
      issue.code !== "custom" &&
      issue.path.length > 0 &&
      valueAt(body, issue.path) === undefined
    ) {
      details.push({ code: "MissingRequiredProperty", message: "Required property is missing.", target });
    } else if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) {
        details.push({
          code: "InvalidValue",
          message: `Property '${key}' is not supported.`,
          target: target ? `${target}.${key}` : key,
        });
      }
    } else {
      details.push({
        code: "InvalidValue",
        message: `Provided '${target}' value is not valid. ${issue.message}`,
        target,
      });
    }
  }
  throw invalidRequest(operation, details);
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let node: unknown = root;
  for (const key of path) {
    if (node === null || typeof node !== "object") return undefined;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node;
}
