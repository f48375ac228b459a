/**
 * The samples explorer on receipt-like results (issue 31), in Debian's chromium at 1400 px
 * against the real vlmhb-server: 3 models x (a transcription/total dataset, a KIE dataset with
 * company/date/address/total), imported through POST /api/import, receipt images rendered by the
 * browser. Screenshots go to test-results/explorer-*.png for a person to look at.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, test, type Browser, type Locator, type Page } from "@playwright/test";
import type { Page as ApiPage, Sample } from "../src/api";
import { fmtNumber } from "../src/format";
import { apiCall, python, startServer, stopServer, TOKEN, type RunningServer } from "./server";

const HERE = dirname(fileURLToPath(import.meta.url));
const PER_RUN = 8;
const KIE_RUN = "tesseract__receipts-kie__fields-json";
let server: RunningServer;
let id = 0;

const shot = (page: Page, name: string) => page.screenshot({ path: `test-results/explorer-${name}.png` });

interface Layout {
  width: number;
  pad: number;
  line: number;
  images: { path: string; lines: string[] }[];
}

/** Each receipt drawn by the browser into its PNG, in the layout the fixture's boxes assume. */
async function renderReceipts(browser: Browser, layout: Layout): Promise<void> {
  const page = await browser.newPage();
  for (const image of layout.images) {
    const height = 2 * layout.pad + layout.line * image.lines.length;
    await page.setViewportSize({ width: layout.width, height });
    const lines = image.lines
      .map((l) => `<div>${l.replace(/&/g, "&amp;").replace(/</g, "&lt;")}</div>`)
      .join("");
    await page.setContent(
      `<body style="margin:0;background:#fdfcf7;font:17px/${layout.line}px 'DejaVu Sans Mono',monospace;color:#222">` +
        `<div style="padding:${layout.pad}px;white-space:pre">${lines}</div></body>`,
    );
    await page.screenshot({ path: image.path });
  }
  await page.close();
}

test.describe.configure({ mode: "serial" });

test.beforeAll(async ({ browser }) => {
  server = await startServer();
  const source = join(server.workdir, "imports", "receipts"); // inside the server's work dir
  const made = spawnSync(python(), [join(HERE, "receipts_workdir.py"), source, String(PER_RUN)], { encoding: "utf8" });
  if (made.status !== 0) throw new Error(`receipts_workdir.py failed: ${made.stderr}`);
  await renderReceipts(browser, JSON.parse(readFileSync(join(source, "receipts.json"), "utf8")) as Layout);
  const result = await apiCall<{ imported: { id: number }[] }>(server, "/api/import", {
    method: "POST",
    body: JSON.stringify({ workdir: source }),
  });
  id = result.imported[0].id;
});

test.afterAll(async () => {
  if (server) await stopServer(server);
});

async function open(page: Page, query = "") {
  await page.goto(`${server.url}/?token=${TOKEN}`);
  await page.goto(`${server.url}/experiments/${id}/samples${query}`);
  await expect(page.getByTestId("sample-row").first()).toBeVisible();
}

/** The cell of a grid row under a column header, by the header's text. */
async function cell(page: Page, row: number, column: string) {
  const escaped = column.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  await expect(page.getByRole("columnheader", { name: new RegExp(`^${escaped}( [▲▼])?$`) })).toBeVisible();
  const heads = await page.getByRole("columnheader").allTextContents();
  const index = heads.findIndex((h) => h.replace(/[▲▼]/g, "").trim() === column);
  expect(index, `column ${column} in ${heads.join(", ")}`).toBeGreaterThanOrEqual(0);
  return page.getByTestId("sample-row").nth(row).getByRole("gridcell").nth(index);
}

async function loaded(image: Locator) {
  await expect.poll(() => image.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0)).toBe(true);
}

async function fitsWidth(page: Page, width = 1400) {
  const widths = await page.evaluate(() => {
    const grid = document.querySelector('[data-testid="grid-body"]')!;
    return { page: document.documentElement.scrollWidth, grid: grid.scrollWidth - grid.clientWidth };
  });
  expect(widths.page).toBeLessThanOrEqual(width);
  expect(widths.grid).toBeLessThanOrEqual(0); // no horizontal scroll inside the grid either
}

test("the explorer shows the answer and the reference of the first sample on a 1400 px screen", async ({ page }) => {
  expect(page.viewportSize()?.width).toBe(1400);
  const first = (await apiCall<ApiPage<Sample>>(server, `/api/experiments/${id}/samples?limit=1&sort=id`)).items[0];
  await open(page);
  for (const [column, text] of [
    ["question", first.question!],
    ["reference", first.reference!],
    ["answer", first.answer!],
  ] as const) {
    const c = await cell(page, 0, column);
    await expect(c).toBeVisible();
    const box = (await c.boundingBox())!;
    expect(box.x + box.width, `${column} ends inside the window`).toBeLessThanOrEqual(1400);
    expect(box.width, `${column} is wide enough to read`).toBeGreaterThan(120);
    const shown = (await c.textContent())!;
    expect(shown.replace(/\s+/g, " ")).toBe(text.replace(/\s+/g, " "));
  }
  const score = await cell(page, 0, "anls");
  await expect(score).toHaveText(fmtNumber(first.scores.anls, 2));
  expect((await score.boundingBox())!.x).toBeLessThan(1400);
  await fitsWidth(page);
  await shot(page, "01-grid");
  // with the sample open beside the grid, the columns still fit and the answer is in full
  await page.getByTestId("sample-row").first().click();
  const detail = page.getByTestId("sample-detail");
  await expect(detail.getByTestId("reference")).toHaveText(first.reference!);
  await expect(detail.getByTestId("answer")).toHaveText(first.answer!);
  await expect(await cell(page, 0, "answer")).toBeVisible();
  await fitsWidth(page);
});

test("a text sample: image with zoom, the reference beside the answer with a character diff, every run's answer", async ({ page }) => {
  await open(page, `?run=tesseract__receipts-ocr__vqa-question&question_type=transcription`);
  await page.getByTestId("sample-row").first().click();
  const detail = page.getByTestId("sample-detail");
  const image = detail.locator("img");
  await loaded(image);
  const reference = detail.getByTestId("reference");
  const answer = detail.getByTestId("answer");
  await expect(reference).toBeVisible();
  // beside, not under: same top, answer to the right, each wide enough for a receipt line
  const [r, a] = [(await reference.boundingBox())!, (await answer.boundingBox())!];
  expect(Math.abs(r.y - a.y)).toBeLessThan(4);
  expect(a.x).toBeGreaterThan(r.x + r.width - 1);
  expect(r.width).toBeGreaterThan(250);
  // tesseract reads O as 0: the diff marks the O in the reference and the 0 in the answer
  await expect(reference.locator("del.diff-removed").first()).toBeVisible();
  await expect(answer.locator("ins.diff-added").first()).toBeVisible();
  expect(await reference.locator("del.diff-removed").allTextContents()).toContain("O");
  await expect(detail.getByTestId("answer-card")).toHaveCount(3); // every model on this sample
  await expect(detail.locator(".answer-card.current")).toContainText("tesseract");
  await shot(page, "02-text-sample");
  // zoom: wider than the panel, the frame scrolls; fit brings it back
  const fitWidth = (await image.boundingBox())!.width;
  await detail.getByRole("button", { name: "zoom in" }).click();
  await detail.getByRole("button", { name: "zoom in" }).click();
  await expect(detail.getByTestId("zoom")).toHaveText(/^200%/);
  const natural = await image.evaluate((img: HTMLImageElement) => img.naturalWidth);
  expect(Math.round((await image.boundingBox())!.width)).toBe(natural * 2);
  expect(natural * 2).toBeGreaterThan(fitWidth);
  await shot(page, "03-text-sample-zoomed");
  await detail.getByRole("button", { name: "fit" }).click();
  expect(Math.round((await image.boundingBox())!.width)).toBe(Math.round(fitWidth));
});

test("a total question shows the answer's box on the receipt, also zoomed", async ({ page }) => {
  await open(page, `?question_type=total&run=qwen2.5-vl-3b__receipts-ocr__vqa-question`);
  await page.getByTestId("sample-row").first().click();
  const detail = page.getByTestId("sample-detail");
  await loaded(detail.locator("img"));
  const box = detail.getByTestId("answer-bbox");
  await expect(box).toBeVisible();
  const image = (await detail.locator("img").boundingBox())!;
  const rect = (await box.locator("rect").boundingBox())!;
  // the total line is the receipt's second last line: the box sits in the lower part, and
  // the fitted image shows all of it (nothing cut off by the frame)
  expect(rect.y).toBeGreaterThan(image.y + image.height * 0.6);
  expect(rect.y + rect.height).toBeLessThan(image.y + image.height);
  const frame = (await detail.locator(".image-scroll").boundingBox())!;
  expect(image.y + image.height).toBeLessThanOrEqual(frame.y + frame.height + 1);
  await shot(page, "04-answer-box");
  await detail.getByRole("button", { name: "zoom in" }).click();
  await detail.getByRole("button", { name: "zoom in" }).click();
  const zoomed = (await detail.locator("img").boundingBox())!;
  const zoomedRect = (await box.locator("rect").boundingBox())!;
  expect(zoomedRect.width / zoomed.width).toBeCloseTo(rect.width / image.width, 2); // same place
});

test("a KIE sample: per-field table, and every model's fields side by side", async ({ page }) => {
  await open(page, `?run=${KIE_RUN}`);
  await expect(page.getByLabel("run", { exact: true })).toHaveValue(KIE_RUN);
  await page.getByTestId("sample-row").first().click();
  const detail = page.getByTestId("sample-detail");
  const table = detail.getByRole("table", { name: "fields", exact: true });
  await expect(table.getByTestId("field-row")).toHaveCount(4);
  const rows = await table.getByTestId("field-row").evaluateAll((trs) =>
    trs.map((tr) => [...tr.children].map((td) => td.textContent ?? "")),
  );
  expect(rows.map((r) => r[0])).toEqual(["address", "company", "date", "total"]);
  const total = rows.find((r) => r[0] === "total")!;
  // tesseract wrote the decimal point as a comma: the total does not match exactly
  expect(total[2]).toBe(total[1].replace(".", ","));
  expect(total[3]).toBe("0"); // exact_match
  const date = rows.find((r) => r[0] === "date")!;
  expect(date[2]).toBe(date[1]);
  expect(date[3]).toBe("1");
  const all = detail.getByRole("table", { name: "answers of every run" });
  await expect(all.getByTestId("run-column")).toHaveCount(3);
  await expect(all.locator("tbody tr")).toHaveCount(4);
  await expect(all.getByText("missing").first()).toBeVisible(); // rapidocr lost the address
  await fitsWidth(page);
  await loaded(detail.locator("img"));
  await expect(page.getByRole("heading", { name: /#\d+ receipts/ })).toBeVisible();
  await shot(page, "05-kie-sample");
  await all.scrollIntoViewIfNeeded();
  await shot(page, "06-kie-every-run");
});

/** The match count once the server answered a changed filter (it differs from `before`). */
async function settledTotal(page: Page, before: number): Promise<number> {
  const counts = page.getByTestId("counts");
  await expect(counts).toHaveAttribute("data-total", /^\d+$/);
  await expect(counts).not.toHaveAttribute("data-total", String(before));
  await expect(counts).toHaveAttribute("data-loading", "false");
  return Number(await counts.getAttribute("data-total"));
}

test("filters and search run on the server, and the address holds them", async ({ page, browser }) => {
  const asked: URL[] = [];
  page.on("request", (r) => {
    const url = new URL(r.url());
    if (url.pathname === `/api/experiments/${id}/samples`) asked.push(url);
  });
  await open(page);
  await expect(page.getByTestId("counts")).toHaveAttribute("data-total", String(PER_RUN * 6));
  expect(asked.every((u) => Number(u.searchParams.get("offset")) === 0)).toBe(true); // one page, not all
  await page.getByLabel("search").fill("MR. D.I.Y");
  await expect(page).toHaveURL(/q=MR\.\+D\.I\.Y/);
  const total = await settledTotal(page, PER_RUN * 6);
  expect(total).toBeGreaterThan(0);
  expect(total).toBeLessThan(PER_RUN * 6);
  expect(asked.some((u) => u.searchParams.get("q") === "MR. D.I.Y")).toBe(true);
  await page.getByLabel("score metric").selectOption("anls");
  await page.getByLabel("score max").fill("0.5");
  await expect(page).toHaveURL(/score_max=0\.5/);
  await settledTotal(page, total);
  const scores = await page.getByTestId("sample-row").evaluateAll((rows) => rows.length);
  expect(scores).toBeGreaterThan(0);
  const anls = await page.locator('[data-testid="sample-row"]').evaluateAll((rows) =>
    rows.map((r) => r.querySelectorAll('[role="gridcell"]')[5].textContent ?? ""),
  );
  expect(anls.every((v) => Number(v) <= 0.5)).toBe(true);
  await page.getByTestId("sample-row").first().click();
  await expect(page).toHaveURL(/sample=\d+/);
  // the link, opened by a colleague (another browser: asked for a token first), is the same
  // view with the same sample open
  const shared = page.url();
  const count = await page.getByTestId("counts").getAttribute("data-total");
  const otherContext = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const other = await otherContext.newPage();
  await other.goto(shared);
  await other.getByLabel("Token").fill(TOKEN);
  await other.getByRole("button", { name: "Use token" }).click();
  await expect(other.getByTestId("counts")).toHaveAttribute("data-total", count!);
  await expect(other.getByLabel("search")).toHaveValue("MR. D.I.Y");
  await expect(other.getByLabel("score max")).toHaveValue("0.5");
  await expect(other.getByTestId("sample-detail")).toBeVisible();
  await expect(other.locator('[data-testid="sample-row"][aria-selected="true"]')).toHaveCount(1);
  await shot(other, "07-shared-link");
  // a bad bound is named next to the field and not sent
  await other.getByLabel("latency min").fill("slow");
  await expect(other.getByRole("alert")).toContainText("latencyMin: expected a number");
  await otherContext.close(); // else its page outlives this file's server and keeps asking it
});

test("text typed but not yet sent survives a row opened meanwhile", async ({ page }) => {
  await open(page);
  await page.getByLabel("search").fill("MR. D.I.Y");
  await page.getByTestId("sample-row").nth(1).click(); // inside the typing pause: the address changes
  await expect(page.getByLabel("search")).toHaveValue("MR. D.I.Y");
  await expect(page).toHaveURL(/q=MR\.\+D\.I\.Y/);
  await expect(page.getByLabel("search")).toHaveValue("MR. D.I.Y");
});

test("the explorer works under a strict Content-Security-Policy (no inline script or style)", async ({ page }) => {
  // stricter than the server's dashboard policy (which allows inline styles): nothing inline
  const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'";
  await page.route(
    (url) => url.origin === server.url && !url.pathname.startsWith("/api"),
    async (route) => {
      const response = await route.fetch();
      await route.fulfill({ response, headers: { ...response.headers(), "content-security-policy": csp } });
    },
  );
  const violations: string[] = [];
  page.on("console", (m) => {
    if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
  });
  await open(page, `?run=${KIE_RUN}`);
  await page.getByTestId("sample-row").first().click();
  const detail = page.getByTestId("sample-detail");
  await expect(detail.getByRole("table", { name: "fields", exact: true })).toBeVisible();
  await loaded(detail.locator("img"));
  await detail.getByRole("button", { name: "zoom in" }).click();
  await expect(detail.getByTestId("zoom")).toHaveText(/^150%/);
  // the stylesheet applied (a rule from styles.css), and nothing was refused
  expect(await detail.evaluate((el) => getComputedStyle(el).overflowY)).toBe("auto");
  expect(violations).toEqual([]);
});
