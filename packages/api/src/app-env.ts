import type { Logger } from "./logger.ts";

/** What middleware hands to handlers. */
export interface AppEnv {
  Variables: {
    /** The authenticated caller: the token's subject. */
    userId: string;
    requestId: string;
    /** The logger for this request: every line carries its request id. */
    log: Logger;
  };
}
