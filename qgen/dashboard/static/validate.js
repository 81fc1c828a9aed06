// Validates a value against the JSON Schema (2020-12) subset that qgen emits: type, required,
// properties, additionalProperties, items, prefixItems, min/maxItems, uniqueItems, enum, const,
// anyOf / oneOf (with null and with a discriminator), allOf, not, minimum / maximum /
// exclusiveMinimum / exclusiveMaximum / multipleOf, minLength / maxLength / pattern, a few
// formats (date, date-time, time, uuid) and $ref into $defs. Errors carry a path (property
// names and indexes) so the form can show each one next to its field. The server validates
// again with pydantic; this only keeps a wrong value from being sent.

const MAX_DEPTH = 100;

export function validate(schema, value) {
  const errors = [];
  check(schema, value, [], schema, errors, 0);
  return errors;
}

export function resolveRef(root, ref) {
  if (ref === "#") return root;
  if (!ref.startsWith("#/")) return {};
  let target = root;
  for (const raw of ref.slice(2).split("/")) {
    const part = raw.replaceAll("~1", "/").replaceAll("~0", "~");
    target = target && typeof target === "object" ? target[part] : undefined;
  }
  return target === undefined ? {} : target;
}

export function jsonType(value) {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value; // string, boolean, object
}

export function deepEqual(a, b) {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]));
}

function show(value) {
  return typeof value === "string" ? value : JSON.stringify(value);
}

function typeMatches(type, value) {
  const actual = jsonType(value);
  return actual === type || (type === "number" && actual === "integer");
}

const ARTICLE = { integer: "an integer", object: "an object", array: "a list", null: "null" };

function check(schema, value, path, root, errors, depth) {
  if (schema === true || schema === undefined || schema === null) return;
  if (schema === false) {
    errors.push({ path, message: "is not allowed" });
    return;
  }
  if (depth > MAX_DEPTH) return;
  if (typeof schema.$ref === "string") {
    check(resolveRef(root, schema.$ref), value, path, root, errors, depth + 1);
  }
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (!types.some((t) => typeMatches(t, value))) {
      const names = types.map((t) => ARTICLE[t] || `a ${t}`);
      errors.push({ path, message: `must be ${names.join(" or ")}`, type: names });
      return;
    }
  }
  if (schema.enum !== undefined && !schema.enum.some((v) => deepEqual(v, value))) {
    errors.push({ path, message: `must be one of: ${schema.enum.map(show).join(", ")}` });
  }
  if (Object.hasOwn(schema, "const") && !deepEqual(schema.const, value)) {
    errors.push({ path, message: `must be ${show(schema.const)}` });
  }
  if (typeof value === "string") checkString(schema, value, path, errors);
  if (typeof value === "number") checkNumber(schema, value, path, errors);
  if (Array.isArray(value)) checkArray(schema, value, path, root, errors, depth);
  else if (value !== null && typeof value === "object") {
    checkObject(schema, value, path, root, errors, depth);
  }
  checkCombinators(schema, value, path, root, errors, depth);
}

const FORMATS = {
  date: /^\d{4}-\d{2}-\d{2}$/,
  "date-time": /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?$/,
  time: /^\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?$/,
  uuid: /^([0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12})$/,
};
const FORMAT_HINTS = {
  date: "a date like 2024-01-31",
  "date-time": "a date and time like 2024-01-31T12:00:00Z",
  time: "a time like 12:30:00",
  uuid: "a UUID",
};

function validDate(text) {
  const [y, m, d] = text.slice(0, 10).split("-").map(Number);
  const date = new Date(Date.UTC(y, m - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}

function checkString(schema, value, path, errors) {
  const length = [...value].length; // code points, as JSON Schema counts
  if (schema.minLength !== undefined && length < schema.minLength) {
    errors.push({
      path,
      message: schema.minLength === 1 ? "must not be empty" : `must have at least ${schema.minLength} characters`,
    });
  }
  if (schema.maxLength !== undefined && length > schema.maxLength) {
    errors.push({ path, message: `must have at most ${schema.maxLength} characters` });
  }
  if (typeof schema.pattern === "string") {
    let re = null;
    try {
      re = new RegExp(schema.pattern, "u");
    } catch {
      re = null; // a pattern JavaScript cannot read: the server checks it
    }
    if (re && !re.test(value)) errors.push({ path, message: `must match ${schema.pattern}` });
  }
  const format = FORMATS[schema.format];
  if (format) {
    const ok = format.test(value) && (!schema.format.startsWith("date") || validDate(value));
    if (!ok) errors.push({ path, message: `must be ${FORMAT_HINTS[schema.format]}` });
  }
}

function checkNumber(schema, value, path, errors) {
  if (schema.minimum !== undefined && value < schema.minimum) {
    errors.push({ path, message: `must be at least ${schema.minimum}` });
  }
  if (schema.maximum !== undefined && value > schema.maximum) {
    errors.push({ path, message: `must be at most ${schema.maximum}` });
  }
  if (typeof schema.exclusiveMinimum === "number" && value <= schema.exclusiveMinimum) {
    errors.push({ path, message: `must be greater than ${schema.exclusiveMinimum}` });
  }
  if (typeof schema.exclusiveMaximum === "number" && value >= schema.exclusiveMaximum) {
    errors.push({ path, message: `must be less than ${schema.exclusiveMaximum}` });
  }
  if (typeof schema.multipleOf === "number" && schema.multipleOf > 0) {
    const ratio = value / schema.multipleOf;
    if (Math.abs(ratio - Math.round(ratio)) > 1e-9 * Math.max(1, Math.abs(ratio))) {
      errors.push({ path, message: `must be a multiple of ${schema.multipleOf}` });
    }
  }
}

function checkArray(schema, value, path, root, errors, depth) {
  const prefix = Array.isArray(schema.prefixItems) ? schema.prefixItems : [];
  value.forEach((item, i) => {
    const itemSchema = i < prefix.length ? prefix[i] : schema.items;
    check(itemSchema, item, [...path, i], root, errors, depth + 1);
  });
  if (schema.minItems !== undefined && value.length < schema.minItems) {
    errors.push({ path, message: `must have at least ${schema.minItems} item(s)` });
  }
  if (schema.maxItems !== undefined && value.length > schema.maxItems) {
    errors.push({ path, message: `must have at most ${schema.maxItems} item(s)` });
  }
  if (schema.uniqueItems === true) {
    for (let i = 1; i < value.length; i += 1) {
      if (value.slice(0, i).some((v) => deepEqual(v, value[i]))) {
        errors.push({ path: [...path, i], message: "repeats an earlier item" });
      }
    }
  }
}

function checkObject(schema, value, path, root, errors, depth) {
  const props = schema.properties || {};
  for (const name of schema.required || []) {
    if (!Object.hasOwn(value, name)) errors.push({ path: [...path, name], message: "required" });
  }
  for (const [key, item] of Object.entries(value)) {
    if (Object.hasOwn(props, key)) {
      check(props[key], item, [...path, key], root, errors, depth + 1);
    } else if (schema.additionalProperties === false) {
      errors.push({ path: [...path, key], message: "is not a field of this type" });
    } else if (schema.additionalProperties !== undefined) {
      check(schema.additionalProperties, item, [...path, key], root, errors, depth + 1);
    }
  }
  const count = Object.keys(value).length;
  if (schema.minProperties !== undefined && count < schema.minProperties) {
    errors.push({ path, message: `must have at least ${schema.minProperties} entries` });
  }
  if (schema.maxProperties !== undefined && count > schema.maxProperties) {
    errors.push({ path, message: `must have at most ${schema.maxProperties} entries` });
  }
}

function branchErrors(branches, value, path, root, depth) {
  return branches.map((b) => {
    const found = [];
    check(b, value, path, root, found, depth + 1);
    return found;
  });
}

// The errors to show when no branch fits: those of the branch the value was most likely meant
// for (the discriminator's, else the one whose type fits with the fewest errors).
function closest(branches, results, path, root) {
  let best = null;
  branches.forEach((b, i) => {
    const target = typeof b.$ref === "string" ? resolveRef(root, b.$ref) : b;
    const typeErr = results[i].some((e) => e.type && e.path.length === path.length);
    const fits = target.type === undefined || !typeErr;
    if (fits && (best === null || results[i].length < results[best].length)) best = i;
  });
  return best;
}

function oneOfTypes(results, path) {
  const names = results.flat().filter((e) => e.type && e.path.length === path.length);
  const unique = [...new Set(names.flatMap((e) => e.type))];
  return unique.length ? `must be ${unique.join(" or ")}` : "does not match any allowed form";
}

function checkCombinators(schema, value, path, root, errors, depth) {
  for (const part of schema.allOf || []) check(part, value, path, root, errors, depth + 1);
  if (schema.not !== undefined) {
    const found = [];
    check(schema.not, value, path, root, found, depth + 1);
    if (found.length === 0) errors.push({ path, message: "is not allowed here" });
  }
  for (const key of ["anyOf", "oneOf"]) {
    const branches = schema[key];
    if (!Array.isArray(branches)) continue;
    const disc = key === "oneOf" ? schema.discriminator : undefined;
    if (disc && value !== null && typeof value === "object" && !Array.isArray(value)) {
      const tag = value[disc.propertyName];
      const ref = disc.mapping && typeof tag === "string" ? disc.mapping[tag] : undefined;
      if (ref === undefined) {
        const tags = Object.keys(disc.mapping || {});
        const message = tag === undefined ? "required" : `must be one of: ${tags.join(", ")}`;
        errors.push({ path: [...path, disc.propertyName], message });
      } else {
        check({ $ref: ref }, value, path, root, errors, depth + 1);
      }
      continue;
    }
    const results = branchErrors(branches, value, path, root, depth);
    const valid = results.filter((r) => r.length === 0).length;
    if (valid === 0) {
      const best = closest(branches, results, path, root);
      if (best !== null) errors.push(...results[best]);
      else errors.push({ path, message: oneOfTypes(results, path) });
    } else if (key === "oneOf" && valid > 1) {
      errors.push({ path, message: "matches more than one allowed form" });
    }
  }
}
