/**
 * The form of a generator's params, generated from its JSON Schema by @rjsf/core: prompts as text
 * areas, enums as selects, bounded numbers with their bounds shown, defaults filled. Errors that the
 * API answers (422 details naming a field) are shown next to that field.
 */
import Form from "@rjsf/core";
import type { ErrorSchema, RJSFSchema, UiSchema } from "@rjsf/utils";
import validator from "@rjsf/validator-ajv8";
import type { ReactNode } from "react";

type Json = Record<string, unknown>;

/** Pydantic's `X | None` is `anyOf: [X, {type: null}]`; a form wants just X (left empty = not sent). */
export function simplifySchema(schema: Json): Json {
  const out: Json = { ...schema };
  const anyOf = schema.anyOf as Json[] | undefined;
  if (anyOf && anyOf.length === 2 && anyOf.some((b) => b.type === "null")) {
    const branch = anyOf.find((b) => b.type !== "null") as Json;
    delete out.anyOf;
    Object.assign(out, simplifySchema(branch));
    if (out.default === null) delete out.default;
  }
  if (schema.properties) {
    out.properties = Object.fromEntries(
      Object.entries(schema.properties as Record<string, Json>).map(([k, v]) => [k, simplifySchema(v)]),
    );
  }
  if (schema.$defs) {
    out.$defs = Object.fromEntries(
      Object.entries(schema.$defs as Record<string, Json>).map(([k, v]) => [k, simplifySchema(v)]),
    );
  }
  return out;
}

/** How each field is drawn: long strings as text areas, bounded numbers with their range in the help. */
export function uiSchemaFor(schema: Json, hidden: string[] = []): UiSchema {
  const ui: UiSchema = { "ui:submitButtonOptions": { norender: true } };
  const props = (schema.properties ?? {}) as Record<string, Json>;
  const order = ["prompt", "*"];
  ui["ui:order"] = order.filter((k) => k === "*" || k in props);
  for (const [name, field] of Object.entries(props)) {
    const entry: Record<string, unknown> = {};
    if (hidden.includes(name)) entry["ui:widget"] = "hidden";
    else if (field.type === "string" && !field.enum &&
      (name.includes("prompt") || name === "text" || Number(field.maxLength ?? 0) > 1000)) {
      entry["ui:widget"] = "textarea";
      entry["ui:options"] = { rows: name === "prompt" ? 4 : 2 };
    } else if ((field.type === "integer" || field.type === "number") &&
      field.minimum !== undefined && field.maximum !== undefined) {
      entry["ui:help"] = `from ${field.minimum} to ${field.maximum}`;
    }
    ui[name] = entry;
  }
  return ui;
}

/** API error details (`params.prompt`, `prompt`) → rjsf's error schema for those fields. */
export function errorsFromApi(details: { field?: string; message?: string }[]): ErrorSchema {
  const errors: Record<string, { __errors: string[] }> = {};
  for (const d of details) {
    const field = (d.field ?? "").replace(/^params\.?/, "").split(".")[0];
    if (!field) continue;
    (errors[field] ??= { __errors: [] }).__errors.push(d.message ?? "invalid");
  }
  return errors as unknown as ErrorSchema;
}

export function SchemaForm({ schema, value, onChange, onSubmit, hidden = [], apiErrors = [], children, id }: {
  schema: Json;
  value: Json;
  onChange: (value: Json) => void;
  onSubmit: (value: Json) => void;
  hidden?: string[];
  apiErrors?: { field?: string; message?: string }[];
  children?: ReactNode;
  id?: string;
}) {
  const simple = simplifySchema(schema) as RJSFSchema;
  return (
    <Form
      id={id}
      schema={simple}
      uiSchema={uiSchemaFor(simple as Json, hidden)}
      formData={value}
      validator={validator}
      extraErrors={errorsFromApi(apiErrors)}
      showErrorList={false}
      noHtml5Validate
      onChange={(e) => onChange((e.formData ?? {}) as Json)}
      onSubmit={(e) => onSubmit((e.formData ?? {}) as Json)}
    >
      {children}
    </Form>
  );
}
