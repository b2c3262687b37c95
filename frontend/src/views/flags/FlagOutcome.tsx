/** QA on a count flag: the flagger's numbers and the annotator's count, instead of a box agreement with a
 * pre-label that a count flag does not have. */

import type { AnnotationVersion, CountFlagContext } from "../../api/shapes";
import { authorOf } from "../../api/shapes";
import { FlagNumbers, windowText } from "./FlagNumbers";

export function FlagOutcome({ flag, latest }: { flag: CountFlagContext; latest: AnnotationVersion }) {
  return (
    <div class="stack" data-testid="qa-count-flag">
      <p>Count flag #{flag.id} on {flag.camera.name}: {windowText(flag.window_start, flag.window_end)}</p>
      <FlagNumbers flag={flag} reviewed={{ label: `${authorOf(latest)} counted`, count: latest.count }}
                   testId="qa-flag-numbers" />
      {flag.note && <p class="flag-note" data-testid="qa-flag-note">{flag.note}</p>}
    </div>
  );
}
