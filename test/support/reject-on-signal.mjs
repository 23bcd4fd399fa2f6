// Preloaded into a gateway process by test/last-resort.test.ts (NODE_OPTIONS=--import): on SIGUSR2
// it leaves a rejected promise nobody handles, as a bug in any handler would. Without the
// gateway's last-resort guard, Node exits on it.
process.on('SIGUSR2', () => {
  void Promise.reject(new Error('test: a rejection no handler caught'));
});
// On SIGURG it throws from a timer callback, as a fault in a native callback (wrtc, ws) would.
process.on('SIGURG', () => {
  setTimeout(() => {
    throw new Error('test: an exception no handler caught');
  }, 0);
});
