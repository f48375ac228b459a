/**
 * The API token: given once as `/?token=...` (like a notebook server's URL), then kept in
 * sessionStorage so deep links and reloads work without putting it in every URL, and removed
 * from the address bar so it is not shared by copy-paste or kept in history.
 */
const KEY = "vlmhb.token";

export function captureToken(loc: Location = window.location, storage: Storage = sessionStorage): void {
  const params = new URLSearchParams(loc.search);
  const token = params.get("token");
  if (!token) return;
  storage.setItem(KEY, token);
  params.delete("token");
  const query = params.toString();
  window.history.replaceState(null, "", loc.pathname + (query ? `?${query}` : "") + loc.hash);
}

export function getToken(storage: Storage = sessionStorage): string | null {
  return storage.getItem(KEY);
}

export function setToken(token: string, storage: Storage = sessionStorage): void {
  storage.setItem(KEY, token);
}

export function clearToken(storage: Storage = sessionStorage): void {
  storage.removeItem(KEY);
}

/** A URL the browser fetches by itself (<img>, WebSocket), which cannot carry a header. */
export function withToken(url: string, token: string | null = getToken()): string {
  if (!token) return url;
  return url + (url.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(token);
}
