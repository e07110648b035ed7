/**
 * Users in the model's memory are only those of the micro-batches (and corrections) in flight: each reloads its
 * users from Redis, so keeping them afterwards would only let memory grow with every user ever seen, the users of
 * revoked partitions included. `with` is the one way to work on users: they are dropped from the model when the
 * last piece of work holding them ends, however it ends. Counted, because partitions run concurrently and one user
 * may appear on two of them.
 */
export class UsersInUse {
  private readonly holds = new Map<string, number>();

  /** @param users the model's per-user state (Recommender.users), emptied of each user once no work holds it. */
  constructor(private readonly users: Map<string, unknown>) {}

  async with<T>(ids: readonly string[], work: () => Promise<T>): Promise<T> {
    for (const u of ids) this.holds.set(u, (this.holds.get(u) ?? 0) + 1);
    try {
      return await work();
    } finally {
      for (const u of ids) {
        const n = (this.holds.get(u) ?? 1) - 1;
        if (n > 0) this.holds.set(u, n);
        else {
          this.holds.delete(u);
          this.users.delete(u);
        }
      }
    }
  }
}
