/// <reference types="vitest" />
import { fileURLToPath } from "node:url";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The build lands inside the server package, so `pip install ./management/server` ships the UI.
const outDir = fileURLToPath(
  new URL("../server/src/vlmhb_server/static", import.meta.url),
);

export default defineConfig({
  plugins: [react()],
  build: {
    outDir,
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 1500, // plotly.js-cartesian-dist-min (cartesian bundle: bar, box, scatter, heatmap) is one chunk, loaded lazily
  },
  server: {
    // `npm run dev` talks to a vlmhb-server on 8080 (VLMHB_SERVER overrides)
    proxy: {
      "/api": { target: process.env.VLMHB_SERVER ?? "http://127.0.0.1:8080", ws: true },
    },
  },
  test: {
    environment: "jsdom",
    globals: true,
    include: ["tests/**/*.test.{ts,tsx}"],
    setupFiles: ["tests/setup.ts"],
  },
});
