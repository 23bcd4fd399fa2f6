// The Lua scripts of the Redis store. Each runs atomically in one round trip (ioredis sends
// EVALSHA, and EVAL once per connection or after NOSCRIPT). Keys come from keys.ts.
//
// A voice lock's value is the JSON holder {tabId, instanceId, fence} built here by cjson; the
// store keeps the raw string it got back and renews with an exact compare, so a renewal can
// never extend a grant other than its own. The fence is INCR on a counter key with no TTL, so
// tokens only grow for an agent, even across lock expiries.
//
// Presence scores are expiry times on the Redis server's clock (TIME), so instances with skewed
// clocks agree on what expired.

/** How a script is registered with ioredis' `scripts` option. */
export interface ScriptDefinition {
  numberOfKeys: number;
  lua: string;
}

const GRANT = `
local fence = redis.call('INCR', KEYS[2])
local value = cjson.encode({ tabId = ARGV[1], instanceId = ARGV[2], fence = fence })
redis.call('SET', KEYS[1], value, 'PX', ARGV[3])
`;

const NOW_MS = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

const PRUNE = `redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)`;

/**
 * Whether `instance` may still act under its grant `epoch` of an agent's lease (keys `lease` and
 * `counter`): the lease is that grant, or it lapsed and nobody has been granted it since (its
 * owner's renewal would write it back). Sets `stale` (false or the later epoch) and `current`.
 */
const leaseStill = (lease: string, counter: string, instance: string, epoch: string): string => `
local epoch = tonumber(${epoch})
local owner = redis.call('HGET', ${lease}, 'owner')
local current = tonumber(redis.call('HGET', ${lease}, 'epoch') or '0')
local latest = tonumber(redis.call('GET', ${counter}) or '0')
local stale = false
if owner then
  if owner ~= ${instance} or current ~= epoch then stale = math.max(current, latest) end
elseif latest > epoch then
  stale = latest
end
`;

/**
 * Before a voice grant (KEYS[3] store mark, KEYS[4] quiet; ARGV[2] instanceId, ARGV[4] quietMs):
 * a store without its mark lost its data (a Redis restart without persistence). Every lock held
 * then is gone from it, and its holder's instance writes it back as soon as it reconnects; a grant
 * made before that would give voice to a second tab. So the loss opens a quiet window, and a grant
 * asked meanwhile answers {-1, ms left}: the caller asks again once it is over.
 */
const AFTER_LOSS = `
if redis.call('EXISTS', KEYS[3]) == 0 then
  redis.call('SET', KEYS[3], ARGV[2])
  redis.call('SET', KEYS[4], ARGV[2], 'PX', ARGV[4])
end
local quiet = redis.call('PTTL', KEYS[4])
if quiet > 0 then return { -1, quiet } end
`;

export const scripts = {
  /**
   * KEYS lock, fence, store mark, quiet; ARGV tabId, instanceId, leaseMs, quietMs →
   * {1, value} granted | {0, current} | {-1, ms} after a loss of the store's data (see AFTER_LOSS)
   */
  cgVoiceAcquireIfFree: {
    numberOfKeys: 4,
    lua: `
${AFTER_LOSS}
local current = redis.call('GET', KEYS[1])
if current then return { 0, current } end
${GRANT}
return { 1, value }
`,
  },

  /**
   * KEYS lock, fence, store mark, quiet; ARGV tabId, instanceId, leaseMs, quietMs →
   * {value, previous value or nil} | {-1, ms} after a loss of the store's data (see AFTER_LOSS)
   */
  cgVoiceSteal: {
    numberOfKeys: 4,
    lua: `
${AFTER_LOSS}
local previous = redis.call('GET', KEYS[1])
${GRANT}
return { value, previous }
`,
  },

  /** KEYS lock; ARGV tabId → 1 when that tab held it and it was deleted, else 0 */
  cgVoiceRelease: {
    numberOfKeys: 1,
    lua: `
local current = redis.call('GET', KEYS[1])
if not current then return 0 end
local ok, holder = pcall(cjson.decode, current)
if ok and type(holder) == 'table' and holder.tabId == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
`,
  },

  /**
   * KEYS lock, fence; ARGV exact value held, leaseMs, fence held → 1 renewed | 2 written back (the
   * key was gone: Redis restarted or the lease ran out while nobody took it) | the other holder's value.
   * A written-back grant also lifts the fence counter to it, so no later grant reuses its token.
   */
  cgVoiceRenew: {
    numberOfKeys: 2,
    lua: `
local current = redis.call('GET', KEYS[1])
if current == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if current then return current end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if tonumber(redis.call('GET', KEYS[2]) or '0') < tonumber(ARGV[3]) then redis.call('SET', KEYS[2], ARGV[3]) end
return 2
`,
  },

  /**
   * KEYS lease, epoch, call; ARGV instanceId, leaseMs → {granted 1|0, owner, epoch, lost call or nil}.
   * Free: a new grant (next epoch), handing over and deleting the call record left behind.
   * Already ours: extended as it is. Another's: refused.
   */
  cgLeaseClaim: {
    numberOfKeys: 3,
    lua: `
local owner = redis.call('HGET', KEYS[1], 'owner')
if owner then
  local epoch = tonumber(redis.call('HGET', KEYS[1], 'epoch'))
  if owner ~= ARGV[1] then return { 0, owner, epoch } end
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return { 1, owner, epoch }
end
local epoch = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'epoch', epoch)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
local call = redis.call('GET', KEYS[3])
redis.call('DEL', KEYS[3])
return { 1, ARGV[1], epoch, call }
`,
  },

  /**
   * KEYS lease, epoch; ARGV instanceId, epoch, leaseMs → 1 renewed | 2 written back (the key was
   * gone) | 0 another instance holds it (or a later grant of ours).
   */
  cgLeaseRenew: {
    numberOfKeys: 2,
    lua: `
local owner = redis.call('HGET', KEYS[1], 'owner')
if owner == ARGV[1] and redis.call('HGET', KEYS[1], 'epoch') == ARGV[2] then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return 1
end
if owner then return 0 end
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'epoch', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
if tonumber(redis.call('GET', KEYS[2]) or '0') < tonumber(ARGV[2]) then redis.call('SET', KEYS[2], ARGV[2]) end
return 2
`,
  },

  /** KEYS lease, call; ARGV instanceId, epoch → 1 released (and its call record) | 0 not this grant */
  cgLeaseRelease: {
    numberOfKeys: 2,
    lua: `
if redis.call('HGET', KEYS[1], 'owner') == ARGV[1] and redis.call('HGET', KEYS[1], 'epoch') == ARGV[2] then
  redis.call('DEL', KEYS[1], KEYS[2])
  return 1
end
return 0
`,
  },

  /**
   * KEYS lease, call, lease epoch; ARGV instanceId, epoch, record ('' clears) → 1 written | 0 a
   * later grant exists (the same condition as a conditional event, so a call whose events are
   * stored is recorded too: even while its lease lapsed unclaimed)
   */
  cgLeaseRecordCall: {
    numberOfKeys: 3,
    lua: `
${leaseStill('KEYS[1]', 'KEYS[3]', 'ARGV[1]', 'ARGV[2]')}
if stale then return 0 end
if ARGV[3] == '' then redis.call('DEL', KEYS[2]) else redis.call('SET', KEYS[2], ARGV[3]) end
return 1
`,
  },

  /** KEYS instances; ARGV instanceId, leaseMs → live instance ids (this one refreshed), sorted */
  cgClusterBeat: {
    numberOfKeys: 1,
    lua: `
${NOW_MS}
${PRUNE}
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
local ids = redis.call('ZRANGE', KEYS[1], 0, -1)
table.sort(ids)
return ids
`,
  },

  /**
   * KEYS presence; ARGV tabId, leaseMs → live count. Adds or refreshes the tab; the key itself
   * expires with its longest-lived member, so an agent whose instances all died leaves nothing.
   */
  cgPresenceTouch: {
    numberOfKeys: 1,
    lua: `
${NOW_MS}
${PRUNE}
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], last[2])
return redis.call('ZCARD', KEYS[1])
`,
  },

  /** KEYS presence; ARGV tabId → live count */
  cgPresenceLeave: {
    numberOfKeys: 1,
    lua: `
redis.call('ZREM', KEYS[1], ARGV[1])
${NOW_MS}
${PRUNE}
return redis.call('ZCARD', KEYS[1])
`,
  },

  /** KEYS presence → live count (expired members pruned) */
  cgPresenceCount: {
    numberOfKeys: 1,
    lua: `
${NOW_MS}
${PRUNE}
return redis.call('ZCARD', KEYS[1])
`,
  },

  /** KEYS agent; ARGV deviceType, '1' | '0' (has mobile), mobile → HGETALL after the write */
  cgAgentSetDevice: {
    numberOfKeys: 1,
    lua: `
redis.call('HSET', KEYS[1], 'deviceType', ARGV[1])
if ARGV[2] == '1' then
  redis.call('HSET', KEYS[1], 'mobile', ARGV[3])
else
  redis.call('HDEL', KEYS[1], 'mobile')
end
return redis.call('HGETALL', KEYS[1])
`,
  },

  /** KEYS agent; ARGV default status → the new status */
  cgAgentToggleCallStatus: {
    numberOfKeys: 1,
    lua: `
local current = redis.call('HGET', KEYS[1], 'callStatus')
if current ~= 'on' and current ~= 'off' and current ~= 'noAnswer' then current = ARGV[1] end
local next_status = 'on'
if current == 'on' then next_status = 'off' end
redis.call('HSET', KEYS[1], 'callStatus', next_status)
return next_status
`,
  },

  /**
   * KEYS domain log, agent log, lease, lease epoch, lease call; ARGV domain max length, agent max
   * length, agent log ttl ms, body, lease epoch ('' for none), '1' | '0' (ends the call),
   * instanceId → the id, or (a number) the later epoch that refused it. One step, so an agent's
   * partition receives its events in the domain log's order, and a conditional event is stored
   * only while the writer may still act under that grant (see leaseStill); an event ending the
   * call also clears the call record kept with the lease.
   */
  cgEventAppend: {
    numberOfKeys: 5,
    lua: `
if ARGV[5] ~= '' then
  ${leaseStill('KEYS[3]', 'KEYS[4]', 'ARGV[7]', 'ARGV[5]')}
  if stale then return stale end
  if ARGV[6] == '1' then redis.call('DEL', KEYS[5]) end
end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'e', ARGV[4])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], id, 'e', ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return id
`,
  },
} satisfies Record<string, ScriptDefinition>;

export type ScriptName = keyof typeof scripts;
