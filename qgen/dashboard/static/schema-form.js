// Builds a form from a queue's input JSON Schema: nested objects as fieldsets, lists with
// add/remove, enums as selects, optional fields that stay out of the data unless filled,
// nullable fields, unions with a choice of form, and a JSON box for anything else (maps,
// deep recursion). Every element is made with createElement and every text set with
// textContent: no HTML is ever built from strings.

import { resolveRef } from "./validate.js";

export const MISSING = Symbol("missing");
const MAX_FORM_DEPTH = 8;
let uid = 0;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "text") node.textContent = value;
    else if (key === "class") node.className = value;
    else if (value !== undefined && value !== null && value !== false) node.setAttribute(key, value);
  }
  node.append(...children.filter((c) => c));
  return node;
}

// The schema with $ref followed; the referrer's title/description/default win.
function resolve(root, schema) {
  let current = schema || {};
  const extra = {};
  for (let hops = 0; typeof current.$ref === "string" && hops < 32; hops += 1) {
    for (const key of ["title", "description", "default"]) {
      if (Object.hasOwn(current, key) && !Object.hasOwn(extra, key)) extra[key] = current[key];
    }
    current = resolveRef(root, current.$ref);
  }
  return { ...current, ...extra };
}

function isNull(schema) {
  return schema.type === "null" || (Object.hasOwn(schema, "const") && schema.const === null);
}

// A field's frame: label, the control, description, and the place for its error. A field
// without a control of its own (an object, a list) gets a heading instead of a label.
function shell(spec, kind, control) {
  const box = el("div", { class: `field field-${kind}` });
  box.dataset.kind = kind;
  if (spec.key !== undefined) box.dataset.key = String(spec.key);
  const label = el(control ? "label" : "div", { class: "field-label", text: spec.label });
  if (spec.required) label.append(el("span", { class: "req", "aria-hidden": "true", text: " *" }));
  if (control) {
    control.id = `f${(uid += 1)}`;
    label.htmlFor = control.id;
  }
  box.append(label);
  if (control) box.append(control);
  if (spec.description) box.append(el("small", { class: "field-desc", text: spec.description }));
  box.append(el("p", { class: "field-error", role: "alert", hidden: "" }));
  box.append(el("div", { class: "field-children" }));
  return box;
}

function children(box) {
  return box.querySelector(":scope > .field-children");
}

function shown(value) {
  return typeof value === "string" ? value : JSON.stringify(value);
}

function placeholder(schema) {
  const hints = { date: "2024-01-31", "date-time": "2024-01-31T12:00:00Z", time: "12:30:00" };
  if (Object.hasOwn(schema, "default")) return `default: ${shown(schema.default)}`;
  return hints[schema.format] || schema.format || "";
}

function emptyValue(spec) {
  if (!spec.required) return MISSING;
  return spec.nullable ? null : MISSING;
}

function textField(ctx, schema, spec, type) {
  const numeric = type === "integer" || type === "number";
  const input = el("input", {
    type: "text",
    inputmode: numeric ? (type === "integer" ? "numeric" : "decimal") : undefined,
    placeholder: placeholder(schema),
    autocomplete: "off",
    "aria-required": spec.required ? "true" : undefined,
  });
  const box = shell(spec, type, input);
  const read = (path) => {
    const raw = input.value;
    if (!numeric) return raw === "" && (!spec.required || spec.nullable) ? emptyValue(spec) : raw;
    const text = raw.trim();
    if (text === "") return emptyValue(spec);
    if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) {
      ctx.problems.push({ path, message: type === "integer" ? "must be an integer" : "must be a number" });
      return MISSING;
    }
    const value = Number(text);
    if (type === "integer" && Number.isInteger(value) && !Number.isSafeInteger(value)) {
      ctx.problems.push({ path, message: "is too large to send exactly from the page; use the client" });
      return MISSING;
    }
    return value;
  };
  return { box, read };
}

function choiceField(ctx, values, schema, spec) {
  const select = el("select", { "aria-required": spec.required ? "true" : undefined });
  const unset = Object.hasOwn(schema, "default") ? `default: ${shown(schema.default)}` : "—";
  select.append(el("option", { value: "", text: unset }));
  values.forEach((v, i) => {
    select.append(el("option", { value: String(i), text: typeof v === "string" ? v : JSON.stringify(v) }));
  });
  const box = shell(spec, "choice", select);
  const read = () => (select.value === "" ? emptyValue(spec) : values[Number(select.value)]);
  return { box, read };
}

function constField(schema, spec) {
  const value = el("output", { class: "const", text: shown(schema.const) });
  const box = shell(spec, "const", value);
  return { box, read: () => schema.const };
}

function booleanField(ctx, schema, spec) {
  if (!spec.required || spec.nullable) return choiceField(ctx, [true, false], schema, spec);
  const input = el("input", { type: "checkbox" });
  if (schema.default === true) input.checked = true;
  const box = shell(spec, "boolean", input);
  return { box, read: () => input.checked };
}

function jsonField(ctx, schema, spec) {
  const area = el("textarea", { rows: "3", spellcheck: "false", placeholder: placeholder(schema) || "JSON" });
  const box = shell(spec, "json", area);
  const read = (path) => {
    if (area.value.trim() === "") return emptyValue(spec);
    try {
      return JSON.parse(area.value);
    } catch (err) {
      ctx.problems.push({ path, message: `is not valid JSON: ${err.message}` });
      return MISSING;
    }
  };
  return { box, read };
}

// An optional object or list: a checkbox decides whether it is part of the data at all.
function toggled(box, spec) {
  if (spec.required) return () => true;
  const check = el("input", { type: "checkbox", class: "include" });
  check.id = `f${(uid += 1)}`;
  const heading = box.querySelector(":scope > .field-label");
  const label = el("label", { class: "field-label", for: check.id }, ...heading.childNodes);
  heading.replaceWith(check, label);
  const body = children(box);
  body.hidden = true;
  const add = box.querySelector(":scope > .add");
  if (add) add.hidden = true;
  check.addEventListener("change", () => {
    body.hidden = !check.checked;
    if (add) add.hidden = !check.checked;
  });
  return () => check.checked;
}

// qgen writes schemas with sorted keys, so the declaration order is lost; the "required" list
// keeps it for required fields: those first, in that order, then the optional ones.
function fieldOrder(schema) {
  const props = schema.properties || {};
  const required = (schema.required || []).filter((n) => Object.hasOwn(props, n));
  const optional = Object.keys(props).filter((n) => !required.includes(n));
  return [...required, ...optional].map((n) => [n, props[n]]);
}

function humanize(name) {
  const words = name.replaceAll("_", " ").trim();
  return words ? words[0].toUpperCase() + words.slice(1) : name;
}

function objectField(ctx, schema, spec) {
  const box = shell(spec, "object", null);
  const included = toggled(box, spec);
  const required = new Set(schema.required || []);
  const fields = fieldOrder(schema).map(([name, sub]) => {
    const shown = resolve(ctx.root, sub);
    const field = makeField(ctx, sub, {
      key: name,
      label: shown.title || humanize(name),
      description: shown.description,
      required: required.has(name),
      depth: spec.depth + 1,
    });
    children(box).append(field.box);
    return [name, field];
  });
  const read = (path) => {
    if (!included()) return MISSING;
    const out = {};
    for (const [name, field] of fields) {
      const value = field.read([...path, name]);
      if (value !== MISSING) out[name] = value;
    }
    return out;
  };
  return { box, read };
}

function arrayField(ctx, schema, spec) {
  const box = shell(spec, "array", null);
  const items = [];
  const add = el("button", { type: "button", class: "add", text: "+ add item" });
  children(box).after(add);
  const included = toggled(box, spec);
  const itemSchema = schema.items || {};
  add.addEventListener("click", () => {
    const field = makeField(ctx, itemSchema, { label: "item", required: true, depth: spec.depth + 1 });
    const remove = el("button", { type: "button", class: "remove", text: "remove" });
    remove.setAttribute("aria-label", `remove this ${spec.label} item`);
    field.box.prepend(remove);
    remove.addEventListener("click", () => {
      items.splice(items.indexOf(field), 1);
      field.box.remove();
    });
    items.push(field);
    children(box).append(field.box);
    (field.box.querySelector("input, select, textarea") || add).focus();
  });
  const read = (path) => {
    if (!included()) return MISSING;
    return items.map((f, i) => f.read([...path, i])).filter((v) => v !== MISSING);
  };
  return { box, read };
}

function tupleField(ctx, schema, spec) {
  const box = shell(spec, "tuple", null);
  const included = toggled(box, spec);
  const fields = schema.prefixItems.map((sub, i) => {
    const shown = resolve(ctx.root, sub);
    const field = makeField(ctx, sub, {
      key: i,
      label: shown.title || `item ${i}`,
      description: shown.description,
      required: true,
      depth: spec.depth + 1,
    });
    children(box).append(field.box);
    return field;
  });
  const read = (path) => (included() ? fields.map((f, i) => f.read([...path, i])) : MISSING);
  return { box, read };
}

// anyOf/oneOf of several non-null forms: pick one, then fill it in.
function unionField(ctx, branches, schema, spec) {
  const select = el("select", {});
  if (!spec.required) select.append(el("option", { value: "", text: "—" }));
  branches.forEach((b, i) => {
    const shown = resolve(ctx.root, b);
    const name = isNull(shown) ? "none (null)" : shown.title || shown.type || `form ${i + 1}`;
    select.append(el("option", { value: String(i), text: String(name) }));
  });
  const box = shell(spec, "union", select);
  let current = null;
  const show = () => {
    children(box).replaceChildren();
    current = null;
    if (select.value === "") return;
    const branch = branches[Number(select.value)];
    current = makeField(ctx, branch, { label: "value", required: true, depth: spec.depth + 1 });
    children(box).append(current.box);
  };
  select.addEventListener("change", show);
  show();
  return { box, read: (path) => (current ? current.read(path) : MISSING) };
}

export function makeField(ctx, rawSchema, spec) {
  const schema = resolve(ctx.root, rawSchema);
  const label = spec.label || schema.title || "value";
  const base = { ...spec, label, description: spec.description ?? schema.description };
  if (spec.depth > MAX_FORM_DEPTH) return jsonField(ctx, schema, base);
  const branches = schema.anyOf || schema.oneOf;
  if (Array.isArray(branches)) {
    const forms = branches.filter((b) => !isNull(resolve(ctx.root, b)));
    const nullable = forms.length < branches.length;
    if (forms.length === 1) {
      const inner = { ...resolve(ctx.root, forms[0]), title: schema.title, description: schema.description };
      if (Object.hasOwn(schema, "default")) inner.default = schema.default;
      return makeField(ctx, inner, { ...base, nullable });
    }
    return unionField(ctx, branches, schema, { ...base, nullable });
  }
  if (Array.isArray(schema.enum)) return choiceField(ctx, schema.enum, schema, base);
  if (Object.hasOwn(schema, "const")) {
    if (!base.required) return choiceField(ctx, [schema.const], schema, base);
    return constField(schema, base); // a union's tag: nothing to choose
  }
  const types = Array.isArray(schema.type) ? schema.type : [schema.type];
  const type = types.find((t) => t !== "null");
  const spec2 = { ...base, nullable: base.nullable || types.includes("null") };
  if (type === "object" && schema.properties && !schema.additionalProperties) {
    return objectField(ctx, schema, spec2);
  }
  if (type === "array" && Array.isArray(schema.prefixItems) && !schema.items) {
    return tupleField(ctx, schema, spec2);
  }
  if (type === "array") return arrayField(ctx, schema, spec2);
  if (type === "boolean") return booleanField(ctx, schema, spec2);
  if (["string", "integer", "number"].includes(type)) return textField(ctx, schema, spec2, type);
  return jsonField(ctx, schema, spec2);
}

// The deepest field an error path reaches; the rest of the path goes into the message.
function locate(rootBox, path) {
  let box = rootBox;
  let i = 0;
  while (i < path.length) {
    if (box.dataset.kind === "union") {
      const inner = children(box).querySelector(":scope > .field");
      if (!inner) break;
      box = inner;
      continue;
    }
    const kids = [...children(box).querySelectorAll(":scope > .field")];
    const child = (seg) =>
      box.dataset.kind === "array" ? kids[Number(seg)] : kids.find((k) => k.dataset.key === String(seg));
    let next = child(path[i]);
    // The server's place may name a union's branch (["pet", "cat", "lives"]): skip that step.
    if (!next && i + 1 < path.length && child(path[i + 1])) {
      i += 1;
      next = child(path[i]);
    }
    if (!next) break;
    box = next;
    i += 1;
  }
  return { box, rest: path.slice(i) };
}

export function buildForm(container, schema) {
  const ctx = { root: schema, problems: [] };
  const root = makeField(ctx, schema, { label: schema.title || "data", required: true, depth: 0 });
  root.box.classList.add("field-root");
  container.replaceChildren(root.box);
  return {
    read() {
      ctx.problems = [];
      const value = root.read([]);
      return { value: value === MISSING ? undefined : value, problems: ctx.problems };
    },
    clearErrors() {
      for (const p of container.querySelectorAll(".field-error")) {
        p.hidden = true;
        p.textContent = "";
      }
      for (const c of container.querySelectorAll("[aria-invalid]")) c.removeAttribute("aria-invalid");
    },
    showError(path, message) {
      const { box, rest } = locate(root.box, path);
      const holder = box.querySelector(":scope > .field-error");
      const text = rest.length ? `${rest.join(".")}: ${message}` : message;
      holder.textContent = holder.textContent ? `${holder.textContent}; ${text}` : text;
      holder.hidden = false;
      const control = box.querySelector(":scope > input, :scope > select, :scope > textarea");
      if (control) control.setAttribute("aria-invalid", "true");
    },
  };
}
