/** Clip controls (frame stepping, play), the counting panel (line, crossings, counts, verdict), the shortcuts. */

import type { DisputeContext, Verdict } from "../../api/shapes";
import type { CountingLine, Crossing } from "../../clip/crossing";
import { type Command, describeChord } from "../../editor/commands";

export function ClipControls({ frame, frameCount, fps, playing, step, setFrame, togglePlay }: {
  frame: number; frameCount: number; fps: number; playing: boolean; step: (d: number) => void;
  setFrame: (n: number) => void; togglePlay: () => void;
}) {
  return (
    <div class="toolbar row" role="toolbar" aria-label="Frames">
      <button type="button" onClick={() => setFrame(0)} data-testid="frame-first" aria-keyshortcuts="Home">« First</button>
      <button type="button" onClick={() => step(-10)} data-testid="frame-prev-10" aria-keyshortcuts="Shift+ArrowLeft">−10</button>
      <button type="button" onClick={() => step(-1)} data-testid="frame-prev" aria-keyshortcuts="ArrowLeft">← Frame</button>
      <button type="button" onClick={togglePlay} data-testid="play-toggle" aria-pressed={playing} aria-keyshortcuts="Space">
        {playing ? "Pause" : "Play"}
      </button>
      <button type="button" onClick={() => step(1)} data-testid="frame-next" aria-keyshortcuts="ArrowRight">Frame →</button>
      <button type="button" onClick={() => step(10)} data-testid="frame-next-10" aria-keyshortcuts="Shift+ArrowRight">+10</button>
      <button type="button" onClick={() => setFrame(frameCount - 1)} data-testid="frame-last" aria-keyshortcuts="End">Last »</button>
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
  /** The device's model, as a caption ("people-det v3"). */
  model: string;
  dispute: DisputeContext | null;
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
        <legend>Counting line (image pixels; drag its ends on the picture)</legend>
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
      <p>Device count: <strong data-testid="device-count">{p.deviceCount ?? "–"}</strong>
        {p.dispute?.second_opinion && <> · {capitalise(p.dispute.second_opinion.source)} count:{" "}
          <strong data-testid="second-opinion-count">{p.dispute.second_opinion.count ?? "–"}</strong></>}
        {" "}· Your tracks: <strong data-testid="my-count">{p.yourCount}</strong> in</p>
      <p><small data-testid="device-model">Device model: {p.model}</small></p>
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

function capitalise(s: string): string {
  return s ? s[0]!.toUpperCase() + s.slice(1) : s;
}

/** The clip reviewer's own keys, beside the editor commands it keeps. */
export const CLIP_KEYS: readonly { keys: string; label: string }[] = [
  { keys: "← / →", label: "Previous / next frame" },
  { keys: "Shift+← / Shift+→", label: "10 frames back / on" },
  { keys: "Home / End", label: "First / last frame" },
  { keys: "Space", label: "Play / pause" },
  { keys: "e", label: "Keyframe the selected track here (extends it past its ends)" },
  { keys: "Drag a red end", label: "Move the counting line" },
  { keys: "Wheel / middle drag", label: "Zoom at the pointer / pan" },
];

export function ClipShortcutHelp({ commands, onClose }: { commands: readonly Command[]; onClose: () => void }) {
  return (
    <div class="dialog" role="dialog" aria-modal="true" aria-label="Keyboard shortcuts" data-testid="help-overlay">
      <h2>Keyboard shortcuts</h2>
      <table>
        <tbody>
          {CLIP_KEYS.map((k) => <tr key={k.keys}><th scope="row">{k.keys}</th><td>{k.label}</td></tr>)}
          {commands.map((c) => (
            <tr key={c.id}><th scope="row">{c.keys.map(describeChord).join(" / ")}</th><td>{c.label}</td></tr>
          ))}
        </tbody>
      </table>
      <button type="button" onClick={onClose} autoFocus>Close</button>
    </div>
  );
}
