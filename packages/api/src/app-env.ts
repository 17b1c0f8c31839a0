/** The kinds of request body the API takes. */
export type BodyKind = "json" | "multipart";

/** What middleware hands to handlers. */
export interface AppEnv {
  Variables: {
    /** The authenticated caller: the token's subject. */
    userId: string;
    requestId: string;
    /** The kind of body the request sent, read from its Content-Type (request-body.ts). */
    bodyKind: BodyKind;
  };
}
