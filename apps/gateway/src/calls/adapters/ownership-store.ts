import type { AgentRef, OwnershipStore } from '@callgate/calls';
import { preferredInstance, StaleLeaseError, type Coordination } from '@callgate/coordination';

/** libs/calls' ownership store over libs/coordination: the agents' leases and the live instances. */
export class CoordinationOwnershipStore implements OwnershipStore {
  constructor(private readonly coordination: Coordination) {}

  get instanceId(): string {
    return this.coordination.instanceId;
  }

  get leaseMs(): number {
    return this.coordination.leaseMs;
  }

  claim(agent: AgentRef): ReturnType<OwnershipStore['claim']> {
    return this.coordination.leases.claim(agent);
  }

  renew(held: readonly { agent: AgentRef; epoch: number }[]): ReturnType<OwnershipStore['renew']> {
    return this.coordination.leases.renew(held);
  }

  release(agent: AgentRef, epoch: number): Promise<boolean> {
    return this.coordination.leases.release(agent, epoch);
  }

  owners(domain: string, ipphones: readonly string[]): ReturnType<OwnershipStore['owners']> {
    return this.coordination.leases.owners(domain, ipphones);
  }

  recordCall(agent: AgentRef, epoch: number, record: string | null): Promise<boolean> {
    return this.coordination.leases.recordCall(agent, epoch, record);
  }

  heartbeat(): Promise<string[]> {
    return this.coordination.cluster.heartbeat();
  }

  leave(): Promise<void> {
    return this.coordination.cluster.leave();
  }

  preferred(agent: AgentRef, instances: readonly string[]): string | undefined {
    return preferredInstance(agent, instances);
  }

  isStaleLease(err: unknown): err is StaleLeaseError {
    return err instanceof StaleLeaseError;
  }
}
