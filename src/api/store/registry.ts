/**
 * The store registry: one record per backend, its config half (the `type`, the keys its
 * sections take, its reader: config/backends.ts) joined with the store it makes. Code that
 * opens a section's store goes through `createStore`, so a new backend is a record here, one
 * in the config, rows in the key table and a `case` below (which the compiler asks for), and
 * no `if` elsewhere.
 */
import {
  ENDPOINT_BACKENDS,
  type EndpointBackend,
  type EndpointConfig,
  type EndpointType,
  type S3EndpointConfig,
  type SwiftEndpointConfig,
} from '../config.js';
import type { Logger } from '../log.js';
import { S3Store } from './s3-store.js';
import { SwiftStore } from './swift-store.js';

/** A backend: its config record plus the factory of its store. */
export interface StoreBackend<C extends EndpointConfig, S> extends EndpointBackend<C> {
  /** Open the store of one section of this backend's type. */
  create(section: C, options: { readonly logger?: Logger }): S;
}

/** The stores the registry makes, by `type`. */
export interface StoreTypes {
  readonly s3: S3Store;
  readonly swift: SwiftStore;
}

/** The backends by `type`: config record and store factory. */
export const STORE_BACKENDS: {
  readonly [T in EndpointType]: StoreBackend<Extract<EndpointConfig, { type: T }>, StoreTypes[T]>;
} = Object.freeze({
  s3: Object.freeze({
    ...ENDPOINT_BACKENDS.s3,
    create: (section: S3EndpointConfig, options: { readonly logger?: Logger }) => new S3Store(section, options),
  }),
  swift: Object.freeze({
    ...ENDPOINT_BACKENDS.swift,
    create: (section: SwiftEndpointConfig, options: { readonly logger?: Logger }) => new SwiftStore(section, options),
  }),
});

/**
 * The store for one endpoint section, made by the backend its `type` names. A section built by
 * hand without `type` (a library user's object literal) is S3, as it always was; an unknown type
 * is a TypeError naming the types there are.
 */
export function createStore(
  section: EndpointConfig,
  options: { readonly logger?: Logger } = {},
): StoreTypes[EndpointType] {
  const type: string = section.type ?? 's3';
  const backend = (STORE_BACKENDS as Record<string, StoreBackend<EndpointConfig, StoreTypes[EndpointType]>>)[type];
  if (backend === undefined) {
    throw new TypeError(
      `[${section.name}] has type = ${type}; the types there are: ${Object.keys(STORE_BACKENDS).join(', ')}`,
    );
  }
  return backend.create(section, options);
}
