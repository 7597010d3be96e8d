// The test page's script: the unmodified official SDK, driven by the browser suite
// through `window.app`. Bundled at test time with esbuild (nothing of the SDK is committed).
import {
  HMSReactiveStore,
  selectHMSMessages,
  selectIsConnectedToRoom,
  selectLocalPeer,
  selectPeers,
  selectSpeakers,
  selectTracksMap,
} from "@100mslive/hms-video-store";

// Every peer connection the SDK makes, so that tests can see them connect. This wraps the
// browser's constructor, not the SDK.
const peerConnections = [];
// What the SDK sends on the server's data channel (layer and audio preferences).
const channelRequests = [];
const NativePeerConnection = window.RTCPeerConnection;
window.RTCPeerConnection = function (...args) {
  const connection = new NativePeerConnection(...args);
  const record = { connection, channels: [] };
  connection.addEventListener("datachannel", (event) => {
    record.channels.push(event.channel);
    const send = event.channel.send.bind(event.channel);
    event.channel.send = (data) => {
      channelRequests.push(String(data));
      return send(data);
    };
  });
  const createDataChannel = connection.createDataChannel.bind(connection);
  connection.createDataChannel = (...channelArgs) => {
    const channel = createDataChannel(...channelArgs);
    record.channels.push(channel);
    return channel;
  };
  peerConnections.push(record);
  return connection;
};
window.RTCPeerConnection.prototype = NativePeerConnection.prototype;
Object.setPrototypeOf(window.RTCPeerConnection, NativePeerConnection);

const hms = new HMSReactiveStore();
hms.triggerOnSubscribe();
const actions = hms.getActions();
const store = hms.getStore();
const notifications = [];
hms.getNotifications().onNotification((notification) => {
  notifications.push({ type: notification.type, data: plain(notification.data) });
});

// Notification data may hold SDK objects: keep what a test reads.
function plain(data) {
  if (!data || typeof data !== "object") return data ?? null;
  const kept = {};
  for (const key of ["roomEnded", "reason", "message", "id", "name", "roleName"]) {
    if (key in data && typeof data[key] !== "object") kept[key] = data[key];
  }
  if (data.requestedBy && typeof data.requestedBy === "object") kept.requestedBy = data.requestedBy.name;
  return kept;
}

window.app = {
  // `media`: publish the fake camera and microphone unmuted (else both start muted).
  async join({ base, roomCode, userName, media = false }) {
    const authToken = await actions.getAuthTokenByRoomCode({ roomCode }, { endpoint: `${base}/v2/token` });
    await actions.join({
      userName,
      authToken,
      initEndpoint: base,
      settings: { isAudioMuted: !media, isVideoMuted: !media },
      rememberDeviceSelection: false,
    });
  },
  connected: () => store.getState(selectIsConnectedToRoom),
  localPeer: () => {
    const peer = store.getState(selectLocalPeer);
    return peer ? { id: peer.id, name: peer.name, role: peer.roleName } : null;
  },
  peers: () =>
    store
      .getState(selectPeers)
      .map((peer) => ({ id: peer.id, name: peer.name, role: peer.roleName, isLocal: peer.isLocal })),
  messages: () =>
    store.getState(selectHMSMessages).map((message) => ({
      id: message.id,
      message: message.message,
      sender: message.sender ?? null,
      senderName: message.senderName ?? null,
      recipientPeer: message.recipientPeer ?? null,
      recipientRoles: message.recipientRoles ?? null,
    })),
  notifications: () => notifications.slice(),
  // Each peer connection's state and its data channels' labels and states.
  transports: () =>
    peerConnections.map(({ connection, channels }) => ({
      state: connection.connectionState,
      channels: channels.map((channel) => `${channel.label}:${channel.readyState}`),
    })),
  // Every remote peer's tracks as the SDK's store has them.
  remoteTracks: () => {
    const tracks = store.getState(selectTracksMap);
    return store
      .getState(selectPeers)
      .filter((peer) => !peer.isLocal)
      .map((peer) => ({
        peer: peer.name,
        tracks: [peer.audioTrack, peer.videoTrack, ...(peer.auxiliaryTracks || [])]
          .filter((id) => id && tracks[id])
          .map((id) => ({ id, type: tracks[id].type, source: tracks[id].source, enabled: tracks[id].enabled })),
      }));
  },
  // What the subscribe connection receives, per remote track id (the msid track id),
  // and what the publish connection sends, from the browser's own statistics.
  async mediaStats() {
    const received = {};
    const sent = {};
    const estimates = [];
    for (const { connection } of peerConnections) {
      if (connection.connectionState === "closed") continue;
      const report = await connection.getStats();
      report.forEach((entry) => {
        if (entry.type === "inbound-rtp" && entry.trackIdentifier) {
          received[entry.trackIdentifier] = {
            kind: entry.kind,
            bytesReceived: entry.bytesReceived ?? 0,
            packetsReceived: entry.packetsReceived ?? 0,
            framesDecoded: entry.framesDecoded ?? 0,
            frameWidth: entry.frameWidth ?? 0,
            frameHeight: entry.frameHeight ?? 0,
          };
        }
        if (entry.type === "outbound-rtp") {
          sent[entry.kind] = sent[entry.kind] || [];
          sent[entry.kind].push({
            bytesSent: entry.bytesSent ?? 0,
            frameWidth: entry.frameWidth ?? 0,
            frameHeight: entry.frameHeight ?? 0,
            timestamp: entry.timestamp,
            qualityLimitation: entry.qualityLimitationReason ?? "none",
          });
        }
        // The sender's bandwidth estimate, which the server's transport-wide feedback drives.
        if (entry.type === "candidate-pair" && entry.nominated && entry.availableOutgoingBitrate !== undefined) {
          estimates.push(entry.availableOutgoingBitrate);
        }
      });
    }
    return { received, sent, estimate: Math.max(0, ...estimates) };
  },
  // The media sections of the server's last offer on the subscribe connection: kind,
  // direction and msid of each.
  subscribeSections: () => {
    const subscribe = peerConnections.find(({ connection }) => connection.remoteDescription?.type === "offer");
    if (!subscribe) return null;
    return subscribe.connection.remoteDescription.sdp
      .split("m=")
      .slice(1)
      .filter((section) => section.startsWith("audio") || section.startsWith("video"))
      .map((section) => ({
        kind: section.split(" ")[0],
        direction: (section.match(/a=(sendonly|sendrecv|recvonly|inactive)/) || [])[1],
        msid: (section.match(/a=msid:(\S+ \S+)/) || [])[1] ?? null,
      }));
  },
  // Shows a remote video in an element (the SDK then asks the server for it), or hides it.
  showVideo: async (trackId) => {
    const element = document.createElement("video");
    element.id = `video-${trackId}`;
    element.muted = true;
    // In view and of some size: the SDK attaches a video only when it can be seen.
    element.style.width = "320px";
    element.style.height = "240px";
    document.body.prepend(element);
    await actions.attachVideo(trackId, element);
  },
  hideVideo: async (trackId) => {
    const element = document.getElementById(`video-${trackId}`);
    await actions.detachVideo(trackId, element);
    element.remove();
  },
  channelRequests: () => channelRequests.slice(),
  speakers: () => Object.values(store.getState(selectSpeakers)).map((speaker) => speaker.peerID),
  setVideo: (enabled) => actions.setLocalVideoEnabled(enabled),
  setAudio: (enabled) => actions.setLocalAudioEnabled(enabled),
  setScreenShare: (enabled) => actions.setScreenShareEnabled(enabled),
  sendToAll: (text) => actions.sendBroadcastMessage(text),
  sendToRoles: (text, roles) => actions.sendGroupMessage(text, roles),
  sendToPeer: (text, peerId) => actions.sendDirectMessage(text, peerId),
  removePeer: (peerId, reason) => actions.removePeer(peerId, reason),
  changeName: (name) => actions.changeName(name),
  endRoom: (lock, reason) => actions.endRoom(lock, reason),
  leave: () => actions.leave(),
};
