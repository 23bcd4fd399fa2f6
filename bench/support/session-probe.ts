/**
 * Observes the bots' JsSIP sessions (this process only) by wrapping `emit` of JsSIP's RTCSession:
 * each session's SDP and when its INVITE leaves. The gateway's JsSIP (another process) is untouched;
 * call uninstall() at the end.
 */
import jssipModule from 'jssip';
import { sdpAudioCodecs } from '@callgate/sip';

export interface ProbedSession {
  session: { readonly id: string; readonly connection?: RTCPeerConnection | null };
  sdp: { originator: string; type: string; codecs: string[] }[];
  /** hrtime when JsSIP emitted `sending` for the initial INVITE (just before it is sent) */
  inviteSentAt?: bigint;
}

type Emit = (this: ProbedSession['session'], event: string | symbol, ...args: unknown[]) => boolean;

/** Wraps `emit` of JsSIP's RTCSession to see each session's SDP and when its INVITE leaves. */
export class SessionProbe {
  private readonly sessions = new Map<string, ProbedSession>();
  private readonly proto: { emit: Emit };
  private readonly hadOwnEmit: boolean;
  private readonly original: Emit;
  private installed = true;

  constructor() {
    const jssip = jssipModule as unknown as { RTCSession: { prototype: { emit: Emit } } };
    this.proto = jssip.RTCSession.prototype;
    this.hadOwnEmit = Object.hasOwn(this.proto, 'emit');
    const original = this.proto.emit;
    this.original = original;
    const sessions = this.sessions;
    this.proto.emit = function (this: ProbedSession['session'], event, ...args) {
      if (event === 'sending' || event === 'sdp') {
        let entry = sessions.get(this.id);
        if (!entry) {
          entry = { session: this, sdp: [] };
          sessions.set(this.id, entry);
        }
        if (event === 'sending') entry.inviteSentAt ??= process.hrtime.bigint();
        else {
          const e = args[0] as { originator: string; type: string; sdp: string };
          entry.sdp.push({ originator: e.originator, type: e.type, codecs: sdpAudioCodecs(e.sdp) });
        }
      }
      return original.call(this, event, ...args);
    };
  }

  session(id: string): ProbedSession | undefined {
    return this.sessions.get(id);
  }

  uninstall(): void {
    if (!this.installed) return;
    this.installed = false;
    if (this.hadOwnEmit) this.proto.emit = this.original;
    else delete (this.proto as Partial<{ emit: Emit }>).emit;
    this.sessions.clear();
  }
}
