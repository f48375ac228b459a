import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { renderHook, waitFor } from "@testing-library/react";
import type { ReactNode } from "react";
import { api, ApiError, onUnauthorized, setApiBase } from "../src/api";
import { SAMPLES_PAGE, useExperiments, useLeaderboard, useSampleRows } from "../src/hooks";
import { getToken, setToken } from "../src/token";
import { sample } from "./fixtures";
import { reply, serve, type TestServer } from "./server";

const TOTAL = 2 * SAMPLES_PAGE + 345;
const ALL = Array.from({ length: TOTAL }, (_, i) => sample(i + 1));

let server: TestServer;

beforeAll(async () => {
  server = await serve((req, url, res) => {
    if (req.headers.authorization !== "Bearer good") return reply(res, 401, { detail: "missing or invalid token" });
    if (url.pathname === "/api/experiments/7/samples") {
      const limit = Number(url.searchParams.get("limit"));
      const offset = Number(url.searchParams.get("offset"));
      return { total: TOTAL, items: ALL.slice(offset, offset + limit) };
    }
    if (url.pathname === "/api/experiments") {
      return { total: 1, items: [{ id: 7, name: "default", status: "done", progress: { fraction: 1 } }] };
    }
    if (url.pathname === "/api/experiments/7/leaderboard") {
      return { rows: [{ run: "r", model: "m", dataset: "d", prompt: "p", task: "vqa", metrics: { anls: 0.9 } }] };
    }
    if (url.pathname === "/api/experiments" && req.method === "POST") return {};
    return reply(res, 422, { detail: { message: "the experiment cannot be run", problems: ["limit: expected a positive integer"] } });
  });
  setApiBase(server.url);
});

afterAll(() => server.close());
beforeEach(() => setToken("good"));

function wrapper({ children }: { children: ReactNode }) {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return <QueryClientProvider client={client}>{children}</QueryClientProvider>;
}

describe("api()", () => {
  it("sends the token and turns a 4xx into an ApiError with the server's problems", async () => {
    const error = await api("/api/nothing").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(422);
    expect((error as ApiError).problems).toEqual(["limit: expected a positive integer"]);
    expect(server.requests.at(-1)?.auth).toBe("Bearer good");
  });

  it("on 401 forgets the token and tells the app", async () => {
    setToken("bad");
    let told = 0;
    const stop = onUnauthorized(() => (told += 1));
    await expect(api("/api/experiments")).rejects.toMatchObject({ status: 401 });
    stop();
    expect(told).toBe(1);
    expect(getToken()).toBeNull();
  });
});

describe("data hooks", () => {
  it("useExperiments and useLeaderboard read their routes", async () => {
    const list = renderHook(() => useExperiments({ status: "done" }), { wrapper });
    await waitFor(() => expect(list.result.current.data?.items[0].name).toBe("default"));
    expect(server.requests.some((r) => r.path.startsWith("/api/experiments?status=done"))).toBe(true);
    const board = renderHook(() => useLeaderboard(7), { wrapper });
    await waitFor(() => expect(board.result.current.data?.rows[0].metrics.anls).toBe(0.9));
  });

  it("useSampleRows asks the server for the pages in view only, with the filter", async () => {
    const params = { run: "tesseract__vqa__q", sort: "id", order: "asc" };
    const { result, rerender } = renderHook(({ first, last }) => useSampleRows(7, params, first, last), {
      wrapper,
      initialProps: { first: 0, last: 30 },
    });
    await waitFor(() => expect(result.current.total).toBe(TOTAL));
    expect(result.current.rowAt(5)?.id).toBe(6);
    expect(result.current.rowAt(SAMPLES_PAGE + 1)).toBeUndefined(); // not in view: not fetched
    const asked = () =>
      server.requests
        .filter((r) => r.path.startsWith("/api/experiments/7/samples"))
        .map((r) => new URL(r.path, server.url).searchParams);
    expect(asked().map((p) => p.get("offset"))).toEqual(["0"]);
    expect(asked()[0].get("run")).toBe("tesseract__vqa__q");
    expect(asked()[0].get("limit")).toBe(String(SAMPLES_PAGE));
    rerender({ first: 2 * SAMPLES_PAGE + 10, last: 2 * SAMPLES_PAGE + 40 }); // scrolled down
    await waitFor(() => expect(result.current.rowAt(2 * SAMPLES_PAGE + 10)?.id).toBe(2 * SAMPLES_PAGE + 11));
    expect(asked().map((p) => p.get("offset"))).toEqual(["0", String(2 * SAMPLES_PAGE)]);
  });

  it("useSampleRows reports an error the page can show", async () => {
    setToken("bad");
    const { result } = renderHook(() => useSampleRows(7, {}, 0, 10), { wrapper });
    await waitFor(() => expect(result.current.error).toBeInstanceOf(ApiError));
    expect(result.current.loading).toBe(false);
  });
});
