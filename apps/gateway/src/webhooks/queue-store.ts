// Where webhook deliveries wait: one FIFO queue per domain and URL, a leader per queue (the one
// instance that sends its head, so deliveries stay in order), and the domain's dead letters.
// In Redis when REDIS_URL is set (a list per queue under the key prefix, so an instance that dies
// loses nothing: another one leads the queue once the lead lapses); in memory otherwise.
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';

/** A queue: the domain and the webhook URL it feeds. */
export interface QueueRef {
  domain: string;
  url: string;
}

export interface WebhookQueueStore {
  push(queue: QueueRef, item: string): Promise<void>;
  /** Takes or renews the lead of a queue for `ttlMs`; false when another instance holds it. */
  lead(queue: QueueRef, ttlMs: number): Promise<boolean>;
  peek(queue: QueueRef): Promise<string | null>;
  /**
   * Removes the head if it is still `item` and this instance still leads the queue (a lead that
   * lapsed during a slow POST, and another instance that sent and removed the item, remove nothing
   * more: the next item is never lost).
   */
  pop(queue: QueueRef, item: string): Promise<void>;
  /** Moves the head, if still `item`, to the domain's dead letters (newest first, at most `keep`), if still leader. */
  deadLetter(queue: QueueRef, item: string, record: string, keep: number): Promise<void>;
  deadLetters(domain: string, limit: number): Promise<string[]>;
  release(queue: QueueRef): Promise<void>;
  close(): Promise<void>;
}

const queueId = (q: QueueRef): string =>
  `${q.domain}:${createHash('sha256').update(q.url).digest('hex').slice(0, 16)}`;

export class MemoryQueueStore implements WebhookQueueStore {
  private readonly queues = new Map<string, string[]>();
  private readonly dead = new Map<string, string[]>();

  push(queue: QueueRef, item: string): Promise<void> {
    const id = queueId(queue);
    const list = this.queues.get(id) ?? [];
    list.push(item);
    this.queues.set(id, list);
    return Promise.resolve();
  }
  lead(): Promise<boolean> {
    return Promise.resolve(true);
  }
  peek(queue: QueueRef): Promise<string | null> {
    return Promise.resolve(this.queues.get(queueId(queue))?.[0] ?? null);
  }
  pop(queue: QueueRef, item: string): Promise<void> {
    const list = this.queues.get(queueId(queue));
    if (list?.[0] === item) list.shift();
    return Promise.resolve();
  }
  deadLetter(queue: QueueRef, item: string, record: string, keep: number): Promise<void> {
    const list = this.queues.get(queueId(queue));
    if (list?.[0] !== item) return Promise.resolve();
    list.shift();
    this.dead.set(queue.domain, [record, ...(this.dead.get(queue.domain) ?? [])].slice(0, keep));
    return Promise.resolve();
  }
  deadLetters(domain: string, limit: number): Promise<string[]> {
    return Promise.resolve((this.dead.get(domain) ?? []).slice(0, limit));
  }
  release(): Promise<void> {
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

const LEAD = `
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if not v then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return 0`;
const POP_IF_LEADER = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if redis.call('LINDEX', KEYS[2], 0) ~= ARGV[2] then return 0 end
redis.call('LPOP', KEYS[2])
return 1`;
const DEAD_IF_LEADER = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if redis.call('LINDEX', KEYS[2], 0) ~= ARGV[2] then return 0 end
redis.call('LPOP', KEYS[2])
redis.call('LPUSH', KEYS[3], ARGV[3])
redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[4]) - 1)
return 1`;
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

export class RedisQueueStore implements WebhookQueueStore {
  private readonly client: Redis;

  constructor(
    url: string,
    private readonly prefix: string,
    private readonly instanceId: string,
    onError: (err: Error) => void,
  ) {
    this.client = new Redis(url, {
      maxRetriesPerRequest: 1,
      connectionName: `callgate:${instanceId}:webhooks`,
    });
    this.client.on('error', onError);
  }

  private keys(q: QueueRef): { lock: string; list: string; dead: string } {
    const id = queueId(q);
    return {
      lock: `${this.prefix}webhooks:lead:${id}`,
      list: `${this.prefix}webhooks:queue:${id}`,
      dead: `${this.prefix}webhooks:dead:${q.domain}`,
    };
  }

  async push(queue: QueueRef, item: string): Promise<void> {
    await this.client.rpush(this.keys(queue).list, item);
  }
  async lead(queue: QueueRef, ttlMs: number): Promise<boolean> {
    return (await this.client.eval(LEAD, 1, this.keys(queue).lock, this.instanceId, ttlMs)) === 1;
  }
  peek(queue: QueueRef): Promise<string | null> {
    return this.client.lindex(this.keys(queue).list, 0);
  }
  async pop(queue: QueueRef, item: string): Promise<void> {
    const k = this.keys(queue);
    await this.client.eval(POP_IF_LEADER, 2, k.lock, k.list, this.instanceId, item);
  }
  async deadLetter(queue: QueueRef, item: string, record: string, keep: number): Promise<void> {
    const k = this.keys(queue);
    await this.client.eval(DEAD_IF_LEADER, 3, k.lock, k.list, k.dead, this.instanceId, item, record, keep);
  }
  deadLetters(domain: string, limit: number): Promise<string[]> {
    return this.client.lrange(`${this.prefix}webhooks:dead:${domain}`, 0, limit - 1);
  }
  async release(queue: QueueRef): Promise<void> {
    await this.client.eval(RELEASE, 1, this.keys(queue).lock, this.instanceId);
  }
  async close(): Promise<void> {
    await this.client.quit().catch(() => this.client.disconnect());
  }
}
