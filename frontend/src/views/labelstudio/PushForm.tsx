/**
 * Push items now: the pending still images matching the reasons and lowest priority, highest priority first, up to
 * a limit, become Label Studio tasks (an item with a task there is never sent twice). The answer is one sentence.
 */

import { useState } from "preact/hooks";
import { type LabelStudioPush, type LabelStudioPushResult, type Reason, pushToLabelStudio } from "../../api/endpoints";
import { ErrorBanner } from "../../ui/ErrorBanner";
import { ReasonSelect } from "./ReasonSelect";
import { MAX_PUSH, describePush } from "./words";

/** The request body, or what to fix first (checked here, before any request). */
export function pushBody(reasons: Reason[], minPriority: string, limit: string): LabelStudioPush | string {
  const max = Number(limit.trim());
  if (!/^\d+$/.test(limit.trim()) || max < 1 || max > MAX_PUSH) {
    return `Push at most a whole number of items from 1 to ${MAX_PUSH.toLocaleString("en")}.`;
  }
  const priority = minPriority.trim();
  const min = priority ? Number(priority) : undefined;
  if (min !== undefined && !(min >= 0 && min <= 1)) return "The lowest priority is a number from 0 to 1, or leave it empty.";
  return { limit: max, ...(reasons.length ? { reasons } : {}), ...(min !== undefined ? { min_priority: min } : {}) };
}

export function PushForm({ project, onPushed }: { project: number; onPushed: () => void }) {
  const [reasons, setReasons] = useState<Reason[]>([]);
  const [minPriority, setMinPriority] = useState("");
  const [limit, setLimit] = useState("1000");
  const [result, setResult] = useState<LabelStudioPushResult | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    setResult(null);
    const body = pushBody(reasons, minPriority, limit);
    if (typeof body === "string") {
      setError(new Error(body));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      setResult(await pushToLabelStudio(project, body));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
      onPushed(); // a failed push may still have sent some batches: the numbers follow either way
    }
  };

  return (
    <form class="stack labelstudio-push" noValidate onSubmit={(e) => void submit(e)} data-testid="ls-push-form"
          aria-labelledby="ls-push-title">
      <h2 id="ls-push-title">Push items to Label Studio</h2>
      <p class="hint">Pending still images (clips stay in Loupe), highest priority first. They leave Loupe's queue
        until their annotation comes back, or the task is deleted there.</p>
      <ReasonSelect id="ls-push-reasons" label="Reasons" value={reasons} onChange={setReasons} />
      <div class="row align-start">
        <div class="stack tight">
          <label for="ls-push-min-priority">Lowest priority (0 to 1, optional)</label>
          <input id="ls-push-min-priority" class="number" type="number" min={0} max={1} step={0.05} value={minPriority}
                 data-testid="ls-push-min-priority" onInput={(e) => setMinPriority(e.currentTarget.value)} />
        </div>
        <div class="stack tight">
          <label for="ls-push-limit">At most</label>
          <input id="ls-push-limit" class="number" type="number" min={1} max={MAX_PUSH} step={1} value={limit}
                 data-testid="ls-push-limit" onInput={(e) => setLimit(e.currentTarget.value)} />
        </div>
      </div>
      <div class="row">
        <button type="submit" class="primary" disabled={busy} data-testid="ls-push">
          {busy ? "Pushing…" : "Push to Label Studio"}</button>
      </div>
      <ErrorBanner error={error} testId="ls-push-error" />
      {result && <p role="status" class="banner banner-ok" data-testid="ls-push-result">{describePush(result)}</p>}
    </form>
  );
}
