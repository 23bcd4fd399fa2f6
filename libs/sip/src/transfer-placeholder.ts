/**
 * The session name of a transfer's placeholder offer (`transferPlaceholderOffer()` in
 * sdp-media.ts), and how its receiver recognises one no media relay rewrote. Browser-safe and
 * small: the in-page phone refuses such an offer before it rings.
 */
export const TRANSFER_PLACEHOLDER_NAME = 'callgate transfer placeholder';

const PLACEHOLDER_SESSION_NAME = new RegExp(`^s=${TRANSFER_PLACEHOLDER_NAME}\\r?$`, 'm');

/**
 * Whether `sdp` is a transfer placeholder as it was sent: our session name, and still its own
 * address and port (127.0.0.1, port 9, plain RTP), which a relay would have replaced with its own.
 * The placeholder then serves no purpose: its receiver answers 488 for the customer's own offer.
 */
export function isUnrelayedTransferPlaceholder(sdp: string): boolean {
  return (
    PLACEHOLDER_SESSION_NAME.test(sdp) &&
    /^c=IN IP4 127\.0\.0\.1\r?$/m.test(sdp) &&
    /^m=audio 9 RTP\/AVP /m.test(sdp)
  );
}
