/** The queue reasons to push by, as a native multi-select (keyboard: arrows, Shift/Ctrl to add); none chosen is
 * "any reason". */

import type { Reason } from "../../api/endpoints";
import { REASONS } from "./words";

interface Props {
  id: string;
  label: string;
  value: readonly Reason[];
  onChange: (reasons: Reason[]) => void;
}

export function ReasonSelect({ id, label, value, onChange }: Props) {
  return (
    <>
      <label for={id}>{label}</label>
      <select id={id} multiple size={Math.min(REASONS.length, 5)} data-testid={id} aria-describedby={`${id}-hint`}
              onChange={(e) => onChange(Array.from(e.currentTarget.options).filter((o) => o.selected)
                .map((o) => o.value as Reason))}>
        {REASONS.map((r) => (
          <option key={r.value} value={r.value} selected={value.includes(r.value)}>{r.label}</option>
        ))}
      </select>
      <p class="hint" id={`${id}-hint`}>None chosen: any reason. Hold Ctrl (⌘ on a Mac) or Shift to choose several.</p>
    </>
  );
}
