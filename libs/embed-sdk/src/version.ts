/** Replaced by the bundler (`scripts/build-sdk.js` defines it from package.json). */
declare const __CALLGATE_VERSION__: string | undefined;

/** The SDK's version: the package version in a bundle, `0.0.0-dev` when run from the sources. */
export const VERSION: string = typeof __CALLGATE_VERSION__ === 'string' ? __CALLGATE_VERSION__ : '0.0.0-dev';
