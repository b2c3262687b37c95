/**
 * The work loop: claim an item, decode its image, hand it to the frame editor or the clip reviewer.
 * On submit the next item is claimed and decoded alongside the submit request, while the current one stays
 * on screen, so the switch shows a fully decoded image at once. Leaving the view releases the lease.
 */

import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { assetUrl, claimNext, frameUrl, readProject, release, submit } from "../../api/endpoints";
import { ApiError } from "../../api/errors";
import type { ClaimedItem } from "../../api/shapes";
import { href } from "../../router";
import { ErrorBanner } from "../../ui/ErrorBanner";
import { useAsync } from "../../ui/useAsync";
import { ClipReviewer } from "../clip/ClipReviewer";
import { FrameEditor, type SubmitBody } from "./FrameEditor";
import { loadImage } from "./media";

interface Work {
  item: ClaimedItem;
  image: HTMLImageElement;
}

const REASONS = ["", "low_confidence", "disputed", "model_disagreement", "ood", "audit_sample", "count_flag", "qa",
                 "uncertainty", "policy_rule"] as const;

/** Claim and decode; an item without an asset cannot be shown, so it is released and reported. */
async function claimAndDecode(project: number, reason: string): Promise<Work | null> {
  const item = await claimNext(project, reason ? { reason: reason as never } : {});
  if (!item) return null;
  if (!item.asset) {
    await release(item.id, item.lease_token);
    throw new Error(`Item ${item.id} has no media to show.`);
  }
  const url = item.asset.kind === "clip" ? frameUrl(item.asset.sha256, 0) : assetUrl(item.asset.sha256);
  return { item, image: await loadImage(url) };
}

export function AnnotateView({ project }: { project: number }) {
  const detail = useAsync(() => readProject(project), [project]);
  const [work, setWork] = useState<Work | null>(null);
  const [empty, setEmpty] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [reason, setReason] = useState("");
  const current = useRef<Work | null>(null);
  current.current = work;

  /** Show what a claim brings (an item, or the empty queue), or its error. */
  const show = useCallback(async (claimed: Promise<Work | null>) => {
    setBusy(true);
    setError(null);
    try {
      const w = await claimed;
      setWork(w);
      setEmpty(w === null);
    } catch (err) {
      setWork(null);
      setError(err);
    } finally {
      setBusy(false);
    }
  }, []);
  const next = useCallback(() => show(claimAndDecode(project, reason)), [show, project, reason]);

  useEffect(() => () => {
    const w = current.current;
    if (w) void release(w.item.id, w.item.lease_token).catch(() => undefined);
  }, []);

  const onSubmit = async (body: SubmitBody) => {
    if (!work) return;
    // Claim (and decode) the next item while the submit is in flight: the current item is leased, so the claim
    // cannot hand it out again, and the switch waits for the slower of the two instead of both in turn.
    const upcoming = claimAndDecode(project, reason);
    upcoming.catch(() => undefined); // its error is shown by show() below, or moot if the submit fails
    try {
      await submit(work.item.id, body);
    } catch (err) {
      void upcoming.then((w) => w && release(w.item.id, w.item.lease_token)).catch(() => undefined);
      throw err;
    }
    current.current = null;
    await show(upcoming);
  };
  const onSkip = async () => {
    if (!work) return;
    try {
      await release(work.item.id, work.item.lease_token);
    } catch (err) {
      if (!(err instanceof ApiError && err.leaseLost)) throw err;
    }
    current.current = null;
    await next();
  };

  const labels = detail.data?.label_classes ?? [];
  if (work && detail.data) {
    return work.item.asset?.kind === "clip"
      ? <ClipReviewer key={work.item.id} item={work.item} firstFrame={work.image} labels={labels} onSubmit={onSubmit} onSkip={onSkip} />
      : <FrameEditor key={work.item.id} item={work.item} image={work.image} labels={labels} onSubmit={onSubmit} onSkip={onSkip} />;
  }
  return (
    <section class="card stack claim">
      <h1>{detail.data?.name ?? "Project"}: annotate</h1>
      <ErrorBanner error={error ?? detail.error} />
      {empty && <p data-testid="queue-empty">Nothing left in the queue for you. <a href={href.dashboard(project)}>Back to the queue</a></p>}
      <label>
        Only items queued for
        <select value={reason} onChange={(e) => setReason(e.currentTarget.value)} data-testid="claim-reason">
          {REASONS.map((r) => <option value={r} key={r}>{r || "any reason"}</option>)}
        </select>
      </label>
      <button type="button" class="primary" disabled={busy || !detail.data} onClick={() => void next()}
              data-testid="claim-button">
        {busy ? "Claiming…" : "Claim next item"}
      </button>
    </section>
  );
}
