/**
 * Runs the tasks given for one key one after another, in the order they were given; tasks of
 * different keys run side by side. A task that fails does not stop the ones after it. A key's
 * entry goes once its last task is done, so idle keys hold nothing.
 */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<void>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const result = (this.tails.get(key) ?? Promise.resolve()).then(task);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }

  /** Whether `key` has a task queued or running. */
  has(key: string): boolean {
    return this.tails.has(key);
  }

  /** Resolves once every task given so far is done, whatever its outcome. */
  async idle(): Promise<void> {
    await Promise.all(this.tails.values());
  }

  /** How many keys have a task queued or running. */
  get busyKeys(): number {
    return this.tails.size;
  }
}
