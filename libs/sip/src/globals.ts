/**
 * The globals JsSIP expects from a browser, provided in Node: `window`, `WebSocket`
 * (from `ws`) and the WebRTC classes (from @roamhq/wrtc; the peer connection guarded, see
 * guarded-pc.ts). Installed once, by
 * {@link installNodeWebRtcGlobals}; every entry point of libs/sip calls it.
 */
import { WebSocket as WsWebSocket } from 'ws';
import { GuardedPeerConnection } from './guarded-pc.js';
import { wrtc } from './wrtc.js';

let installed = false;

/**
 * Sets, where they are missing, `globalThis.window` (to `globalThis`: JsSIP reads
 * `window.RTCPeerConnection`), `WebSocket`, `RTCPeerConnection`, `RTCSessionDescription`,
 * `RTCIceCandidate`, `MediaStream` and `MediaStreamTrack`. Existing globals are kept
 * (Node 22 has its own `WebSocket`). Idempotent; returns whether this call installed them.
 */
export function installNodeWebRtcGlobals(): boolean {
  if (installed) return false;
  const scope = globalThis as unknown as Record<string, unknown>;
  const provide = (name: string, value: unknown): void => {
    if (scope[name] === undefined) scope[name] = value;
  };
  provide('WebSocket', WsWebSocket);
  provide('RTCPeerConnection', GuardedPeerConnection);
  provide('RTCSessionDescription', wrtc.RTCSessionDescription);
  provide('RTCIceCandidate', wrtc.RTCIceCandidate);
  provide('MediaStream', wrtc.MediaStream);
  provide('MediaStreamTrack', wrtc.MediaStreamTrack);
  provide('window', globalThis);
  installed = true;
  return true;
}
