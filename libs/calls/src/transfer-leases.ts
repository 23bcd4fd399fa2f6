import type { Reservation, StoredTransfer, TransferStore } from '@callgate/coordination';
import type { AgentRef } from './ports.js';

/** What the shared store keeps of an agent transfer, so that another instance can finish it. */
export interface LeasedTransfer {
  transferId: string;
  customerCallId: string;
  domain: string;
  /** the source agent's extension */
  from: string;
  /** the target agent's extension */
  to: string;
  targetUser: string;
  /** the source's call: on the gateway (`server`, it dies with its home) or in its voice tab */
  source: { side: 'server' | 'browser'; callId: string; customerCallId: string; phone: string };
  /** when the request lapses (epoch ms) */
  expiresAtMs: number;
  /** `accepted`: the customer is being moved; its outcome was the old home's to hear */
  state: 'pending' | 'accepted';
}

const isText = (value: unknown): value is string => typeof value === 'string';

/** The record in a stored body, or null when the body is not one (written by something else). */
export function decodeLeasedTransfer(body: string): LeasedTransfer | null {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const r = value as Record<string, unknown>;
  const source = r.source as Record<string, unknown> | null | undefined;
  const ok =
    isText(r.transferId) &&
    isText(r.customerCallId) &&
    isText(r.domain) &&
    isText(r.from) &&
    isText(r.to) &&
    isText(r.targetUser) &&
    typeof r.expiresAtMs === 'number' &&
    (r.state === 'pending' || r.state === 'accepted') &&
    typeof source === 'object' &&
    source !== null &&
    (source.side === 'server' || source.side === 'browser') &&
    isText(source.callId) &&
    isText(source.customerCallId) &&
    isText(source.phone);
  return ok ? (value as LeasedTransfer) : null;
}

/** What the transfer service does when the keeper renews, loses or adopts a transfer. */
export interface TakeoverHooks {
  /** Whether this instance should finish an orphan now (else another instance, or a later tick). */
  wants(transfer: LeasedTransfer): Promise<boolean>;
  /** This instance became the orphan's home: finish it (its old home is gone). */
  adopted(transfer: LeasedTransfer): Promise<void>;
  /** Another instance took a transfer this one ran (this one was frozen past the lease): drop it silently. */
  lost(transferId: string): void;
}

export interface KeeperLogger {
  log(message: string): void;
  warn(message: string): void;
}

interface Held {
  target: AgentRef;
  /** ended here, but the store has not yet confirmed its removal: retried every tick */
  finished: boolean;
}

/**
 * Keeps this instance's agent transfers in the shared store: reserves their target, renews their
 * lease every `everyMs`, removes them when they end, and on each tick adopts orphans (transfers
 * whose home stopped renewing) that `hooks.wants`. A failure of the store (Redis restarting) is
 * logged and retried on the next tick; a transfer is renewed until its removal is confirmed, so
 * no other instance adopts (and announces again) a transfer that already ended here.
 */
export class TransferLeaseKeeper {
  private readonly held = new Map<string, Held>();
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly store: TransferStore,
    private readonly everyMs: number,
    private readonly logger: KeeperLogger,
    private readonly hooks: TakeoverHooks,
  ) {}

  start(): void {
    if (this.stopped || this.timer !== null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.tick()
        .catch((err: unknown) => this.logger.warn(`transfer leases: ${String(err)}`))
        .finally(() => this.start());
    }, this.everyMs);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.held.clear();
  }

  /** Reserves the target for a new transfer homed here. */
  async reserve(target: AgentRef, transfer: LeasedTransfer): Promise<Reservation> {
    const reservation = await this.store.reserve(target, transfer.transferId, JSON.stringify(transfer));
    if (reservation.reserved) this.held.set(transfer.transferId, { target, finished: false });
    return reservation;
  }

  /** Records a state change (the target accepted); a failure is logged, the transfer goes on. */
  async update(transfer: LeasedTransfer): Promise<void> {
    if (!this.held.has(transfer.transferId)) return;
    await this.store
      .update(transfer.transferId, JSON.stringify(transfer))
      .catch((err: unknown) =>
        this.logger.warn(`transfer ${transfer.transferId}: the store missed its new state: ${String(err)}`),
      );
  }

  /** The transfer ended here: frees its target (now, or on a later tick if the store is away). */
  async finish(transferId: string): Promise<void> {
    const held = this.held.get(transferId);
    if (!held) return;
    held.finished = true;
    await this.remove(transferId, held);
  }

  private async remove(transferId: string, held: Held): Promise<void> {
    try {
      await this.store.finish(transferId, held.target);
      this.held.delete(transferId);
    } catch (err) {
      this.logger.warn(
        `transfer ${transferId}: its target stays reserved until the store answers: ${String(err)}`,
      );
    }
  }

  private async tick(): Promise<void> {
    const ids = [...this.held.keys()];
    if (ids.length > 0) {
      const renewed = await this.store.renew(ids);
      ids.forEach((id, i) => {
        if (renewed[i]) return;
        this.held.delete(id);
        this.logger.warn(`transfer ${id}: another instance runs it now`);
        this.hooks.lost(id);
      });
      for (const [id, held] of [...this.held]) if (held.finished) await this.remove(id, held);
    }
    for (const orphan of await this.store.orphans()) await this.takeOver(orphan);
  }

  private async takeOver(orphan: StoredTransfer): Promise<void> {
    const transfer = decodeLeasedTransfer(orphan.body);
    if (transfer === null) {
      // Not ours to run (nor anyone's): free its target rather than keep it reserved forever.
      if ((await this.store.adopt(orphan.transferId)) !== null) {
        this.logger.warn(`transfer ${orphan.transferId}: unreadable record removed`);
        await this.store.finish(orphan.transferId, orphan.target);
      }
      return;
    }
    if (!(await this.hooks.wants(transfer))) return;
    const adopted = await this.store.adopt(orphan.transferId);
    if (adopted === null) return; // another instance was quicker
    this.held.set(orphan.transferId, { target: orphan.target, finished: false });
    this.logger.log(`transfer ${orphan.transferId}: adopted from ${orphan.home}, which stopped renewing it`);
    try {
      await this.hooks.adopted(transfer);
    } catch (err) {
      this.logger.warn(`transfer ${orphan.transferId}: could not be finished after adoption: ${String(err)}`);
      await this.finish(orphan.transferId);
    }
  }
}
