/**
 * A TCP port free on the loopback interface right now (the lab's helper: the kernel picks one for
 * a listener on port 0, closed again). Another process may take it before the caller binds it,
 * so callers that start servers on it retry with a new port when binding fails.
 */
export { freeTcpPort as freePort } from '../../apps/lab/src/ports.js';
