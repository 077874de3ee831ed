// Snapshot storage on S3-compatible object storage (DigitalOcean Spaces, any S3 endpoint) with the AWS
// SDK v3. Uploads stream in parts (@aws-sdk/lib-storage Upload): memory is partSize × queueSize, whatever
// the snapshot's size.
import { S3Client, GetObjectCommand, PutObjectCommand, ListObjectsV2Command, DeleteObjectCommand, type ListObjectsV2CommandOutput } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { Readable } from 'node:stream';
import type { SnapshotStore, StorageLocation } from '../../backup/store.ts';
import type { StoredObject } from '../../backup/retention.ts';

/** 8 MiB parts (S3's minimum is 5 MiB but for the last), two in flight. */
export const PART_SIZE = 8 * 1024 * 1024;
export const QUEUE_SIZE = 2;

export function s3Store(where: StorageLocation): SnapshotStore {
  const client = new S3Client({
    endpoint: where.endpoint,
    region: where.region,
    forcePathStyle: where.forcePathStyle,
    credentials: { accessKeyId: where.accessKeyId, secretAccessKey: where.secretAccessKey },
    // SDK 3.729+ adds CRC checksums to every upload by default, sent as aws-chunked trailers
    // (aws/aws-sdk-js-v3#6810) that S3-compatible servers do not all decode; the object's SHA-256 is in
    // its manifest and checked before a restore, so checksums only where the operation requires them.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 3,
  });
  const Bucket = where.bucket;
  return {
    async upload(key, body) {
      // leavePartsOnError false: a failed upload is aborted (AbortMultipartUpload), never completed.
      await new Upload({ client, params: { Bucket, Key: key, Body: body, ContentType: 'application/octet-stream' }, partSize: PART_SIZE, queueSize: QUEUE_SIZE, leavePartsOnError: false }).done();
    },
    async putText(key, text) {
      await client.send(new PutObjectCommand({ Bucket, Key: key, Body: text, ContentType: 'application/json' }));
    },
    async getText(key) {
      try {
        const r = await client.send(new GetObjectCommand({ Bucket, Key: key }));
        return await r.Body!.transformToString('utf8');
      } catch (e) {
        if ((e as { name?: string }).name === 'NoSuchKey' || (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return undefined;
        throw e;
      }
    },
    async read(key) {
      const r = await client.send(new GetObjectCommand({ Bucket, Key: key }));
      return r.Body as Readable;
    },
    async list(prefix) {
      const out: StoredObject[] = [];
      let token: string | undefined;
      do {
        const r: ListObjectsV2CommandOutput = await client.send(new ListObjectsV2Command({ Bucket, Prefix: prefix, ContinuationToken: token }));
        for (const o of r.Contents ?? []) if (o.Key) out.push({ key: o.Key, lastModified: o.LastModified ?? new Date(0) });
        token = r.IsTruncated ? r.NextContinuationToken : undefined;
      } while (token);
      return out;
    },
    async delete(keys) {
      for (const Key of keys) await client.send(new DeleteObjectCommand({ Bucket, Key }));
    },
    presignGet: (key, expiresIn) => getSignedUrl(client, new GetObjectCommand({ Bucket, Key: key }), { expiresIn }),
  };
}
