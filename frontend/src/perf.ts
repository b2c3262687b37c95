/**
 * Timing marks for bench/frontend.py, read from `window.__loupePerf`: when a submit was pressed and when the
 * base layer drew which image, plus how long each canvas redraw took. Bounded ring buffers and a couple of
 * `performance.now()` calls per event: nothing the user pays for.
 */

export interface PerfLog {
  /** Submit pressed on the item showing `src`. */
  submits: { at: number; src: string }[];
  /** The base layer drew `src` into a laid-out canvas at `at`; `frameAt`: the next animation frame, whose
   *  paint shows it. */
  baseDraws: { at: number; src: string; frameAt?: number }[];
  /** Milliseconds spent in one canvas redraw (base when needed, overlay always). */
  redraws: number[];
}

const LIMIT = 1000;

function perfLog(): PerfLog {
  const w = window as unknown as { __loupePerf?: PerfLog };
  w.__loupePerf ??= { submits: [], baseDraws: [], redraws: [] };
  return w.__loupePerf;
}

function push<T>(list: T[], value: T): void {
  list.push(value);
  if (list.length > LIMIT) list.splice(0, list.length - LIMIT);
}

export function imageSource(image: CanvasImageSource | null): string {
  return image instanceof HTMLImageElement ? image.currentSrc || image.src : "";
}

export function markSubmit(image: CanvasImageSource | null): void {
  push(perfLog().submits, { at: performance.now(), src: imageSource(image) });
}

export function markBaseDraw(image: CanvasImageSource | null): void {
  const entry: PerfLog["baseDraws"][number] = { at: performance.now(), src: imageSource(image) };
  push(perfLog().baseDraws, entry);
  requestAnimationFrame(() => { entry.frameAt = performance.now(); });
}

export function markRedraw(ms: number): void {
  push(perfLog().redraws, ms);
}
