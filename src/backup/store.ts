// The port the EtcdCluster controller uses for snapshot storage (adapter: src/cloud/s3/store.ts).
import type { Readable } from 'node:stream';
import type { StoredObject } from './retention.ts';

export interface StorageLocation {
  endpoint: string;
  region: string;
  bucket: string;
  forcePathStyle: boolean;
  accessKeyId: string;
  secretAccessKey: string;
}

export interface SnapshotStore {
  /** Streams body into the object with a multipart upload; nothing is visible under key unless it completes. */
  upload(key: string, body: Readable): Promise<void>;
  putText(key: string, text: string): Promise<void>;
  getText(key: string): Promise<string | undefined>;
  read(key: string): Promise<Readable>;
  list(prefix: string): Promise<StoredObject[]>;
  delete(keys: string[]): Promise<void>;
  /** A time-limited GET URL (no credentials in it beyond the signature). */
  presignGet(key: string, expiresInSeconds: number): Promise<string>;
}

export type SnapshotStoreFactory = (where: StorageLocation) => SnapshotStore;

/** A storage error in one line, without request ids or credentials (SDK errors carry name and HTTP status). */
export function storageError(e: unknown): string {
  const err = e as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const status = err.$metadata?.httpStatusCode;
  return `${err.name ?? 'Error'}${status ? ` (HTTP ${status})` : ''}: ${err.message ?? String(e)}`.slice(0, 300);
}
