/**
 * The work loop: claim an item, decode its image, hand it to the frame editor or the clip reviewer.
 *
 * Leases never pile up (DESIGN.md, "Work comes back to its owner"):
 * - While one item is on screen the next is claimed ahead as a *prefetch* (a short lease, at most one per
 *   person, server-enforced) and its image decoded, so submit or skip shows it at once. Its lease is kept
 *   alive only while the person is active; after an idle spell, and when the page is hidden for good
 *   (pagehide), it is given back.
 * - When the prefetched item comes on screen it is promoted to the current lease before the next prefetch.
 * - A reload resumes: the tab remembers it was working (sessionStorage) and claims again at once, and the
 *   server hands back the person's own leased item first.
 * - Skip tells the server, which does not offer the item to this person again for a while.
 */

import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import {
  assetUrl, claimNext, frameUrl, heartbeat, readProject, release, releaseOnUnload, skip, submit,
} from "../../api/endpoints";
import { ApiError } from "../../api/errors";
import type { ClaimedItem } from "../../api/shapes";
import { href } from "../../router";
import { ErrorBanner } from "../../ui/ErrorBanner";
import { useAsync } from "../../ui/useAsync";
import { ClipReviewer } from "../clip/ClipReviewer";
import { FlagReview } from "../flags/FlagReview";
import { FrameEditor, type SubmitBody } from "./FrameEditor";
import { loadImage } from "./media";

interface Work {
  item: ClaimedItem;
  image: HTMLImageElement;
}

/** The prefetched item's short lease is renewed this often while the person is active. */
const PREFETCH_HEARTBEAT_MS = 30_000;
/** No key, click or pointer move for this long: the person is away, so the prefetched item goes back. */
export const IDLE_MS = 3 * 60_000;

const REASONS = ["", "low_confidence", "disputed", "model_disagreement", "ood", "audit_sample", "count_flag", "qa",
                 "uncertainty", "policy_rule"] as const;

const workingKey = (project: number) => `loupe.working.${project}`;

/** Claim and decode; an item without an asset cannot be shown, so it is released and reported. */
async function claimAndDecode(project: number, reason: string, prefetch: boolean): Promise<Work | null> {
  const item = await claimNext(project, { ...(reason ? { reason: reason as never } : {}), prefetch });
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
  /** The next item, claimed (as a prefetch) and decoded ahead; null: none asked for. */
  const prefetched = useRef<Promise<Work | null> | null>(null);
  /** The same item once its claim has answered (for heartbeats and pagehide, which cannot wait). */
  const prefetchedWork = useRef<Work | null>(null);
  const lastActive = useRef(Date.now());

  const dropPrefetch = useCallback((how: "release" | "beacon") => {
    const waiting = prefetchedWork.current;
    prefetched.current = null;
    prefetchedWork.current = null;
    if (!waiting) return;
    if (how === "beacon") releaseOnUnload(waiting.item.id, waiting.item.lease_token);
    else void release(waiting.item.id, waiting.item.lease_token).catch(() => undefined);
  }, []);

  const prefetch = useCallback(() => {
    const upcoming = claimAndDecode(project, reason, true);
    prefetched.current = upcoming;
    upcoming.then((w) => { if (prefetched.current === upcoming) prefetchedWork.current = w; }, () => undefined);
  }, [project, reason]);

  /** Show what a claim brings (an item, or the empty queue), or its error; then prefetch the next. A
   * prefetched item is promoted to the current lease first; if its short lease ran out meanwhile, a fresh
   * claim replaces it. */
  const show = useCallback(async (claimed: Promise<Work | null>, fromPrefetch: boolean) => {
    setBusy(true);
    setError(null);
    try {
      let w = await claimed;
      const put = (shown: Work | null) => {
        current.current = shown;
        setWork(shown);
        setEmpty(shown === null);
      };
      put(w); // on screen at once; the lease catches up below
      if (w && fromPrefetch) {
        try {
          await heartbeat(w.item.id, w.item.lease_token, false);
        } catch (err) {
          if (!(err instanceof ApiError && err.leaseLost)) throw err;
          w = await claimAndDecode(project, reason, false); // its short lease ran out meanwhile
          put(w);
        }
      }
      if (w !== null) {
        sessionStorage.setItem(workingKey(project), "1");
        prefetch();
      } else {
        sessionStorage.removeItem(workingKey(project));
      }
    } catch (err) {
      setWork(null);
      setError(err);
    } finally {
      setBusy(false);
    }
  }, [prefetch, project, reason]);

  const next = useCallback(() => {
    const waiting = prefetched.current;
    prefetched.current = null;
    prefetchedWork.current = null;
    return show(waiting ?? claimAndDecode(project, reason, false), waiting !== null);
  }, [show, project, reason]);

  // A reload of a working tab: claim at once (the server gives back this person's own item first).
  const resume = useRef(next);
  useEffect(() => {
    if (sessionStorage.getItem(workingKey(project))) void resume.current();
  }, [project]);

  // Keep the waiting item's short lease alive while the person is active; give it back when they are away.
  useEffect(() => {
    const active = () => { lastActive.current = Date.now(); };
    const events = ["keydown", "pointerdown", "pointermove", "wheel"] as const;
    events.forEach((e) => window.addEventListener(e, active, { passive: true }));
    const timer = window.setInterval(() => {
      const waiting = prefetchedWork.current;
      if (!waiting) return;
      if (Date.now() - lastActive.current > IDLE_MS) {
        dropPrefetch("release");
        return;
      }
      void heartbeat(waiting.item.id, waiting.item.lease_token, true).catch(() => undefined);
    }, PREFETCH_HEARTBEAT_MS);
    return () => {
      window.clearInterval(timer);
      events.forEach((e) => window.removeEventListener(e, active));
    };
  }, [dropPrefetch]);

  // The tab is going away (close, reload, navigation): the prefetched item goes back now; the current one
  // stays this person's, so a reload brings it back.
  useEffect(() => {
    const onHide = () => dropPrefetch("beacon");
    window.addEventListener("pagehide", onHide);
    return () => window.removeEventListener("pagehide", onHide);
  }, [dropPrefetch]);

  // Leaving the view inside the app gives both leases back.
  useEffect(() => () => {
    const w = current.current;
    if (w) void release(w.item.id, w.item.lease_token).catch(() => undefined);
    void prefetched.current?.then((p) => p && release(p.item.id, p.item.lease_token)).catch(() => undefined);
    sessionStorage.removeItem(workingKey(project));
  }, [project]);

  const onSubmit = async (body: SubmitBody) => {
    if (!work) return;
    await submit(work.item.id, body); // on failure the editor shows why; the prefetched item keeps waiting
    current.current = null;
    await next();
  };
  const onSkip = async (why = "") => {
    if (!work) return;
    try {
      await skip(work.item.id, work.item.lease_token, why);
    } catch (err) {
      if (!(err instanceof ApiError && err.leaseLost)) throw err;
    }
    current.current = null;
    await next();
  };
  const changeReason = (value: string) => {
    dropPrefetch("release"); // it was claimed for the old filter
    setReason(value);
  };

  const labels = detail.data?.label_classes ?? [];
  if (work && detail.data) {
    if (work.item.reason === "count_flag" && work.item.count_flag) {
      return <FlagReview key={work.item.id} item={work.item} flag={work.item.count_flag} onSubmit={onSubmit} onSkip={onSkip} />;
    }
    return work.item.asset?.kind === "clip"
      ? <ClipReviewer key={work.item.id} item={work.item} firstFrame={work.image} labels={labels} onSubmit={onSubmit} onSkip={onSkip} />
      : <FrameEditor key={work.item.id} item={work.item} image={work.image} labels={labels} onSubmit={onSubmit} onSkip={onSkip} />;
  }
  return (
    <section class="card stack claim">
      <h1>{detail.data?.name ?? "Project"}: annotate</h1>
      <ErrorBanner error={error ?? detail.error} />
      {empty && (
        <p data-testid="queue-empty">
          Nothing left in the queue for you (items you skipped come back to you after a while).{" "}
          <a href={href.dashboard(project)}>Back to the queue</a>
        </p>
      )}
      <label>
        Only items queued for
        <select value={reason} onChange={(e) => changeReason(e.currentTarget.value)} data-testid="claim-reason">
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
