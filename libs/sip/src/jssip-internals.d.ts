/** The one JsSIP internal libs/sip touches (see jssip.ts: the Timer H fix). */
declare module 'jssip/lib/Transactions.js' {
  const transactions: {
    InviteServerTransaction: { prototype: object };
  };
  export default transactions;
}
