/** Nest injection tokens for values built at boot. */
export const GATEWAY_CONFIG = Symbol('GATEWAY_CONFIG');
export const COORDINATION = Symbol('COORDINATION');
