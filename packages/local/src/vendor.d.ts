// Minimal typings for the two emulators, which ship none. Only what this package uses.

declare module "dynalite" {
  import type { Server } from "node:http";

  interface DynaliteOptions {
    /** LevelDB directory; in memory when absent. */
    path?: string;
    /** How long tables stay CREATING / DELETING / UPDATING (default 500 ms each). */
    createTableMs?: number;
    deleteTableMs?: number;
    updateTableMs?: number;
    maxItemSizeKb?: number;
    verbose?: boolean;
    debug?: boolean;
  }

  /** Returns an http.Server that is not listening yet; its close() also closes the store. */
  function dynalite(options?: DynaliteOptions): Server;
  export = dynalite;
}

declare module "s3rver" {
  import { EventEmitter } from "node:events";
  import type { Server } from "node:http";
  import type { AddressInfo } from "node:net";

  interface S3rverOptions {
    address?: string;
    port?: number;
    silent?: boolean;
    directory?: string;
    resetOnClose?: boolean;
    allowMismatchedSignatures?: boolean;
    vhostBuckets?: boolean;
    serviceEndpoint?: string;
    /** Buckets created (with CORS or website XML configs) when run() starts. */
    configureBuckets?: Array<{ name: string; configs?: Array<string | Buffer> }>;
  }

  /** The S3 notification event s3rver emits as 'event' on the server. */
  interface S3rverEvent {
    Records: Array<{
      eventName: string;
      s3: {
        bucket: { name: string };
        /** size is absent for ObjectRemoved events. */
        object: { key: string; size?: number; eTag?: string };
      };
    }>;
  }

  class S3rver extends EventEmitter {
    constructor(options?: S3rverOptions);
    /** Creates the configured buckets, then listens; resolves to the bound address. */
    run(): Promise<AddressInfo>;
    close(): Promise<void>;
    httpServer?: Server;
    on(event: "event", listener: (event: S3rverEvent) => void): this;
    on(event: string | symbol, listener: (...args: unknown[]) => void): this;
  }
  export = S3rver;
}
