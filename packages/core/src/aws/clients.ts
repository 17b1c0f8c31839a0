import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { S3Client } from "@aws-sdk/client-s3";
import type { Config } from "../config.ts";
import { guardLocalEndpoints } from "./endpoint-guard.ts";

export interface AwsClients {
  dynamo: DynamoDBDocumentClient;
  s3: S3Client;
}

/** The SDK clients, built once per process (module singletons in the handlers). */
export function createAwsClients(config: Config): AwsClients {
  const base = { region: config.region, maxAttempts: 3, credentials: config.credentials };
  const dynamoBase = new DynamoDBClient({ ...base, endpoint: config.dynamoEndpoint });
  const s3 = new S3Client({
    ...base,
    endpoint: config.s3Endpoint,
    // Emulators serve buckets by path, not by virtual host.
    forcePathStyle: config.s3Endpoint !== undefined,
    // Without this, presigned URLs carry a checksum of an empty body that S3 rejects.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
  if (config.localEndpointsOnly) {
    guardLocalEndpoints(dynamoBase);
    guardLocalEndpoints(s3);
  }
  const dynamo = DynamoDBDocumentClient.from(dynamoBase, {
    marshallOptions: { removeUndefinedValues: true },
  });
  return { dynamo, s3 };
}
