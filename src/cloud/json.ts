/**
 * Provider JSON at the boundary: read loosely, then mapped to our own types straight away (ports.ts).
 * Hand-written shapes for every provider object would be a second, unchecked copy of the OpenAPI files.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = Record<string, any>;
