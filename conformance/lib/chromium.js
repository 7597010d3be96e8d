"use strict";
// Debian's Chromium as every browser suite here launches it: headless, quiet, and with
// nothing that would reach beyond loopback.

const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

/** Flags shared by every suite; each adds its own after these. */
const HEADLESS_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

module.exports = { CHROMIUM, HEADLESS_ARGS };
