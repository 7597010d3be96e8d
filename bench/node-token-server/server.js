// The token server a typical 100ms backend runs, as in 100ms's sample backend and its
// docs' "generate an auth token" example: Express, `jsonwebtoken`, one POST that mints an
// app token (HS256) for a room, role and user. openhms replaces it with the room-code
// exchange (`POST /v2/token`); the benchmark drives both with the same load generator.
//
// Env: HMS_ACCESS_KEY, HMS_SECRET, PORT (0 picks a free one; the address is printed).

"use strict";

const crypto = require("crypto");
const express = require("express");
const jwt = require("jsonwebtoken");

const accessKey = process.env.HMS_ACCESS_KEY;
const secret = process.env.HMS_SECRET;
if (!accessKey || !secret) {
  console.error("set HMS_ACCESS_KEY and HMS_SECRET");
  process.exit(2);
}

const app = express();
app.use(express.json());

// 100ms's sample passes the app secret as a string. jsonwebtoken 9 then first tries to
// parse it as a PEM private key, which throws, for every token: most of the sample's cost.
// `/api/token-keyobject` is the same with the key made once, the fastest this stack gets.
const secretKey = crypto.createSecretKey(Buffer.from(secret));

app.post("/api/token", (req, res) => mint(req, res, secret));
app.post("/api/token-keyobject", (req, res) => mint(req, res, secretKey));

function mint(req, res, key) {
  const { room_id, role, user_id } = req.body || {};
  if (!room_id || !role) {
    return res.status(400).json({ success: false, msg: "room_id and role are required" });
  }
  const now = Math.floor(Date.now() / 1000);
  const payload = {
    access_key: accessKey,
    room_id,
    user_id: user_id || crypto.randomUUID(),
    role,
    type: "app",
    version: 2,
    iat: now,
    nbf: now,
  };
  // The synchronous form: cheaper than the callback form some samples use.
  const token = jwt.sign(payload, key, { algorithm: "HS256", expiresIn: "24h", jwtid: crypto.randomUUID() });
  res.json({ token, msg: "token generated successfully", success: true });
}

const server = app.listen(Number(process.env.PORT || 0), "127.0.0.1", () => {
  const { address, port } = server.address();
  console.log(`node token server listening on http://${address}:${port}`);
});

const stop = () => server.close(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
