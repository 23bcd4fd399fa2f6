/** Helpers of the direct-media tests (test/direct-media*.test.ts). */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** The UDP sockets this process holds (inodes of /proc/self/fd that /proc/net/udp{,6} lists). */
export function ownUdpSockets(): number {
  const inodes = new Set<string>();
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
      if (match?.[1]) inodes.add(match[1]);
    } catch {
      // the fd closed between readdir and readlink: not a socket we hold
    }
  }
  let count = 0;
  for (const table of ['/proc/net/udp', '/proc/net/udp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const inode = line.trim().split(/\s+/)[9];
      if (inode && inodes.has(inode)) count++;
    }
  }
  return count;
}
