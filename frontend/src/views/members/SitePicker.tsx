import type { SiteRow } from "../../api/endpoints";

/** Checkboxes for the sites a manager or operator may see; `idPrefix` keeps ids unique on the page. */
export function SitePicker({ sites, chosen, onChange, idPrefix, errorId, hasError }: {
  sites: readonly SiteRow[]; chosen: readonly number[]; onChange: (ids: number[]) => void; idPrefix: string;
  errorId: string; hasError: boolean;
}) {
  if (sites.length === 0) return <p class="muted">This project has no sites yet: register a device first.</p>;
  const toggle = (id: number, on: boolean) =>
    onChange(on ? [...chosen.filter((c) => c !== id), id] : chosen.filter((c) => c !== id));
  return (
    <fieldset aria-describedby={hasError ? errorId : undefined} aria-invalid={hasError ? true : undefined}>
      <legend>Sites</legend>
      {sites.map((site, i) => (
        <label key={site.id}>
          <input type="checkbox" id={`${idPrefix}-site-${site.id}`} data-testid={`${idPrefix}-site-${site.id}`}
                 data-field={i === 0 ? "sites" : undefined} checked={chosen.includes(site.id)}
                 onChange={(e) => toggle(site.id, e.currentTarget.checked)} />
          {site.name}
        </label>
      ))}
    </fieldset>
  );
}
