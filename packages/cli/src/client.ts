import { createApiClient, type ApiClient } from "@images/client";

/** Where the CLI talks to, and as whom (saved by `images login`). */
export interface Session {
  baseUrl: string;
  token: string;
}

/** The typed API client for a session. */
export const clientFor = ({ baseUrl, token }: Session): ApiClient => createApiClient(baseUrl, () => token);
