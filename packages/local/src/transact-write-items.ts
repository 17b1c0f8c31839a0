/**
 * TransactWriteItems emulated on top of single-item operations, for DynamoDB emulators that lack
 * it (dynalite). Dev and test only; see dynamo-transactions-proxy.ts. The caller must make sure
 * nothing else touches the table while this runs (the proxy holds an exclusive lock).
 *
 * ClientRequestToken (idempotent retries within ten minutes) is ignored: a repeated request is
 * simply executed again.
 */

/** A JSON object at the DynamoDB wire boundary (items, requests, responses). */
export type JsonObject = Record<string, unknown>;

export interface DynamoResponse {
  status: number;
  body: JsonObject;
}

/** A committed transaction's answer, with each item it wrote as it was before and after. */
export interface TransactionResponse extends DynamoResponse {
  changes: { tableName: string; key: JsonObject; before?: JsonObject; after?: JsonObject }[];
}

/** Sends one DynamoDB JSON operation (e.g. "GetItem") to the backing emulator. */
export type DynamoCall = (operation: string, request: JsonObject) => Promise<DynamoResponse>;

const ACTION_KINDS = ["Put", "Update", "Delete", "ConditionCheck"] as const;
type ActionKind = (typeof ACTION_KINDS)[number];

/** Parameters every kind of action passes through to its single-item operation. */
const CONDITION_PARAMS = ["ConditionExpression", "ExpressionAttributeNames", "ExpressionAttributeValues"];

interface Action {
  kind: ActionKind;
  tableName: string;
  /** The action's parameters as sent, e.g. the value of TransactItems[i].Put. */
  params: JsonObject;
  /** The item's primary key attributes. */
  key: JsonObject;
  /** The item before the transaction, read with ConsistentRead; undefined when absent. */
  snapshot?: JsonObject;
}

/** An error answer from the emulator (or one of ours) that ends the request as is. */
class DynamoFailure extends Error {
  constructor(readonly response: DynamoResponse) {
    super(errorMessage(response.body));
  }
}

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function validationError(message: string): DynamoFailure {
  return new DynamoFailure({
    status: 400,
    body: { __type: "com.amazon.coral.validation#ValidationException", message },
  });
}

/** "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException" -> "ConditionalCheckFailedException" */
function errorType(body: JsonObject): string {
  return (
    String(body.__type ?? "InternalFailure")
      .split("#")
      .pop() ?? ""
  );
}

function errorMessage(body: JsonObject): string {
  // dynalite, like DynamoDB, spells it "message" mostly and "Message" sometimes.
  return String(body.message ?? body.Message ?? errorType(body));
}

export async function callOk(call: DynamoCall, operation: string, request: JsonObject): Promise<JsonObject> {
  const response = await call(operation, request);
  if (response.status !== 200) throw new DynamoFailure(response);
  return response.body;
}

/** Key attribute names per table, from DescribeTable. Clear it when tables are created or deleted. */
export class KeySchemaCache {
  private readonly byTable = new Map<string, Promise<string[]>>();

  keyAttributes(tableName: string, call: DynamoCall): Promise<string[]> {
    const cached = this.byTable.get(tableName);
    if (cached) return cached;
    const attempt = callOk(call, "DescribeTable", { TableName: tableName }).then(keyAttributeNames);
    this.byTable.set(tableName, attempt);
    // Do not remember failures (e.g. the table does not exist yet).
    attempt.catch(() => {
      if (this.byTable.get(tableName) === attempt) this.byTable.delete(tableName);
    });
    return attempt;
  }

  clear(): void {
    this.byTable.clear();
  }
}

function keyAttributeNames(describeTable: JsonObject): string[] {
  const table = describeTable.Table;
  const schema = isJsonObject(table) && Array.isArray(table.KeySchema) ? table.KeySchema : [];
  return schema.filter(isJsonObject).map((element) => String(element.AttributeName));
}

/** Checks the request's shape the way DynamoDB does, before anything is read or written. */
function parseTransactItems(input: unknown): Omit<Action, "key">[] {
  const items = isJsonObject(input) ? input.TransactItems : undefined;
  const constraint = (detail: string) =>
    validationError(`1 validation error detected: Value at 'transactItems' failed to satisfy constraint: ${detail}`);
  if (!Array.isArray(items)) throw constraint("Member must not be null");
  if (items.length < 1) throw constraint("Member must have length greater than or equal to 1");
  if (items.length > 100) throw constraint("Member must have length less than or equal to 100");

  return items.map((entry: unknown) => {
    const kinds = ACTION_KINDS.filter((kind) => isJsonObject(entry) && isJsonObject(entry[kind]));
    const kind = kinds.length === 1 ? kinds[0] : undefined;
    if (!kind || !isJsonObject(entry)) {
      throw validationError("TransactItems can only contain one of Check, Put, Update or Delete");
    }
    const params = entry[kind] as JsonObject;
    if (typeof params.TableName !== "string") throw validationError("TableName must be specified");
    if (kind === "Put" ? !isJsonObject(params.Item) : !isJsonObject(params.Key)) {
      throw validationError(`${kind === "Put" ? "Item" : "Key"} must be specified`);
    }
    if (kind === "Update" && typeof params.UpdateExpression !== "string") {
      throw validationError("UpdateExpression must be specified");
    }
    if (kind === "ConditionCheck" && typeof params.ConditionExpression !== "string") {
      throw validationError("ConditionExpression must be specified");
    }
    return { kind, tableName: params.TableName, params };
  });
}

/** Adds each action's primary key and rejects two actions on one item. */
async function withKeys(
  parsed: Omit<Action, "key">[],
  call: DynamoCall,
  keySchemas: KeySchemaCache,
): Promise<Action[]> {
  const seen = new Set<string>();
  const actions: Action[] = [];
  for (const action of parsed) {
    const keyNames = await keySchemas.keyAttributes(action.tableName, call);
    const source = (action.kind === "Put" ? action.params.Item : action.params.Key) as JsonObject;
    const key: JsonObject = {};
    for (const name of keyNames) {
      if (!isJsonObject(source[name])) {
        throw validationError("The provided key element does not match the schema");
      }
      key[name] = source[name];
    }
    // Attribute values are single-member objects like {"S":"x"}, so JSON text identifies them.
    const identity = JSON.stringify([action.tableName, ...keyNames.map((name) => key[name])]);
    if (seen.has(identity)) {
      throw validationError("Transaction request cannot include multiple operations on one item");
    }
    seen.add(identity);
    actions.push({ ...action, key });
  }
  return actions;
}

function pick(source: JsonObject, names: readonly string[]): JsonObject {
  return Object.fromEntries(names.filter((name) => source[name] !== undefined).map((name) => [name, source[name]]));
}

/**
 * The single-item operation that performs an action. Only the parameters the operation needs
 * are passed on: dynalite silently drops unknown ones such as ReturnValuesOnConditionCheckFailure
 * anyway, which is handled here instead (see cancellationReason).
 */
function singleItemRequest(action: Action): [operation: string, request: JsonObject] {
  const base = { TableName: action.tableName, ...pick(action.params, CONDITION_PARAMS) };
  switch (action.kind) {
    case "Put":
      return ["PutItem", { ...base, Item: action.params.Item }];
    case "Update":
      return ["UpdateItem", { ...base, Key: action.key, UpdateExpression: action.params.UpdateExpression }];
    case "Delete":
      return ["DeleteItem", { ...base, Key: action.key }];
    case "ConditionCheck":
      // Evaluates the condition atomically. Without an update expression it writes nothing new,
      // but it does create a key-only item when none existed, so the caller restores the snapshot.
      return ["UpdateItem", { ...base, Key: action.key }];
  }
}

/** Puts the item back as it was before the transaction. */
async function restore(call: DynamoCall, action: Action): Promise<void> {
  if (action.snapshot) await callOk(call, "PutItem", { TableName: action.tableName, Item: action.snapshot });
  else await callOk(call, "DeleteItem", { TableName: action.tableName, Key: action.key });
}

async function rollBack(call: DynamoCall, applied: Action[]): Promise<void> {
  try {
    for (const action of [...applied].reverse()) await restore(call, action);
  } catch (error) {
    // Not a DynamoFailure on purpose: the proxy answers 500 rather than a misleading 400.
    throw new Error("TransactWriteItems rollback failed; the table may hold a partial transaction", {
      cause: error,
    });
  }
}

function cancellationReason(action: Action, failure: DynamoResponse): JsonObject {
  const type = errorType(failure.body);
  if (type === "ConditionalCheckFailedException") {
    const returnOld = action.params.ReturnValuesOnConditionCheckFailure === "ALL_OLD" && action.snapshot;
    return {
      Code: "ConditionalCheckFailed",
      Message: "The conditional request failed",
      ...(returnOld ? { Item: action.snapshot } : {}),
    };
  }
  const code = type === "ValidationException" ? "ValidationError" : type.replace(/Exception$/, "");
  return { Code: code, Message: errorMessage(failure.body) };
}

/**
 * DynamoDB reports every failing action; this stops at the first one, so later actions always
 * read "None" even if their conditions would have failed too.
 */
function transactionCanceled(actions: Action[], failedIndex: number, failure: DynamoResponse): DynamoResponse {
  const reasons = actions.map((action, index) =>
    index === failedIndex ? cancellationReason(action, failure) : { Code: "None" },
  );
  return {
    status: 400,
    body: {
      __type: "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
      message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${reasons
        .map((reason) => reason.Code)
        .join(", ")}]`,
      CancellationReasons: reasons,
    },
  };
}

/**
 * Executes a TransactWriteItems request body all or nothing: snapshots every target item, applies
 * the actions in order and, when one fails, restores the snapshots of those already applied.
 * Errors before anything is written (validation, unknown table) are returned as DynamoDB would.
 */
export async function transactWriteItems(
  input: unknown,
  call: DynamoCall,
  keySchemas: KeySchemaCache,
): Promise<TransactionResponse> {
  try {
    const actions = await withKeys(parseTransactItems(input), call, keySchemas);
    for (const action of actions) {
      const read = await callOk(call, "GetItem", {
        TableName: action.tableName,
        Key: action.key,
        ConsistentRead: true,
      });
      action.snapshot = isJsonObject(read.Item) ? read.Item : undefined;
    }

    const applied: Action[] = [];
    let failure: { index: number; response: DynamoResponse } | undefined;
    try {
      for (const [index, action] of actions.entries()) {
        const [operation, request] = singleItemRequest(action);
        const response = await call(operation, request);
        if (response.status !== 200) {
          failure = { index, response };
          break;
        }
        applied.push(action);
        if (action.kind === "ConditionCheck") await restore(call, action);
      }
    } catch (error) {
      await rollBack(call, applied);
      throw error;
    }
    if (failure) {
      await rollBack(call, applied);
      return { ...transactionCanceled(actions, failure.index, failure.response), changes: [] };
    }
    // For the change feed: each written item as the transaction left it.
    const changes: TransactionResponse["changes"] = [];
    for (const action of actions) {
      if (action.kind === "ConditionCheck") continue;
      const read = await callOk(call, "GetItem", {
        TableName: action.tableName,
        Key: action.key,
        ConsistentRead: true,
      });
      const after = isJsonObject(read.Item) ? read.Item : undefined;
      changes.push({ tableName: action.tableName, key: action.key, before: action.snapshot, after });
    }
    return { status: 200, body: {}, changes };
  } catch (error) {
    if (error instanceof DynamoFailure) return { ...error.response, changes: [] };
    throw error;
  }
}
