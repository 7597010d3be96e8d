"use strict";
// Media through openhms's SFU: the official web SDK publishes Chromium's fake camera and
// microphone, and each peer decodes what the others publish, as their roles allow.

const assert = require("node:assert/strict");
const { after, before, test } = require("node:test");
const { api, browserSession, join, roomWithCodes, waitInPage } = require("../lib/harness");

const session = browserSession({ before, after });

const statsOf = () => window.app.mediaStats();
const remoteTracksOf = () => window.app.remoteTracks();

/** The remote tracks `page` has of the peer named `name`. */
async function tracksOf(page, name, accept, what) {
  const all = await waitInPage(
    page,
    remoteTracksOf,
    (list) => accept(list.find((peer) => peer.peer === name)?.tracks ?? []),
    null,
    what,
  );
  return all.find((peer) => peer.peer === name).tracks;
}

/** Waits until `page` decodes more than `frames` frames of the video track `trackId`. */
async function decodes(page, trackId, frames, what, timeoutMs) {
  const stats = await waitInPage(
    page,
    statsOf,
    (s) => (s.received[trackId]?.framesDecoded ?? 0) > frames,
    null,
    what,
    timeoutMs,
  );
  return stats.received[trackId];
}

const cameraAndMicrophone = (tracks) =>
  tracks.some((t) => t.type === "video" && t.source === "regular") && tracks.some((t) => t.type === "audio");

test("two peers publish camera and microphone, and each decodes the other's video at its size and hears its audio", async () => {
  const { room, codes } = await roomWithCodes(`media-two-${Date.now()}`);
  const alice = await session.open();
  const bob = await session.open();
  await join(alice, codes.host, "Alice", { media: true });
  await join(bob, codes.guest, "Bob", { media: true });

  for (const [page, other] of [[alice, "Bob"], [bob, "Alice"]]) {
    const tracks = await tracksOf(page, other, cameraAndMicrophone, `${other}'s camera and microphone`);
    const video = tracks.find((t) => t.type === "video");
    const audio = tracks.find((t) => t.type === "audio");
    const first = await decodes(page, video.id, 10, `${other}'s video to decode`);
    const later = await decodes(page, video.id, first.framesDecoded + 30, `${other}'s video to keep decoding`);
    assert.ok(later.framesDecoded > first.framesDecoded);
    // The size the publisher sends is the size decoded: forwarded as it was sent.
    const publisher = page === alice ? bob : alice;
    const sentStats = await publisher.evaluate(() => window.app.mediaStats());
    const sentVideo = sentStats.sent.video.find((s) => s.frameWidth > 0);
    assert.ok(sentVideo, "the publisher sends video");
    assert.deepEqual([later.frameWidth, later.frameHeight], [sentVideo.frameWidth, sentVideo.frameHeight]);
    const heard = await waitInPage(page, statsOf, (s) => (s.received[audio.id]?.bytesReceived ?? 0) > 0, null, `${other}'s audio`);
    await waitInPage(
      page,
      statsOf,
      (s) => s.received[audio.id].bytesReceived > heard.received[audio.id].bytesReceived,
      null,
      `${other}'s audio to keep arriving`,
    );
  }

  // The REST API lists each peer's real tracks.
  const listed = await api("GET", `/active-rooms/${room.id}/peers`);
  assert.equal(listed.status, 200);
  for (const peer of Object.values(listed.body.peers)) {
    const one = await api("GET", `/active-rooms/${room.id}/peers/${peer.id}`);
    assert.equal(one.status, 200);
    const kinds = Object.values(one.body.tracks).map((t) => `${t.type}/${t.source}/${t.mute}`).sort();
    assert.deepEqual(kinds, ["audio/regular/false", "video/regular/false"]);
  }
});
