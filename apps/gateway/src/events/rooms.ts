/** Socket.IO room names, built in one place. */
export const rooms = {
  /** every tab of one agent, on any instance (namespace /agent) */
  agent: (domain: string, ipphone: string): string => `agent:${domain}:${ipphone}`,
  /** every CRM backend subscribed to a domain (namespace /events) */
  domain: (domain: string): string => `domain:${domain}`,
};
