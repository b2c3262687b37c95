/**
 * QA review: the latest submitted version beside the model's pre-label and the other versions, their
 * agreement, and accept / reject with a comment (a rejection sends the item back with the comment).
 */

import { useState } from "preact/hooks";
import { type ItemListQuery, assetUrl, frameUrl, itemHistory, listItems, readProject, review } from "../../api/endpoints";
import { useProjectMessage } from "../../realtime/ProjectLive";
import { type AnnotationVersion, type ItemHistory, authorOf } from "../../api/shapes";
import { agreement } from "../../editor/agreement";
import { href } from "../../router";
import { ErrorBanner } from "../../ui/ErrorBanner";
import { useAsync } from "../../ui/useAsync";
import { FlagOutcome } from "../flags/FlagOutcome";
import { BoxesPreview } from "./BoxesPreview";

const pct = (v: number | null) => (v === null ? "—" : `${(v * 100).toFixed(0)} %`);

/** Items awaiting review, newest first; the list refreshes when the queue changes (no polling). */
function ItemPicker({ project }: { project: number }) {
  const [ordering, setOrdering] = useState<NonNullable<ItemListQuery["ordering"]>>("-updated_at");
  const items = useAsync(() => listItems(project, { status: "submitted", ordering }), [project, ordering]);
  const reload = items.reload;
  useProjectMessage("queue.stats", reload);
  return (
    <section class="card stack">
      <h1>QA review</h1>
      <label>
        Order
        <select value={ordering} data-testid="qa-ordering"
                onChange={(e) => setOrdering(e.currentTarget.value as NonNullable<ItemListQuery["ordering"]>)}>
          <option value="-updated_at">Newest submitted first</option>
          <option value="updated_at">Oldest submitted first</option>
          <option value="agreement">Lowest agreement first</option>
          <option value="-priority">Highest priority first</option>
        </select>
      </label>
      <ErrorBanner error={items.error} />
      {items.data && items.data.length === 0 && <p data-testid="qa-empty">Nothing is awaiting review.</p>}
      {items.data && items.data.length > 0 && (
        <table data-testid="qa-list">
          <caption class="sr-only">Items awaiting review</caption>
          <thead><tr><th scope="col">Frame</th><th scope="col">Item</th><th scope="col">Reason</th>
            <th scope="col">Site</th><th scope="col">Latest version</th><th scope="col">Agreement</th></tr></thead>
          <tbody>
            {items.data.map((row) => (
              <tr key={row.id}>
                <td>{row.asset && <img class="thumb" src={row.asset.thumb_url} alt="" loading="lazy" />}</td>
                <td><a href={href.qa(project, row.id)} data-testid={`qa-item-${row.id}`}>Item {row.id}</a></td>
                <td>{row.reason}</td>
                <td>{row.site?.name ?? "—"}</td>
                <td>{row.latest ? `v${row.latest.version} by ${row.latest.author ?? "?"}` : "—"}</td>
                <td>{pct(row.agreement)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {items.loading && !items.data && <p>Loading…</p>}
    </section>
  );
}

export function QaView({ project, item }: { project: number; item: number | null }) {
  if (item === null) return <ItemPicker project={project} />;
  return <QaItem project={project} item={item} />;
}

/** The frame the boxes are on: a clip shows its pre-label frame and only that frame's boxes. */
function frameOf(history: ItemHistory): { url: string; frame: number | null } {
  const asset = history.item.asset!;
  if (asset.kind !== "clip") return { url: assetUrl(asset.sha256), frame: null };
  const frame = history.item.prelabel?.frame_index ?? 0;
  return { url: frameUrl(asset.sha256, frame), frame };
}

function onFrame<T extends { frame_index?: number | null }>(boxes: readonly T[], frame: number | null): T[] {
  return frame === null ? [...boxes] : boxes.filter((b) => (b.frame_index ?? 0) === frame);
}

function QaItem({ project, item }: { project: number; item: number }) {
  const history = useAsync(() => itemHistory(item), [item]);
  const detail = useAsync(() => readProject(project), [project]);
  const [comment, setComment] = useState("");
  const [region, setRegion] = useState<number[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState<string | null>(null);
  const labels = detail.data?.label_classes ?? [];

  const decide = async (decision: "accept" | "reject") => {
    setError(null);
    try {
      const pinned = decision === "reject" && region ? { box: region, frame_index: frameOf(history.data!).frame } : null;
      const r = await review(item, { decision, comment, region: pinned });
      setDone(`Item ${r.id} is now ${r.status}.`);
      history.reload();
    } catch (err) {
      setError(err);
    }
  };

  const h = history.data;
  if (!h) return <section><ErrorBanner error={history.error} />{history.loading && <p>Loading…</p>}</section>;
  if (!h.item.asset) return <p>This item has no media.</p>;
  const { url, frame } = frameOf(h);
  const size = { w: h.item.asset.width, h: h.item.asset.height };
  const versions = [...h.versions].reverse();
  const latest: AnnotationVersion | undefined = versions[0];
  const prelabel = h.item.prelabel?.boxes ?? [];
  return (
    <section>
      <h1>QA: item {item} <small>({h.item.status}, {h.item.reason})</small></h1>
      <p><a href={href.history(project, item)}>History and audit</a></p>
      <ErrorBanner error={history.error} />
      {!latest && <p>No annotation submitted yet.</p>}
      <div class="side-by-side">
        {latest && (
          <div>
            <BoxesPreview url={url} size={size} labels={labels} testId="qa-latest"
                          title={`v${latest.version} by ${authorOf(latest)}`} boxes={onFrame(latest.boxes, frame)}
                          region={region} onRegion={setRegion} />
            <p class="hint">Drag on this picture to pin your comment to a region.</p>
            <p>Verdict {latest.verdict}{latest.count !== null ? ` · count ${latest.count}` : ""}</p>
            {latest.note && <p class="note" data-testid="qa-note">Note: {latest.note}</p>}
          </div>
        )}
        <div>
          <BoxesPreview url={url} size={size} labels={labels} testId="qa-prelabel" title="Model pre-label"
                        boxes={onFrame(prelabel, frame).map((d) => ({ label: d.label, box: d.box, dashed: true }))} />
          {latest && h.item.count_flag && <FlagOutcome flag={h.item.count_flag} latest={latest} />}
          {latest && !h.item.count_flag && <p data-testid="qa-agreement-prelabel">
            Agreement with the model: {(agreement(latest.boxes, prelabel) * 100).toFixed(0)} %</p>}
        </div>
        {versions.slice(1).map((v) => (
          <div key={v.id}>
            <BoxesPreview url={url} size={size} labels={labels} testId={`qa-version-${v.version}`}
                          title={`v${v.version} by ${authorOf(v)}`} boxes={onFrame(v.boxes, frame)} />
            {latest && <p>Agreement with v{latest.version}: {(agreement(latest.boxes, v.boxes) * 100).toFixed(0)} %</p>}
          </div>
        ))}
      </div>
      <section class="card stack" aria-label="Decision">
        <label>
          Comment (required to reject; the annotator sees it on the returned item)
          <textarea value={comment} maxLength={4000} data-testid="qa-comment" onInput={(e) => setComment(e.currentTarget.value)} />
        </label>
        {region && (
          <p data-testid="qa-region">
            Pinned to x {region[0]}, y {region[1]}, {region[2]}×{region[3]} px{" "}
            <button type="button" onClick={() => setRegion(null)} data-testid="qa-region-clear">Unpin</button>
          </p>
        )}
        <div class="row">
          <button type="button" class="primary" data-testid="qa-accept" onClick={() => void decide("accept")}>Accept</button>
          <button type="button" class="danger" data-testid="qa-reject" onClick={() => void decide("reject")}>Reject</button>
        </div>
        <ErrorBanner error={error} />
        {done && <p class="banner banner-ok" role="status" data-testid="qa-done">{done}</p>}
      </section>
    </section>
  );
}
