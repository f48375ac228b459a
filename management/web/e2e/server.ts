/**
 * The real vlmhb-server as a process on 127.0.0.1 for the browser tests: a fresh work dir and
 * SQLite database, the repository's registries (RUN_MODE=dev: local packages), a known token.
 *
 * VLMHB_SERVER_PYTHON: a Python that has vlmhb-server installed (the nox `web` session's).
 * VLMHB_WEB_REGISTRIES: another registries folder (default: the repository's registries/).
 * VLMHB_WEB_WORKER: a worker module for the server's --worker-module (default: the real one).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, openSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const TOKEN = "web-e2e-token-4b1d";
const HERE = dirname(fileURLToPath(import.meta.url));
export const REPO = resolve(HERE, "../../..");

export function python(): string {
  const found = process.env.VLMHB_SERVER_PYTHON;
  if (!found) {
    throw new Error(
      "VLMHB_SERVER_PYTHON is not set: point it at a Python with vlmhb-server installed " +
        "(python3 -m nox -s web does this), e.g. .nox/web/bin/python",
    );
  }
  return found;
}

async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? ok(address.port) : fail(new Error("no port"))));
    });
  });
}

export interface RunningServer {
  url: string;
  workdir: string;
  process: ChildProcess;
  log: string;
}

export async function startServer(): Promise<RunningServer> {
  const workdir = mkdtempSync(join(tmpdir(), "vlmhb-web-e2e-"));
  const port = await freePort();
  const log = join(workdir, "server.log");
  const out = openSync(log, "a");
  const args = [
    "-m", "vlmhb_server", "serve",
    "--host", "127.0.0.1",
    "--port", String(port),
    "--workdir", workdir,
    "--registries", process.env.VLMHB_WEB_REGISTRIES ?? join(REPO, "registries"),
    "--mode", "dev",
  ];
  if (process.env.VLMHB_WEB_WORKER) args.push("--worker-module", process.env.VLMHB_WEB_WORKER);
  const child = spawn(python(), args, {
    env: { ...process.env, VLMHB_SERVER_TOKEN: TOKEN, RUN_MODE: "dev" },
    stdio: ["ignore", out, out],
    cwd: REPO,
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`vlmhb-server exited with ${child.exitCode}:\n${readFileSync(log, "utf8")}`);
    try {
      if ((await fetch(`${url}/api/health`)).ok) return { url, workdir, process: child, log };
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  child.kill();
  throw new Error(`vlmhb-server did not answer in 60 s:\n${readFileSync(log, "utf8")}`);
}

export async function stopServer(server: RunningServer): Promise<void> {
  if (server.process.exitCode !== null) return;
  const exited = new Promise((r) => server.process.once("exit", r));
  server.process.kill("SIGTERM");
  await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))]);
  if (server.process.exitCode === null) server.process.kill("SIGKILL");
}

export async function apiCall<T>(server: RunningServer, path: string, init: RequestInit = {}): Promise<T> {
  const request = () =>
    fetch(server.url + path, {
      ...init,
      headers: { Authorization: `Bearer ${TOKEN}`, "content-type": "application/json", ...(init.headers ?? {}) },
    });
  // a kept-alive socket the server closed while idle fails before the request is sent: once more
  const response = await request().catch(() => request());
  const text = await response.text();
  if (!response.ok) throw new Error(`${init.method ?? "GET"} ${path}: ${response.status} ${text}`);
  return JSON.parse(text) as T;
}

/** A work dir with `perRun` samples in each of its 4 runs, imported through POST /api/import. */
export async function importSamples(server: RunningServer, perRun: number, name: string): Promise<number> {
  // inside the server's work dir: the only folder it imports from by default (--import-root)
  const workdir = mkdtempSync(join(server.workdir, "import-"));
  const made = spawnSync(python(), [join(HERE, "fill_workdir.py"), workdir, String(perRun), name], { encoding: "utf8" });
  if (made.status !== 0) throw new Error(`fill_workdir.py failed: ${made.stderr}`);
  const result = await apiCall<{ imported: { id: number; samples: number }[] }>(server, "/api/import", {
    method: "POST",
    body: JSON.stringify({ workdir }),
  });
  return result.imported[0].id;
}
