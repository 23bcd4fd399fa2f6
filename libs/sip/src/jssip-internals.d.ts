/**
 * The JsSIP 3.13 internals libs/sip touches, typed here and checked at run time where they are
 * used: the INVITE server transaction (jssip.ts, the Timer H fix) and the RTCSession members
 * behind SipCall's offerless re-INVITE (offerless-reinvite.ts, RFC 3725 flow I).
 */
declare module 'jssip/lib/Transactions.js' {
  const transactions: {
    InviteServerTransaction: { prototype: object };
  };
  export default transactions;
}

declare module 'jssip/lib/RTCSession.js' {
  /** What an in-dialog request's sender reports (JsSIP's Dialog/RequestSender). */
  export interface InDialogHandlers {
    onSuccessResponse?: (response: InDialogResponse) => void;
    onErrorResponse?: (response: InDialogResponse) => void;
    onTransportError?: () => void;
    onRequestTimeout?: () => void;
    onDialogError?: () => void;
  }

  /** The parts of an IncomingResponse read here. */
  export interface InDialogResponse {
    readonly status_code: number;
    readonly body: string | null | undefined;
    hasHeader(name: string): boolean;
    getHeader(name: string): string | undefined;
  }

  /**
   * RTCSession members of JsSIP 3.13.8 used to send a re-INVITE without SDP and answer in the
   * ACK (JsSIP's own _sendReinvite always offers). Instance fields are read per session.
   */
  export interface RTCSessionInternals {
    /** Sends an in-dialog request; an ACK takes the CSeq of the last INVITE sent (Dialog._createRequest). */
    sendRequest(
      method: 'INVITE' | 'ACK',
      options: { extraHeaders?: string[]; body?: string; eventHandlers?: InDialogHandlers },
    ): unknown;
    isReadyToReOffer(): boolean;
    isEnded(): boolean;
    /** End the session as JsSIP does when an in-dialog request fails that way. */
    onTransportError(): void;
    onRequestTimeout(): void;
    onDialogError(): void;
    _handleSessionTimersInIncomingResponse(response: InDialogResponse): void;
    /** Our Contact header value. */
    _contact: string;
    _sessionTimers: { running: boolean; currentExpires: number; refresher: boolean };
    /** False while JsSIP (or we) negotiate: isReadyToReOffer() is then false. */
    _rtcReady: boolean;
  }

  const RTCSession: { prototype: RTCSessionInternals };
  export default RTCSession;
}
