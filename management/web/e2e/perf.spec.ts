/**
 * The samples grid with 50k samples in the server's database (imported through the real
 * POST /api/import, no route mock): first rows on screen, every page loaded, and the time to
 * filter, printed. No thresholds: the numbers are for reading and comparing between runs.
 */
import { expect, test } from "@playwright/test";
import { importSamples, startServer, stopServer, TOKEN, type RunningServer } from "./server";

const PER_RUN = Number(process.env.VLMHB_WEB_PERF_PER_RUN ?? 12_500); // x 4 runs = 50k

let server: RunningServer;

test.beforeAll(async () => {
  server = await startServer();
});

test.afterAll(async () => {
  if (server) await stopServer(server);
});

test("samples grid with 50k samples: first render, full load, filter", async ({ page }) => {
  const started = Date.now();
  const id = await importSamples(server, PER_RUN, "perf");
  const importS = (Date.now() - started) / 1000;
  await page.goto(`${server.url}/?token=${TOKEN}`);
  const t0 = Date.now();
  await page.goto(`${server.url}/experiments/${id}/samples`);
  await expect(page.getByTestId("sample-row").first()).toBeVisible();
  const firstRowsMs = Date.now() - t0;
  const counts = page.getByTestId("counts");
  await expect(counts).toHaveAttribute("data-all-ms", /\d+/, { timeout: 120_000 });
  const allMs = Date.now() - t0;
  const loaded = Number(await counts.getAttribute("data-loaded"));
  expect(loaded).toBe(PER_RUN * 4);
  const domRows = await page.getByTestId("sample-row").count();
  expect(domRows).toBeLessThan(200); // virtualised: only the rows in view are in the DOM

  const timeFilter = async (act: () => Promise<void>) => {
    const before = await counts.getAttribute("data-shown");
    const t = Date.now();
    await act();
    await expect(counts).not.toHaveAttribute("data-shown", before!);
    await expect(page.getByTestId("sample-row").first()).toBeVisible();
    return { wallMs: Date.now() - t, computeMs: Number(await counts.getAttribute("data-filter-ms")) };
  };
  const search = await timeFilter(() => page.getByLabel("search").fill("passport-fields-1"));
  const clear = await timeFilter(() => page.getByRole("button", { name: "Clear" }).click());
  const runs = await page.getByLabel("run", { exact: true }).locator("option").allTextContents();
  const byRun = await timeFilter(async () => {
    await page.getByLabel("run", { exact: true }).selectOption(runs[1]);
  });
  const t = Date.now();
  await page.getByRole("columnheader", { name: /latency/ }).click();
  await expect(page.getByRole("columnheader", { name: /latency/ })).toHaveAttribute("aria-sort", /ascending|descending/);
  const sortMs = Date.now() - t;
  // scrolling to the end keeps the DOM small
  await page.getByTestId("grid-body").press("End");
  await expect(page.locator('[data-testid="sample-row"][aria-selected="true"]')).toBeVisible();
  await page.screenshot({ path: "test-results/07-samples-50k.png" });
  const line = [
    `samples grid, ${loaded} samples (imported in ${importS.toFixed(1)} s):`,
    `first rows ${firstRowsMs} ms (first page in the app ${await counts.getAttribute("data-first-page-ms")} ms),`,
    `all loaded ${allMs} ms; DOM rows ${domRows};`,
    `search ${search.wallMs} ms (filter+sort ${search.computeMs} ms),`,
    `clear ${clear.wallMs} ms (${clear.computeMs} ms), run filter ${byRun.wallMs} ms (${byRun.computeMs} ms),`,
    `sort by latency ${sortMs} ms`,
  ].join(" ");
  console.log(line);
});
