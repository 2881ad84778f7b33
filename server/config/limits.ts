/**
 * `scim.limits`: bounded work per SCIM request (schemas/limits.ts says what each one bounds and
 * how a request over it is answered). Every key is optional; defaults are DEFAULT_LIMITS.
 */
import { z } from "zod";
import { DEFAULT_LIMITS } from "../../schemas/limits.js";

const positive = z.number().int().positive();

export const limitsSchema = z
  .object({
    patchOperations: positive.default(DEFAULT_LIMITS.patchOperations),
    filterLength: positive.default(DEFAULT_LIMITS.filterLength),
    filterDepth: positive.max(1000).default(DEFAULT_LIMITS.filterDepth),
    attributeValues: positive.default(DEFAULT_LIMITS.attributeValues),
    stringLength: positive.default(DEFAULT_LIMITS.stringLength),
    /** Merged over the defaults: naming userName here changes only userName. */
    attributeLength: z
      .record(z.string().min(1), positive)
      .default({})
      .transform((given) => ({ ...DEFAULT_LIMITS.attributeLength, ...given })),
    attributeNames: positive.default(DEFAULT_LIMITS.attributeNames),
    jsonDepth: positive.max(10_000).default(DEFAULT_LIMITS.jsonDepth),
    sortResources: positive.default(DEFAULT_LIMITS.sortResources),
  })
  .strict()
  .default({ ...DEFAULT_LIMITS });
