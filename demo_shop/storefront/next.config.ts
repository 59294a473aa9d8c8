import type { NextConfig } from "next";

const config: NextConfig = {
  poweredByHeader: false,
  reactStrictMode: true,
  // The build is made once and served with `next start`; the shop's URL is read at request time, not baked in.
  turbopack: { root: __dirname },
};

export default config;
