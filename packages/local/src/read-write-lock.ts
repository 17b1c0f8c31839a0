/** Call once to give the lock back; further calls do nothing. */
export type Release = () => void;

interface Waiter {
  exclusive: boolean;
  grant: () => void;
}

/**
 * An in-process readers–writer lock with FIFO fairness: any number of shared holders, or one
 * exclusive holder. A waiting exclusive request holds back shared requests queued after it,
 * so a steady stream of readers cannot starve a writer.
 */
export class ReadWriteLock {
  private sharedHolders = 0;
  private exclusiveHeld = false;
  private readonly queue: Waiter[] = [];

  acquireShared(): Promise<Release> {
    return this.enqueue(false);
  }

  acquireExclusive(): Promise<Release> {
    return this.enqueue(true);
  }

  private enqueue(exclusive: boolean): Promise<Release> {
    return new Promise((resolve) => {
      this.queue.push({ exclusive, grant: () => resolve(this.releaser(exclusive)) });
      this.grantWaiting();
    });
  }

  private releaser(exclusive: boolean): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (exclusive) this.exclusiveHeld = false;
      else this.sharedHolders--;
      this.grantWaiting();
    };
  }

  /** Grants waiters from the head of the queue for as long as they are compatible. */
  private grantWaiting(): void {
    for (let next = this.queue[0]; next; next = this.queue[0]) {
      if (this.exclusiveHeld) return;
      if (next.exclusive) {
        if (this.sharedHolders > 0) return;
        this.exclusiveHeld = true;
      } else {
        this.sharedHolders++;
      }
      this.queue.shift();
      next.grant();
    }
  }
}
