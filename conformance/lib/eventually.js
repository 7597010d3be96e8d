"use strict";
// Waiting for what the server does in the background, for every suite here (it needs no
// package). Not a test file (no `.test.js` suffix).

/**
 * Retries `check` (an async assertion) every `everyMs` until it passes, and answers what it
 * answered; once `timeoutMs` have gone by, its last error is thrown.
 */
async function eventually(check, timeoutMs, everyMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  }
}

module.exports = { eventually };
