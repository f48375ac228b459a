import { captureToken, clearToken, getToken, withToken } from "../src/token";

describe("token", () => {
  beforeEach(() => clearToken());

  it("takes ?token= once, keeps it for the session and removes it from the address bar", () => {
    window.history.replaceState(null, "", "/experiments/3?token=abc&x=1");
    captureToken();
    expect(getToken()).toBe("abc");
    expect(window.location.pathname + window.location.search).toBe("/experiments/3?x=1");
    window.history.replaceState(null, "", "/");
    captureToken(); // no token in the URL: the kept one stays
    expect(getToken()).toBe("abc");
  });

  it("adds the token to URLs the browser fetches by itself", () => {
    expect(withToken("/img", "t k")).toBe("/img?token=t%20k");
    expect(withToken("/img?i=1", "t")).toBe("/img?i=1&token=t");
    expect(withToken("/img", null)).toBe("/img");
  });
});
