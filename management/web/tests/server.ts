/**
 * A real HTTP server on 127.0.0.1 for the data hooks' tests: it answers the routes the hooks
 * call with the shapes vlmhb-server gives (the browser tests use the real vlmhb-server).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export type Handler = (req: IncomingMessage, url: URL, res: ServerResponse) => unknown;

export interface TestServer {
  url: string;
  requests: { method: string; path: string; auth: string | undefined }[];
  close: () => Promise<void>;
}

export async function serve(handler: Handler): Promise<TestServer> {
  const requests: TestServer["requests"] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    requests.push({ method: req.method ?? "GET", path: url.pathname + url.search, auth: req.headers.authorization });
    const body = handler(req, url, res);
    if (!res.headersSent) {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    }
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise((ok) => server.close(() => ok())),
  };
}

export function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}
