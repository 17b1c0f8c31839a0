import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { S3Client } from "@aws-sdk/client-s3";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { LocalAws } from "../src/index.ts";

/** Real SDK clients pointed at the emulators (explicit region and credentials: nothing but 127.0.0.1). */
export function dynamoClients(local: LocalAws): { client: DynamoDBClient; doc: DynamoDBDocumentClient } {
  const client = new DynamoDBClient({
    region: local.region,
    endpoint: local.dynamoEndpoint,
    credentials: local.credentials,
  });
  return { client, doc: DynamoDBDocumentClient.from(client) };
}

/** The S3 client settings that work against s3rver (see LocalAws.s3Endpoint). */
export function s3Client(local: LocalAws): S3Client {
  return new S3Client({
    region: local.region,
    endpoint: local.s3Endpoint,
    credentials: local.credentials,
    forcePathStyle: true,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
}

export function uniqueId(): string {
  return crypto.randomUUID();
}
