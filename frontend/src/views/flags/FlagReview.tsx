/**
 * Reviewing a count flag: someone who watched the camera says the model's count over a window is wrong. The
 * reviewer reads their note and both counts, steps through the window's frames and clips (← →), and enters
 * the true count, which is submitted as the item's annotation (`count`, no boxes).
 */

import { useEffect, useRef, useState } from "preact/hooks";
import { assetUrl } from "../../api/endpoints";
import type { ClaimedItem, CountFlagContext } from "../../api/shapes";
import type { SubmitBody } from "../editor/FrameEditor";
import { ErrorBanner } from "../../ui/ErrorBanner";
import { FlagNumbers, windowText } from "./FlagNumbers";
import "./flags.css";

interface Props {
  item: ClaimedItem;
  flag: CountFlagContext;
  onSubmit: (body: SubmitBody) => Promise<void>;
  onSkip: () => Promise<void>;
}

/** Keys typed into a field are the field's, not the stepper's. */
function typing(target: EventTarget | null): boolean {
  return target instanceof HTMLElement && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
}

export function FlagReview({ item, flag, onSubmit, onSkip }: Props) {
  const [index, setIndex] = useState(0);
  const [count, setCount] = useState("");
  const [note, setNote] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const startedAt = useRef(new Date());
  const assets = flag.assets;
  const asset = assets[index];
  const step = (by: number) => setIndex((i) => Math.min(Math.max(0, i + by), Math.max(0, assets.length - 1)));

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (typing(e.target) || e.altKey || e.ctrlKey || e.metaKey) return;
      if (e.key === "ArrowRight") { e.preventDefault(); step(1); }
      else if (e.key === "ArrowLeft") { e.preventDefault(); step(-1); }
      else if (e.key === "Home") { e.preventDefault(); setIndex(0); }
      else if (e.key === "End") { e.preventDefault(); setIndex(Math.max(0, assets.length - 1)); }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [assets.length]);

  const submit = async (e: Event) => {
    e.preventDefault();
    const value = Number(count);
    if (count.trim() === "" || !Number.isInteger(value) || value < 0) {
      setError(new Error("Enter the true count: a whole number, 0 or more."));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await onSubmit({ lease_token: item.lease_token, boxes: [], count: value,
                       verdict: value === flag.model_count ? "confirm" : "correct", note,
                       started_at: startedAt.current.toISOString() });
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="flag-review" data-testid="flag-review">
      <div class="stack">
        <h1>Count flag #{flag.id} · {flag.camera.name}</h1>
        <p data-testid="flag-review-window">Window: {windowText(flag.window_start, flag.window_end)}</p>
        <div class="flag-media" data-testid="flag-review-media">
          {!asset && <p>No frames or clips were recorded in this window.</p>}
          {asset?.kind === "clip" && (
            <video key={asset.sha256} src={assetUrl(asset.sha256)} controls preload="metadata"
                   data-testid="flag-review-clip" />
          )}
          {asset && asset.kind !== "clip" && (
            <img key={asset.sha256} src={assetUrl(asset.sha256)} alt={`Frame ${index + 1} of ${assets.length}`}
                 data-testid="flag-review-frame" data-sha256={asset.sha256} />
          )}
        </div>
        <div class="row">
          <button type="button" onClick={() => step(-1)} disabled={index === 0} data-testid="flag-review-prev"
                  aria-keyshortcuts="ArrowLeft">← Previous</button>
          <span data-testid="flag-review-position" aria-live="polite">
            {assets.length ? `${asset?.kind === "clip" ? "Clip" : "Frame"} ${index + 1} of ${assets.length}` : "0 of 0"}
            {asset && ` · ${new Date(asset.captured_at).toLocaleTimeString()}`}
          </span>
          <button type="button" onClick={() => step(1)} disabled={index >= assets.length - 1}
                  data-testid="flag-review-next" aria-keyshortcuts="ArrowRight">Next →</button>
          <span class="hint">← → step, Home / End jump</span>
        </div>
      </div>
      <form class="card stack" onSubmit={submit} aria-label="The true count">
        <FlagNumbers flag={flag} />
        <div>
          <h2>Note from {flag.flagged_by}</h2>
          {flag.note ? <p class="flag-note" data-testid="flag-review-note">{flag.note}</p>
            : <p class="muted" data-testid="flag-review-note">No note.</p>}
        </div>
        <label>
          True count in this window
          <input type="number" min={0} step={1} required value={count} data-testid="flag-review-count"
                 onInput={(e) => setCount(e.currentTarget.value)} />
        </label>
        <label>
          Your note (optional)
          <textarea value={note} maxLength={4000} data-testid="flag-review-comment" onInput={(e) => setNote(e.currentTarget.value)} />
        </label>
        <div class="row">
          <button type="submit" class="primary" disabled={busy} data-testid="flag-review-submit">Submit count</button>
          <button type="button" disabled={busy} onClick={() => void onSkip()} data-testid="flag-review-skip">Skip</button>
        </div>
        <ErrorBanner error={error} />
      </form>
    </section>
  );
}
