/**
 * The peer connection JsSIP gets in Node: @roamhq/wrtc's, with two guards. wrtc dispatches its
 * events from native callbacks, so an exception in a listener is an uncaught exception, which stops
 * the process and every call in it. Two such exceptions were seen in a soak run:
 *   - wrtc still fires `icegatheringstatechange` after `close()`, and JsSIP's listener then reads
 *     `localDescription.sdp` of the closed connection (null) — a call ended while it gathered;
 *   - any other bug in a listener.
 * So events of a connection closed by its owner are dropped, and a listener that throws is
 * reported (at error, with the event type) instead of taking the process down.
 */
import { consoleLogger, type SipLogger } from './logger.js';
import { wrtc } from './wrtc.js';

let faults: SipLogger = consoleLogger('sip.webrtc', 'warn');

/** Where listener faults of the guarded peer connections are reported (the gateway's logger). */
export function setWebRtcFaultLogger(logger: SipLogger): void {
  faults = logger;
}

type Listener = EventListenerOrEventListenerObject;

export class GuardedPeerConnection extends wrtc.RTCPeerConnection {
  private closedByOwner = false;
  private readonly wrapped = new Map<string, Map<Listener, EventListener>>();

  override close(): void {
    this.closedByOwner = true;
    super.close();
  }

  override addEventListener(
    type: string,
    listener: Listener | null,
    options?: boolean | AddEventListenerOptions,
  ): void {
    if (listener === null) return;
    const byListener = this.wrapped.get(type) ?? new Map<Listener, EventListener>();
    this.wrapped.set(type, byListener);
    let guarded = byListener.get(listener);
    if (guarded === undefined) {
      guarded = (event: Event): void => {
        if (this.closedByOwner) return;
        try {
          if (typeof listener === 'function') listener.call(this, event);
          else listener.handleEvent(event);
        } catch (err) {
          faults.error(`a '${type}' listener of a peer connection threw; the event is dropped`, {
            error: err instanceof Error ? (err.stack ?? err.message) : String(err),
          });
        }
      };
      byListener.set(listener, guarded);
    }
    super.addEventListener(type, guarded, options);
  }

  override removeEventListener(
    type: string,
    listener: Listener | null,
    options?: boolean | EventListenerOptions,
  ): void {
    if (listener === null) return;
    const guarded = this.wrapped.get(type)?.get(listener);
    if (guarded === undefined) return;
    this.wrapped.get(type)?.delete(listener);
    super.removeEventListener(type, guarded, options);
  }
}
