/** What middleware hands to handlers. */
export interface AppEnv {
  Variables: {
    /** The authenticated caller: the token's subject. */
    userId: string;
    requestId: string;
  };
}
