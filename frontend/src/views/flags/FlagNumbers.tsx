/** A count flag's numbers side by side: what the person saw, what the model counted, and (when there is one)
 * the count a reviewer gave. One component, so the form, the review, QA and the flag list say it alike. */

import type { CountFlagContext } from "../../api/shapes";
import "./flags.css";

export function windowText(start: string, end: string): string {
  const from = new Date(start);
  const to = new Date(end);
  const minutes = Math.round((to.getTime() - from.getTime()) / 60_000);
  const sameDay = from.toDateString() === to.toDateString();
  return `${from.toLocaleString()} – ${sameDay ? to.toLocaleTimeString() : to.toLocaleString()} (${minutes} min)`;
}

interface Props {
  flag: Pick<CountFlagContext, "observed_count" | "model_count" | "flagged_by">;
  /** The reviewer's count, and whose it is ("Annotator", "Reviewed"). */
  reviewed?: { label: string; count: number | null };
  testId?: string;
}

export function FlagNumbers({ flag, reviewed, testId = "flag-numbers" }: Props) {
  return (
    <dl class="flag-numbers" data-testid={testId}>
      <div><dt>{flag.flagged_by} saw</dt><dd data-testid={`${testId}-observed`}>{flag.observed_count}</dd></div>
      <div><dt>Model counted</dt><dd data-testid={`${testId}-model`}>{flag.model_count}</dd></div>
      {reviewed && (
        <div><dt>{reviewed.label}</dt><dd data-testid={`${testId}-reviewed`}>{reviewed.count ?? "—"}</dd></div>
      )}
    </dl>
  );
}
