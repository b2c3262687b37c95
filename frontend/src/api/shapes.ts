/**
 * Response shapes the OpenAPI schema does not describe yet (the views answer `OpenApiTypes.OBJECT` or an
 * untyped description). Written by hand from the backend code named on each type.
 *
 * TODO(api-schema): replace every type here by the generated `components["schemas"][...]` once the backend
 * declares full response serializers; request bodies are already checked against the generated schema.
 */

import type { components } from "./schema";

export type Role = components["schemas"]["RoleEnum"];
export type Verdict = "confirm" | "correct" | "unusable";
export type ItemStatus = "pending" | "leased" | "submitted" | "accepted" | "rejected";

/** annotations/api/accounts.py `me_payload` */
export interface Me {
  id: number;
  username: string;
  email: string;
  is_staff: boolean;
  memberships: { project: number; project_slug: string; role: Role; sites: number[] }[];
}

/** reviewer/api/project_views.py `ProjectListView` */
export interface ProjectSummary {
  id: number;
  slug: string;
  name: string;
  role: Role;
  label_classes: string[];
  /** null for store managers and bus operators: project-wide figures are not theirs to see */
  pending: number | null;
}

/** reviewer/selectors.py `queue_stats` (also the body of the `queue.stats` WebSocket message) */
export interface QueueStats {
  pending: number;
  pending_by_reason: Record<string, number>;
  pending_by_site: Record<string, number>;
  leased: number;
  submitted: number;
  accepted_today: number;
}

/** reviewer/stats.py `project_stats` */
export interface ProjectStats extends QueueStats {
  throughput_24h: Record<string, number>;
  median_seconds_per_item: number | null;
  agreement: number | null;
  correction_rate: number | null;
  accepted: number;
  retrain_threshold: number | null;
  /** Acceptances counted toward the next retraining since the last dataset version was frozen. */
  accepted_since_retrain: number | null;
  threshold_progress: number | null;
}

/** reviewer/api/project_views.py `ProjectDetailView` */
export interface ProjectDetail {
  id: number;
  slug: string;
  name: string;
  description: string;
  label_classes: string[];
  role: Role;
  qa_sample_rate: number;
  consensus_overlap: number;
  /** null for store managers and bus operators (site-scoped) */
  stats: ProjectStats | null;
}

/** A model detection as the device sent it (loupe_wire/events.py `Detection`): box is [x, y, w, h] px. */
export interface Detection {
  label: string;
  score: number;
  box: [number, number, number, number];
  track_id?: number | null;
  frame_index?: number | null;
}

export interface Asset {
  sha256: string;
  kind: "frame" | "clip";
  content_type: string;
  width: number;
  height: number;
  fps: number | null;
  frame_count: number | null;
  url: string;
}

export interface Prelabel {
  prediction: number;
  /** `display_name`: "<name> v<version>", or "field model" when the device did not name its model */
  model: { name: string; version: string; display_name?: string };
  /** null for a clip-level event (e.g. a dispute) */
  frame_index: number | null;
  boxes: Detection[];
  count: number | null;
  captured_at: string;
}

/** reviewer/api/serializers.py `item_payload`: the claim response */
export interface ClaimedItem {
  id: number;
  project: number;
  reason: string;
  priority: number;
  /** Numbers, and nested groups such as `signals`. */
  score_parts: Record<string, unknown>;
  status: ItemStatus;
  site: number | null;
  camera: number | null;
  lease_token: string;
  lease_expires_at: string | null;
  last_comment: string;
  /** Where on the frame the last rejection points (image pixels), if the reviewer pinned it. */
  last_comment_region: CommentRegion | null;
  asset: Asset | null;
  prelabel: Prelabel | null;
  /** A `count_flag` item's flag (reviewer/flags.py `review_context`); null or absent for other items. */
  count_flag?: CountFlagContext | null;
  /** Both sides of a dispute (reviewer/selectors.py `dispute_context`); null for any other item. */
  dispute?: DisputeContext | null;
  /** The project's pre-label threshold (0..1): pre-labels at or above it are the starting answer. */
  prelabel_threshold?: number;
  /** The person's own leased item, handed back (reload, second tab). */
  resumed?: boolean;
  /** Claimed ahead of time (a short lease, released on page hide). */
  prefetch?: boolean;
  /** Rejected work back with its author: start from this version, QA comment on top. */
  rework?: Rework | null;
}

export interface DisputeContext {
  count_name: string;
  /** What the camera said: its count, and its tracks when it sent them. */
  device: { prediction: number; count: number | null; frame_index: number | null;
            model: { name: string; version: string }; boxes: Detection[] };
  /** The other count the camera's is disputed against, e.g. the ticketing count. */
  second_opinion: { source: string; count: number | null } | null;
}

/** What a reviewer of a count flag needs: the window, its frames/clips, the flagger's note and both counts. */
export interface CountFlagContext {
  id: number;
  window_start: string;
  window_end: string;
  observed_count: number;
  /** The model's count in the window (reviewer/flags.py `window_model_count`), frozen when flagged. */
  model_count: number;
  note: string;
  flagged_by: string;
  camera: { id: number; name: string };
  /** In order of first appearance in the window. */
  assets: { sha256: string; kind: "frame" | "clip"; captured_at: string }[];
}

/** reviewer/api/serializers.py `item_payload` `rework`: the rejected version and the reviewer's word on it. */
export interface Rework {
  version: number;
  author: string | null;
  boxes: SubmittedBox[];
  count: number | null;
  verdict: string;
  note: string;
  comment: string;
  region: CommentRegion | null;
}

export interface CommentRegion {
  box: number[];
  frame_index: number | null;
}

/** reviewer/api/views.py `SubmitView` */
export interface SubmitResult {
  annotation: number;
  version: number;
  item_status: ItemStatus;
  diff: Record<string, unknown> | null;
}

export interface SubmittedBox {
  label: string;
  box: number[];
  frame_index?: number;
  track_id?: number;
}

/** Who made a version: its annotator, "consensus" for the majority of an overlap round, or Loupe's own repair. */
export function authorOf(v: { origin: AnnotationVersion["origin"]; author__username: string | null }): string {
  if (v.origin === "consensus") return "consensus";
  if (v.origin === "repair") return "Loupe (repair)";
  return v.author__username ?? "?";
}

/** reviewer/api/views.py `HistoryView` */
export interface AnnotationVersion {
  id: number;
  version: number;
  /** `consensus`: the majority of an overlap round's annotators (no author); `review`: a QA reviewer's fix;
   * `repair`: Loupe's own fix of a stored version (e.g. boxes clipped to the image; no author). */
  origin: "person" | "consensus" | "review" | "repair";
  author__username: string | null;
  boxes: SubmittedBox[];
  count: number | null;
  verdict: Verdict;
  note: string;
  diff: Record<string, unknown> | null;
  time_spent_seconds: number | null;
  submitted_at: string;
}

export interface AuditEntry {
  id: number;
  action: string;
  actor__username: string | null;
  before: unknown;
  after: unknown;
  created_at: string;
}

export interface ItemHistory {
  item: ClaimedItem;
  versions: AnnotationVersion[];
  events: AuditEntry[];
}

/** reviewer/flags.py `camera_counts` */
export interface CameraCounts {
  camera: number;
  camera_name: string;
  site: string;
  from: string;
  to: string;
  bucket: Bucket;
  series: { start: string; count_name: string; value: number; events: number }[];
  detections: { start: string; mean_detections: number }[];
}

export type Bucket = "5m" | "15m" | "1h" | "1d";

/** reviewer/flags.py `flag_payload` */
export interface CountFlag {
  id: number;
  project: number;
  camera: number;
  from: string;
  to: string;
  observed_count: number;
  model_count: number | null;
  note: string;
  status: string;
  flagged_by: string;
  review_item: { id: number; status: ItemStatus; priority: number };
  assets: string[];
  created_at: string;
  /** The outcome once the item is accepted: the true count the review settled on, and when. */
  reviewed_count: number | null;
  reviewed_at: string | null;
}

/** reviewer/flags.py `window_preview`: what the flag form shows before sending. */
export interface CountWindow {
  camera: number;
  from: string;
  to: string;
  model_count: number;
  /** Frames/clips the reviewer will get. */
  assets: number;
}
