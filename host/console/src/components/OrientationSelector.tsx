/** Portrait (the default) or landscape: one click; it sets the video generator's own `orientation`. */
export type Orientation = "portrait" | "landscape";

export function OrientationSelector({ value, onChange }: {
  value: Orientation;
  onChange: (value: Orientation) => void;
}) {
  const options: { value: Orientation; label: string }[] = [
    { value: "portrait", label: "Portrait" },
    { value: "landscape", label: "Landscape" },
  ];
  return (
    <div className="orientation" role="radiogroup" aria-label="Orientation">
      {options.map((o) => (
        <button
          key={o.value}
          type="button"
          role="radio"
          aria-checked={value === o.value}
          className={value === o.value ? "selected" : ""}
          data-testid={`orientation-${o.value}`}
          onClick={() => onChange(o.value)}
        >
          <span className={`shape ${o.value}`} aria-hidden="true" />
          {o.label}
        </button>
      ))}
    </div>
  );
}

/** Whether a params schema has an orientation field the selector can drive. */
export function hasOrientation(schema: { properties?: Record<string, unknown> } | undefined): boolean {
  const field = schema?.properties?.orientation as { enum?: string[]; $ref?: string; allOf?: unknown[] } | undefined;
  return Boolean(field);
}
