/**
 * The samples grid with 50k samples in the server's database (imported through the real
 * POST /api/import, no route mock): first rows on screen, and the time to filter, search, sort
 * and jump to the last row (each a query of the server's index), printed. No thresholds: the numbers are for reading and comparing between runs.
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

test("samples grid with 50k samples: first render, filter, search, sort, jump to the end", async ({ page }) => {
  const started = Date.now();
  const id = await importSamples(server, PER_RUN, "perf");
  const importS = (Date.now() - started) / 1000;
  await page.goto(`${server.url}/?token=${TOKEN}`);
  const t0 = Date.now();
  await page.goto(`${server.url}/experiments/${id}/samples`);
  await expect(page.getByTestId("sample-row").first()).toBeVisible();
  const firstRowsMs = Date.now() - t0;
  const counts = page.getByTestId("counts");
  await expect(counts).toHaveAttribute("data-total", String(PER_RUN * 4));
  const domRows = await page.getByTestId("sample-row").count();
  expect(domRows).toBeLessThan(200); // virtualised: only the rows in view are in the DOM
  // the page has settled (the filter choices are there) before the filters are timed
  await expect(page.getByLabel("run", { exact: true }).locator("option")).toHaveCount(5); // all + 4 runs
  await expect(counts).toHaveAttribute("data-loading", "false");

  // each filter is one indexed query on the server: time from the input to the new rows
  const timeFilter = async (act: () => Promise<void>) => {
    const before = await counts.getAttribute("data-total");
    const t = Date.now();
    await act();
    await expect(counts).not.toHaveAttribute("data-total", before!);
    await expect(counts).toHaveAttribute("data-loading", "false");
    await expect(page.getByTestId("sample-row").first()).toBeVisible();
    return Date.now() - t;
  };
  const search = await timeFilter(async () => {
    await page.getByLabel("search").fill("passport-fields-1");
    await expect(page).toHaveURL(/q=passport-fields-1/); // the typed text reached the address
  });
  const clear = await timeFilter(() => page.getByRole("button", { name: "Clear" }).click());
  const runs = await page.getByLabel("run", { exact: true }).locator("option").allTextContents();
  const byRun = await timeFilter(async () => {
    await page.getByLabel("run", { exact: true }).selectOption(runs[1]);
  });
  const t = Date.now();
  await page.getByRole("columnheader", { name: /latency/ }).click();
  await expect(page.getByRole("columnheader", { name: /latency/ })).toHaveAttribute("aria-sort", /ascending|descending/);
  await expect(counts).toHaveAttribute("data-loading", "false");
  const sortMs = Date.now() - t;
  // the end of the list: its page is fetched when it scrolls into view
  const t2 = Date.now();
  await page.getByTestId("grid-body").press("End");
  await expect(page.locator('[data-testid="sample-row"][aria-selected="true"]')).toBeVisible();
  const endMs = Date.now() - t2;
  await page.screenshot({ path: "test-results/07-samples-50k.png" });
  console.log(
    [
      `samples grid, ${PER_RUN * 4} samples (imported in ${importS.toFixed(1)} s):`,
      `first rows ${firstRowsMs} ms; DOM rows ${domRows};`,
      `search ${search} ms, clear ${clear} ms, run filter ${byRun} ms,`,
      `sort by latency ${sortMs} ms, jump to the last row ${endMs} ms`,
    ].join(" "),
  );
});
