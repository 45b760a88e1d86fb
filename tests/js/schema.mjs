// Shared by the client tests.

import assert from 'node:assert/strict';

// A small JSON-schema validator for the subset the tests use (type, properties, required,
// additionalProperties false, enum, integer bounds, maxLength, items) — written here so that the
// check does not depend on the server's own schema code.
export function validate(schema, value, at = '$') {
  const fail = (why) => assert.fail(`${at}: ${why} (value ${JSON.stringify(value)})`);
  if (schema.enum && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) fail('not in enum');
  switch (schema.type) {
    case 'object': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) fail('not an object');
      for (const r of schema.required ?? []) if (!(r in value)) fail(`missing required '${r}'`);
      for (const [k, v] of Object.entries(value)) {
        const sub = schema.properties?.[k];
        if (!sub) {
          if (schema.additionalProperties === false) fail(`unexpected property '${k}'`);
          continue;
        }
        validate(sub, v, `${at}.${k}`);
      }
      break;
    }
    case 'array':
      if (!Array.isArray(value)) fail('not an array');
      if (schema.minItems !== undefined && value.length < schema.minItems) fail('too few items');
      if (schema.maxItems !== undefined && value.length > schema.maxItems) fail('too many items');
      value.forEach((v, i) => validate(schema.items, v, `${at}[${i}]`));
      break;
    case 'string':
      if (typeof value !== 'string') fail('not a string');
      if (schema.maxLength !== undefined && [...value].length > schema.maxLength) fail('too long');
      break;
    case 'integer':
      if (!Number.isInteger(value)) fail('not an integer');
      if (schema.minimum !== undefined && value < schema.minimum) fail('below minimum');
      if (schema.maximum !== undefined && value > schema.maximum) fail('above maximum');
      break;
    case 'boolean':
      if (typeof value !== 'boolean') fail('not a boolean');
      break;
    default:
      break;
  }
}
