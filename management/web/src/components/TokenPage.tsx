import { useState } from "react";
import { setToken } from "../token";

/** Shown when there is no token for this browser session, or the server rejected it. */
export function TokenPage({ rejected, onToken }: { rejected: boolean; onToken: (token: string) => void }) {
  const [value, setValue] = useState("");
  return (
    <div className="token-page" role="main">
      <h1>{rejected ? "The server rejected the token" : "A token is needed"}</h1>
      <p>
        {rejected
          ? "The token kept for this session is missing on the server or wrong. "
          : "This dashboard talks to vlmhb-server, which accepts only requests with a token. "}
        Open the dashboard as <code>http://HOST:PORT/?token=YOUR_TOKEN</code> once (the token is then
        kept for this browser session), or paste it here. Tokens come from{" "}
        <code>VLMHB_SERVER_TOKEN</code> or <code>vlmhb-server token create</code>.
      </p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (!value.trim()) return;
          setToken(value.trim());
          onToken(value.trim());
        }}
      >
        <label>
          Token <input type="password" value={value} onChange={(e) => setValue(e.target.value)} autoFocus />
        </label>
        <button type="submit">Use token</button>
      </form>
    </div>
  );
}
