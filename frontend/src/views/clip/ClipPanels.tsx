/** Clip controls (frame stepping, play) and the counting panel (line, crossings, counts, verdict). */

import type { Verdict } from "../../api/shapes";
import type { CountingLine, Crossing } from "../../clip/crossing";

export function ClipControls({ frame, frameCount, fps, playing, step, setFrame, togglePlay }: {
  frame: number; frameCount: number; fps: number; playing: boolean; step: (d: number) => void;
  setFrame: (n: number) => void; togglePlay: () => void;
}) {
  return (
    <div class="toolbar row" role="toolbar" aria-label="Frames">
      <button type="button" onClick={() => step(-10)} data-testid="frame-prev-10" aria-keyshortcuts="Shift+ArrowLeft">−10</button>
      <button type="button" onClick={() => step(-1)} data-testid="frame-prev" aria-keyshortcuts="ArrowLeft">← Frame</button>
      <button type="button" onClick={togglePlay} data-testid="play-toggle" aria-pressed={playing} aria-keyshortcuts="Space">
        {playing ? "Pause" : "Play"}
      </button>
      <button type="button" onClick={() => step(1)} data-testid="frame-next" aria-keyshortcuts="ArrowRight">Frame →</button>
      <button type="button" onClick={() => step(10)} data-testid="frame-next-10" aria-keyshortcuts="Shift+ArrowRight">+10</button>
      <label>
        Frame
        <input type="range" min={0} max={frameCount - 1} value={frame} data-testid="frame-slider"
               onInput={(e) => setFrame(Number(e.currentTarget.value))} />
      </label>
      <output data-testid="frame-index" aria-live="polite">{frame + 1} / {frameCount}</output>
      <span>{fps.toFixed(1)} fps</span>
    </div>
  );
}

interface CountingProps {
  line: CountingLine;
  setLine: (l: CountingLine) => void;
  size: { w: number; h: number };
  events: readonly Crossing[];
  deviceCount: number | null;
  yourCount: number;
  count: number | null;
  setCount: (n: number | null) => void;
  verdict: Verdict;
  setVerdict: (v: Verdict) => void;
  modelTracks: readonly number[];
  wrongTracks: readonly number[];
  setWrongTracks: (ids: number[]) => void;
  note: string;
  setNote: (s: string) => void;
  goTo: (frame: number) => void;
}

export function CountingPanel(p: CountingProps) {
  const coord = (which: "a" | "b", axis: "x" | "y", label: string) => (
    <label class="coord">
      {label}
      <input type="number" value={Math.round(p.line[which][axis])} min={0} max={axis === "x" ? p.size.w : p.size.h}
             data-testid={`line-${which}${axis}`}
             onInput={(e) => {
               const v = Number(e.currentTarget.value);
               if (Number.isFinite(v)) p.setLine({ ...p.line, [which]: { ...p.line[which], [axis]: v } });
             }} />
    </label>
  );
  return (
    <section class="card stack" aria-label="Counting">
      <h2>Counting</h2>
      <fieldset class="row">
        <legend>Counting line (image pixels)</legend>
        {coord("a", "x", "x1")}{coord("a", "y", "y1")}{coord("b", "x", "x2")}{coord("b", "y", "y2")}
      </fieldset>
      <ol class="feed" data-testid="crossings" aria-label="Crossings">
        {p.events.map((e) => (
          <li key={`${e.trackId}-${e.frame}`}>
            <button type="button" onClick={() => p.goTo(e.frame)}>
              Track #{e.trackId} {e.direction} at frame {e.frame + 1}
            </button>
          </li>
        ))}
      </ol>
      <p>Device count: <strong data-testid="device-count">{p.deviceCount ?? "–"}</strong> · Your tracks:{" "}
        <strong data-testid="my-count">{p.yourCount}</strong> in</p>
      <label>
        True count
        <input type="number" min={0} value={p.count ?? p.yourCount} data-testid="count-input"
               onInput={(e) => p.setCount(e.currentTarget.value === "" ? null : Math.max(0, Number(e.currentTarget.value)))} />
      </label>
      <label>
        Verdict
        <select value={p.verdict} data-testid="verdict" onChange={(e) => p.setVerdict(e.currentTarget.value as Verdict)}>
          <option value="confirm">Device was right</option>
          <option value="correct">Device was wrong (corrected)</option>
          <option value="unusable">Clip unusable</option>
        </select>
      </label>
      {p.modelTracks.length > 0 && (
        <fieldset>
          <legend>Wrong model tracks</legend>
          {p.modelTracks.map((id) => (
            <label key={id} class="check">
              <input type="checkbox" checked={p.wrongTracks.includes(id)} data-testid={`wrong-track-${id}`}
                     onChange={(e) => p.setWrongTracks(e.currentTarget.checked ? [...p.wrongTracks, id]
                       : p.wrongTracks.filter((x) => x !== id))} />
              #{id}
            </label>
          ))}
        </fieldset>
      )}
      <label>
        Note
        <textarea value={p.note} maxLength={4000} data-testid="note" onInput={(e) => p.setNote(e.currentTarget.value)} />
      </label>
    </section>
  );
}
