/**
 * The work loop: claim an item, decode its image, hand it to the frame editor or the clip reviewer.
 * While one item is on screen the next is already claimed (its own lease, kept alive here) and its image
 * decoded, so submit or skip shows it at once; then the one after is prefetched. Leaving the view releases
 * both leases.
 */

import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { assetUrl, claimNext, frameUrl, heartbeat, readProject, release, submit } from "../../api/endpoints";
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

/** The prefetched item's lease is renewed this often while it waits (leases last minutes). */
const PREFETCH_HEARTBEAT_MS = 60_000;

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

export function AnnotateView({ project, initialReason = "" }: { project: number; initialReason?: string }) {
  const detail = useAsync(() => readProject(project), [project]);
  const [work, setWork] = useState<Work | null>(null);
  const [empty, setEmpty] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [reason, setReason] = useState(initialReason);
  const current = useRef<Work | null>(null);
  current.current = work;
  /** The next item, claimed and decoded ahead (null: the queue had nothing more). */
  const prefetched = useRef<Promise<Work | null> | null>(null);

  const prefetch = useCallback(() => {
    const upcoming = claimAndDecode(project, reason);
    upcoming.catch(() => undefined); // shown when it is used
    prefetched.current = upcoming;
  }, [project, reason]);
  /** The prefetched item if there is one (or a claim now), and a new prefetch behind it. */
  const takeNext = useCallback((): Promise<Work | null> => {
    const upcoming = prefetched.current ?? claimAndDecode(project, reason);
    prefetched.current = null;
    return upcoming;
  }, [project, reason]);

  /** Show what a claim brings (an item, or the empty queue), or its error; then prefetch the next. */
  const show = useCallback(async (claimed: Promise<Work | null>) => {
    setBusy(true);
    setError(null);
    try {
      const w = await claimed;
      current.current = w;
      setWork(w);
      setEmpty(w === null);
      if (w !== null) prefetch();
    } catch (err) {
      setWork(null);
      setError(err);
    } finally {
      setBusy(false);
    }
  }, [prefetch]);
  const next = useCallback(() => show(takeNext()), [show, takeNext]);

  // Keep the waiting item's lease alive; give both leases back when the view goes away.
  useEffect(() => {
    const timer = window.setInterval(() => {
      void prefetched.current?.then((w) => w && heartbeat(w.item.id, w.item.lease_token)).catch(() => undefined);
    }, PREFETCH_HEARTBEAT_MS);
    return () => window.clearInterval(timer);
  }, []);
  useEffect(() => () => {
    const w = current.current;
    if (w) void release(w.item.id, w.item.lease_token).catch(() => undefined);
    void prefetched.current?.then((p) => p && release(p.item.id, p.item.lease_token)).catch(() => undefined);
  }, []);

  const onSubmit = async (body: SubmitBody) => {
    if (!work) return;
    await submit(work.item.id, body); // on failure the editor shows why; the prefetched item keeps waiting
    current.current = null;
    await next();
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
