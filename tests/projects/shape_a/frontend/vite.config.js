// The real dev server's config (the container runs dev_server.py, a stand-in: no Node in
// our images). /api and /media go to the backend named by VITE_API_PROXY_TARGET.
import { defineConfig } from "vite";

const target = process.env.VITE_API_PROXY_TARGET ?? "http://localhost:8000";

export default defineConfig({
  server: {
    host: "0.0.0.0",
    port: 5173,
    proxy: {
      "/api": { target, changeOrigin: true },
      "/media": { target, changeOrigin: true },
    },
  },
});
