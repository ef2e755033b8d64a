import type { FastifyPluginAsync } from "fastify";
import type { ApiRouteContext } from "./context.js";
import { WEBVIEW, iModel } from "../authz/rules.js";
import { ORDER_BY, PAGING, PREFER, USER, one, page, query } from "../schemas.js";
import { offsetPagingLinks, readPage } from "../paging.js";
import { parseOrderByKeys, parsePage, prefersRepresentation } from "../query.js";

export const userRoutes: FastifyPluginAsync<ApiRouteContext> = async (api, { hub }) => {
  api.get<{ Params: { id: string } }>(
    "/:id/users",
    {
      schema: {
        querystring: query({ $orderBy: ORDER_BY("givenName", "surname"), ...PAGING }),
        headers: PREFER,
        response: { 200: page("users", USER) },
      },
      config: { summary: "List the users of an iModel", authz: iModel(WEBVIEW) },
    },
    async (request) => {
      const q = request.params_;
      const operation = "Cannot get Users.";
      const page = parsePage(q, operation);
      const order = parseOrderByKeys(q, operation, ["givenName", "surname"] as const);
      const { rows, hasMore } = await readPage(page, (p) => hub.users.list(request.params.id, p, order));
      const full = prefersRepresentation(request.headers.prefer);
      return {
        users: rows.map((u) =>
          full ? request.presenter.user(request.params.id, u) : request.presenter.minimalUser(request.params.id, u),
        ),
        _links: offsetPagingLinks(`${request.presenter.apiBase}/${request.params.id}/users`, q, page, hasMore),
      };
    },
  );

  api.get<{ Params: { id: string; userId: string } }>(
    "/:id/users/:userId",
    {
      schema: { response: { 200: one("user", USER) } },
      config: { summary: "Get a user of an iModel", authz: iModel(WEBVIEW) },
    },
    async (request) => {
      const user = await hub.users.get(request.actor, request.params.id, request.params.userId);
      return { user: request.presenter.user(request.params.id, user) };
    },
  );
};
