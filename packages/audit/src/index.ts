export { checkStore, type StoreReport, type Violation } from "./check-store.ts";
