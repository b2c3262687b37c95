/** One function per backend call the app makes; request bodies are checked against the generated schema. */

import { api, readCookie, unwrap } from "./client";
import type { components } from "./schema";
import type {
  Bucket, CameraCounts, ClaimedItem, CountFlag, CountWindow, ItemHistory, Me, ProjectDetail, ProjectSummary, SubmitResult,
} from "./shapes";

type Schemas = components["schemas"];
export type CameraRow = Schemas["ProjectCamera"];
export type ItemRow = Schemas["ItemRow"];
export type DeviceRow = Schemas["Device"];
export type ItemListQuery = NonNullable<NonNullable<
  import("./schema").paths["/api/v1/projects/{project_id}/items/"]["get"]["parameters"]["query"]>>;

export async function login(body: Schemas["LoginRequest"]): Promise<Me> {
  return unwrap(await api.POST("/api/v1/auth/login", { body })) as unknown as Me;
}

/** Set a password from an invitation or reset link (204); a weak one is refused with `weak_password`. */
export async function setPassword(body: Schemas["PasswordSetRequest"]): Promise<void> {
  unwrap(await api.POST("/api/v1/auth/password-set", { body }));
}

export async function logout(): Promise<void> {
  unwrap(await api.POST("/api/v1/auth/logout"));
}

export async function me(): Promise<Me> {
  return unwrap(await api.GET("/api/v1/auth/me")) as unknown as Me;
}

export async function listProjects(): Promise<ProjectSummary[]> {
  return unwrap(await api.GET("/api/v1/projects/")) as unknown as ProjectSummary[];
}

export async function readProject(projectId: number): Promise<ProjectDetail> {
  return unwrap(await api.GET("/api/v1/projects/{project_id}/", { params: { path: { project_id: projectId } } })) as
    unknown as ProjectDetail;
}

/** The next item for the caller, or null when the queue is empty (204). */
export async function claimNext(projectId: number, body: Schemas["ClaimBody"] = { prefetch: false }): Promise<ClaimedItem | null> {
  const result = await api.POST("/api/v1/projects/{project_id}/queue/claim", {
    params: { path: { project_id: projectId } }, body,
  });
  if (result.response.status === 204) return null;
  return unwrap(result) as unknown as ClaimedItem;
}

/** Keep a lease alive; `prefetch: true` for a waiting item (short lease), false for the one on screen. */
export async function heartbeat(itemId: number, leaseToken: string, prefetch = false): Promise<{ lease_expires_at: string }> {
  return unwrap(await api.POST("/api/v1/items/{item_id}/heartbeat", {
    params: { path: { item_id: itemId } }, body: { lease_token: leaseToken, prefetch },
  }));
}

/** Skip: give the item back; the queue does not offer it to this person again for a while. */
export async function skip(itemId: number, leaseToken: string, reason = ""): Promise<void> {
  unwrap(await api.POST("/api/v1/items/{item_id}/skip", {
    params: { path: { item_id: itemId } }, body: { lease_token: leaseToken, reason },
  }));
}

/** Release from a page that is going away (pagehide): a keepalive request outlives the page. */
export function releaseOnUnload(itemId: number, leaseToken: string): void {
  const token = readCookie("csrftoken");
  void fetch(`/api/v1/items/${itemId}/release`, {
    method: "POST", keepalive: true, credentials: "same-origin",
    headers: { "Content-Type": "application/json", ...(token ? { "X-CSRFToken": token } : {}) },
    body: JSON.stringify({ lease_token: leaseToken }),
  }).catch(() => undefined);
}

export async function release(itemId: number, leaseToken: string): Promise<void> {
  unwrap(await api.POST("/api/v1/items/{item_id}/release", {
    params: { path: { item_id: itemId } }, body: { lease_token: leaseToken },
  }));
}

export async function submit(itemId: number, body: Schemas["SubmitBody"]): Promise<SubmitResult> {
  return unwrap(await api.POST("/api/v1/items/{item_id}/submit", {
    params: { path: { item_id: itemId } }, body,
  })) as unknown as SubmitResult;
}

export async function review(itemId: number, body: Schemas["ReviewRequest"]): Promise<{ id: number; status: string }> {
  return unwrap(await api.POST("/api/v1/items/{item_id}/review", {
    params: { path: { item_id: itemId } }, body,
  })) as unknown as { id: number; status: string };
}

export async function itemHistory(itemId: number): Promise<ItemHistory> {
  return unwrap(await api.GET("/api/v1/items/{item_id}/history", { params: { path: { item_id: itemId } } })) as
    unknown as ItemHistory;
}

export async function cameraCounts(cameraId: number, query: { from?: string; to?: string; bucket?: Bucket }):
  Promise<CameraCounts> {
  return unwrap(await api.GET("/api/v1/cameras/{camera_id}/counts", {
    params: { path: { camera_id: cameraId }, query },
  })) as unknown as CameraCounts;
}

/** The model's count in a window exactly as a flag on it would store it (the one server-side definition). */
export async function countWindow(cameraId: number, query: { from: string; to: string }): Promise<CountWindow> {
  return unwrap(await api.GET("/api/v1/cameras/{camera_id}/counts/window", {
    params: { path: { camera_id: cameraId }, query },
  })) as unknown as CountWindow;
}

export async function listCountFlags(cameraId: number): Promise<CountFlag[]> {
  const body = unwrap(await api.GET("/api/v1/cameras/{camera_id}/count-flags", {
    params: { path: { camera_id: cameraId } },
  })) as unknown as { results: CountFlag[] };
  return body.results;
}

export async function createCountFlag(cameraId: number, body: Schemas["CountFlagRequest"]): Promise<CountFlag> {
  return unwrap(await api.POST("/api/v1/cameras/{camera_id}/count-flags", {
    params: { path: { camera_id: cameraId } }, body,
  })) as unknown as CountFlag;
}

/** URL of one server-extracted clip frame (0-based), or of a still frame's file. */
export const frameUrl = (sha256: string, n: number): string => `/api/v1/assets/${sha256}/frames/${n}.jpg`;
export const assetUrl = (sha256: string): string => `/api/v1/assets/${sha256}`;

/** The cameras whose counts the caller may see (a manager or operator: only their sites'). */
export async function listCameras(projectId: number): Promise<CameraRow[]> {
  return unwrap(await api.GET("/api/v1/projects/{project_id}/cameras/", { params: { path: { project_id: projectId } } }));
}

/** QA's list: by default the items awaiting review, newest first. */
export async function listItems(projectId: number, query: ItemListQuery = {}): Promise<ItemRow[]> {
  return unwrap(await api.GET("/api/v1/projects/{project_id}/items/", {
    params: { path: { project_id: projectId }, query },
  }));
}

/** The project's devices with their health (admins only). */
export async function listDevices(projectId: number): Promise<DeviceRow[]> {
  return unwrap(await api.GET("/api/v1/projects/{project_id}/devices/", { params: { path: { project_id: projectId } } }));
}

export type DeviceRegistration = Schemas["DeviceRegisterRequest"];
export type IssuedDevice = Schemas["IssuedDevice"];

/** Register a device at a site with its cameras; the answer carries its token, which is never shown again. */
export async function registerDevice(projectId: number, body: DeviceRegistration): Promise<IssuedDevice> {
  return unwrap(await api.POST("/api/v1/projects/{project_id}/devices/", { params: { path: { project_id: projectId } }, body }));
}

/** Revoke a device's token (its calls then get 401); revoking it again changes nothing. */
export type DeviceTelemetry = Schemas["DeviceTelemetry"];
export type TelemetrySummary = Schemas["TelemetrySummary"];

export async function getDeviceTelemetry(projectId: number, deviceId: number,
                                         query: { since: string; until: string }): Promise<DeviceTelemetry> {
  return unwrap(await api.GET("/api/v1/projects/{project_id}/devices/{device_id}/telemetry", {
    params: { path: { project_id: projectId, device_id: deviceId }, query } }));
}

export async function getTelemetrySummary(projectId: number, hours = 24): Promise<TelemetrySummary> {
  return unwrap(await api.GET("/api/v1/projects/{project_id}/devices/telemetry-summary", {
    params: { path: { project_id: projectId }, query: { hours } } }));
}

export async function revokeDevice(deviceId: number): Promise<DeviceRow> {
  return unwrap(await api.POST("/api/v1/devices/{device_id}/revoke", { params: { path: { device_id: deviceId } } }));
}

export type ModelRow = Schemas["ModelVersion"];
export type EvaluationRow = Schemas["Evaluation"];
export type PrelabelRunRow = Schemas["PrelabelRun"];

export async function listModels(projectId: number): Promise<ModelRow[]> {
  return unwrap(await api.GET("/api/v1/projects/{project_id}/models/", { params: { path: { project_id: projectId } } }));
}

/** Upload an ONNX detector (admins); the server validates it in a sandboxed process before storing it. */
export async function uploadModel(projectId: number, form: { file: File; name: string; classes?: string[];
                                                             inputSize?: number }): Promise<ModelRow> {
  const body = new FormData();
  body.append("file", form.file);
  body.append("name", form.name);
  if (form.classes && form.classes.length > 0) body.append("classes", JSON.stringify(form.classes));
  if (form.inputSize) {
    body.append("input_width", String(form.inputSize));
    body.append("input_height", String(form.inputSize));
  }
  return unwrap(await api.POST("/api/v1/projects/{project_id}/models/", {
    params: { path: { project_id: projectId } },
    body: body as unknown as Schemas["ModelUploadRequest"],
    bodySerializer: (b: unknown) => b as FormData,
  }));
}

export async function promoteModel(modelId: number, to: Schemas["PromoteRequest"]["to"]): Promise<ModelRow> {
  // Without `stages` the promotion is immediate and the answer is the model (200); a staged rollout (201)
  // answers with the rollout instead, which this call never asks for.
  return unwrap(await api.POST("/api/v1/models/{model_id}/promote", { params: { path: { model_id: modelId } },
                                                                       body: { to } })) as ModelRow;
}

/** Start a staged rollout of a model (201, the rollout): `plan` has the stages and gates (docs/rollouts.md). */
export async function startRollout(modelId: number, plan: { stages: unknown[]; gates: unknown[] }): Promise<RolloutRow> {
  return unwrap(await api.POST("/api/v1/models/{model_id}/promote", { params: { path: { model_id: modelId } },
                                                                       body: { to: "champion", ...plan } })) as RolloutRow;
}

export type PinRow = Schemas["Pin"];

/** The project's pins: devices and sites held on one model version, whatever rollout runs. */
export async function listPins(projectId: number): Promise<PinRow[]> {
  return unwrap(await api.GET("/api/v1/projects/{project_id}/pins/", { params: { path: { project_id: projectId } } }));
}

/** Pin a device or a site (exactly one) to a model of the project; audited. */
export async function createPin(projectId: number, body: Schemas["PinWriteRequest"]): Promise<PinRow> {
  return unwrap(await api.POST("/api/v1/projects/{project_id}/pins/", {
    params: { path: { project_id: projectId } }, body }));
}

export async function deletePin(projectId: number, pinId: number): Promise<void> {
  unwrap(await api.DELETE("/api/v1/projects/{project_id}/pins/{pin_id}", {
    params: { path: { project_id: projectId, pin_id: pinId } } }));
}

export async function rollbackModel(modelId: number): Promise<ModelRow> {
  return unwrap(await api.POST("/api/v1/models/{model_id}/rollback", { params: { path: { model_id: modelId } } }));
}

export type RolloutRow = Schemas["Rollout"];
export type RolloutAction = "pause" | "resume" | "advance" | "abort";

/** The project's staged rollouts, newest first (docs/rollouts.md). */
export async function listRollouts(projectId: number): Promise<RolloutRow[]> {
  return unwrap(await api.GET("/api/v1/projects/{project_id}/rollouts/", { params: { path: { project_id: projectId } } }));
}

/** An admin's pause/resume/advance/abort; `stage` is the stage shown, so a doubled click is a 409, not two moves. */
export async function rolloutAction(rolloutId: number, action: RolloutAction, stage: number): Promise<RolloutRow> {
  return unwrap(await api.POST("/api/v1/rollouts/{rollout_id}/{action}", {
    params: { path: { rollout_id: rolloutId, action } }, body: { stage } }));
}

/** The latest shadow evaluation of a model, or null if it was never evaluated. */
export async function readEvaluation(modelId: number): Promise<EvaluationRow | null> {
  const result = await api.GET("/api/v1/models/{model_id}/evaluation", { params: { path: { model_id: modelId } } });
  if (result.response.status === 404) return null;
  return unwrap(result);
}

export async function startEvaluation(modelId: number): Promise<EvaluationRow> {
  return unwrap(await api.POST("/api/v1/models/{model_id}/evaluation", { params: { path: { model_id: modelId } } }));
}

export async function listPrelabels(itemId: number): Promise<PrelabelRunRow[]> {
  return unwrap(await api.GET("/api/v1/items/{item_id}/prelabels", { params: { path: { item_id: itemId } } }));
}

export async function runPrelabel(itemId: number): Promise<PrelabelRunRow> {
  return unwrap(await api.POST("/api/v1/items/{item_id}/prelabels", { params: { path: { item_id: itemId } }, body: {} }));
}

/** The champion on one frame of a clip item (run once per frame, then served from the stored run). */
export async function runPrelabelOnFrame(itemId: number, frameIndex: number): Promise<PrelabelRunRow> {
  return unwrap(await api.POST("/api/v1/items/{item_id}/prelabels", { params: { path: { item_id: itemId } },
                                                                        body: { frame_index: frameIndex } }));
}

export type TrainingRunRow = Schemas["TrainingRun"];
export type DatasetRow = Schemas["DatasetVersion"];

export async function listTrainingRuns(projectId: number): Promise<TrainingRunRow[]> {
  return unwrap(await api.GET("/api/v1/projects/{project_id}/training-runs/", { params: { path: { project_id: projectId } } }));
}

export async function listDatasets(projectId: number): Promise<DatasetRow[]> {
  return unwrap(await api.GET("/api/v1/projects/{project_id}/datasets/", { params: { path: { project_id: projectId } } }));
}

/** An admin's "retrain now" (409 if this epoch's retrain is already requested). */
export async function requestRetrain(projectId: number): Promise<void> {
  unwrap(await api.POST("/api/v1/projects/{project_id}/retrain", { params: { path: { project_id: projectId } } }));
}

export type ExportRow = Schemas["ExportJob"];
export type ExportFormat = Schemas["ExportRequestRequest"]["format"];

/** Queue an export of a dataset version; its end is pushed as `export.status`. */
export async function requestExport(datasetId: number, format: ExportFormat): Promise<ExportRow> {
  return unwrap(await api.POST("/api/v1/datasets/{dataset_id}/exports", {
    params: { path: { dataset_id: datasetId } }, body: { format, archive: "zip", include_images: true, image_root: "" },
  }));
}

export async function readExport(exportId: number): Promise<ExportRow> {
  return unwrap(await api.GET("/api/v1/exports/{export_id}", { params: { path: { export_id: exportId } } }));
}

export type WebhookRow = Schemas["Webhook"];
export type WebhookEvent = Schemas["WebhookEventEnum"];
export type WebhookDeliveryRow = Schemas["WebhookDelivery"];
export type WebhookWrite = Schemas["WebhookWriteRequest"];
export type WebhookChange = Schemas["PatchedWebhookWriteRequest"];

/** The project's webhooks, each with its newest delivery's outcome (admins only). */
export async function listWebhooks(projectId: number): Promise<WebhookRow[]> {
  return unwrap(await api.GET("/api/v1/projects/{project_id}/webhooks/", { params: { path: { project_id: projectId } } }));
}

export async function createWebhook(projectId: number, body: WebhookWrite): Promise<WebhookRow> {
  return unwrap(await api.POST("/api/v1/projects/{project_id}/webhooks/", {
    params: { path: { project_id: projectId } }, body,
  }));
}

/** Change some of a webhook's fields; a secret left out stays as it is. */
export async function updateWebhook(webhookId: number, body: WebhookChange): Promise<WebhookRow> {
  return unwrap(await api.PATCH("/api/v1/webhooks/{webhook_id}", { params: { path: { webhook_id: webhookId } }, body }));
}

export async function deleteWebhook(webhookId: number): Promise<void> {
  unwrap(await api.DELETE("/api/v1/webhooks/{webhook_id}", { params: { path: { webhook_id: webhookId } } }));
}

/** Queue a signed `ping` to the webhook; the answer is the pending delivery, followed in the log. */
export async function testWebhook(webhookId: number): Promise<WebhookDeliveryRow> {
  return unwrap(await api.POST("/api/v1/webhooks/{webhook_id}/test", { params: { path: { webhook_id: webhookId } } }));
}

/** One page of the delivery log, newest first; `before` is the last id of the previous page. */
export async function listDeliveries(webhookId: number, query: { limit?: number; before?: number } = {}):
  Promise<WebhookDeliveryRow[]> {
  return unwrap(await api.GET("/api/v1/webhooks/{webhook_id}/deliveries", {
    params: { path: { webhook_id: webhookId }, query },
  }));
}
export type DriftOverview = Schemas["DriftOverview"];
export type CameraDrift = Schemas["CameraDrift"];
export type DriftPolicy = Schemas["DriftPolicy"];
export type DriftPolicyChange = Schemas["PatchedDriftPolicyRequest"];
export type DriftMetric = Schemas["DriftMetricEnum"];

/** Every camera's last drift snapshot and the thresholds in force (admins and reviewers). */
export async function readDrift(projectId: number): Promise<DriftOverview> {
  return unwrap(await api.GET("/api/v1/projects/{project_id}/drift/", { params: { path: { project_id: projectId } } }));
}

/** Recompute the project's drift now rather than at the next sweep (admins). */
export async function computeDrift(projectId: number): Promise<DriftOverview> {
  return unwrap(await api.POST("/api/v1/projects/{project_id}/drift/compute", {
    params: { path: { project_id: projectId } },
  }));
}

export async function updateDriftPolicy(projectId: number, body: DriftPolicyChange): Promise<DriftPolicy> {
  return unwrap(await api.PATCH("/api/v1/projects/{project_id}/drift/policy", {
    params: { path: { project_id: projectId } }, body,
  }));
}

export type TrainerConfig = Schemas["TrainerConfig"];
export type TrainerBackend = Schemas["BackendEnum"];
export type TrainerChanges = Schemas["TrainerConfigRequest"];

/** The project's retraining threshold, trainer backend and promotion rule (admins only). */
export async function readTrainerConfig(projectId: number): Promise<TrainerConfig> {
  return unwrap(await api.GET("/api/v1/projects/{project_id}/trainer", { params: { path: { project_id: projectId } } }));
}

/** Change the fields named in `changes` (the others stay as they are); answers the whole new config. */
export async function updateTrainerConfig(projectId: number, changes: TrainerChanges): Promise<TrainerConfig> {
  return unwrap(await api.PUT("/api/v1/projects/{project_id}/trainer", {
    params: { path: { project_id: projectId } }, body: changes,
  }));
}

export type ReviewSettings = Schemas["ReviewSettings"];
export type ReviewSettingsChange = Schemas["ReviewSettingsChangeRequest"];

/** The project's QA sample rate, pre-label threshold and consensus overlap (admins only). */
export async function readReviewSettings(projectId: number): Promise<ReviewSettings> {
  return unwrap(await api.GET("/api/v1/projects/{project_id}/review-settings", {
    params: { path: { project_id: projectId } },
  }));
}

/** Change the settings named in `changes` (the others stay); a refusal names its field in `details`. */
export async function updateReviewSettings(projectId: number, changes: ReviewSettingsChange): Promise<ReviewSettings> {
  return unwrap(await api.PUT("/api/v1/projects/{project_id}/review-settings", {
    params: { path: { project_id: projectId } }, body: changes,
  }));
}

export type Retention = Schemas["Retention"];
export type RetentionPolicy = Schemas["RetentionPolicy"];
export type RetentionChange = Schemas["PatchedRetentionPolicyRequest"];

/** The project's retention limits (null: keep forever), its legal holds and its last prune runs (admins only). */
export async function readRetention(projectId: number): Promise<Retention> {
  return unwrap(await api.GET("/api/v1/projects/{project_id}/retention", {
    params: { path: { project_id: projectId } },
  }));
}

/** Change the limits named in `changes` (null: keep forever); a refusal names its field in `details`. */
export async function updateRetention(projectId: number, changes: RetentionChange): Promise<Retention> {
  return unwrap(await api.PUT("/api/v1/projects/{project_id}/retention", {
    params: { path: { project_id: projectId } }, body: changes,
  }));
}

export type RetentionRun = Schemas["RetentionRun"];
export type LegalHold = Schemas["LegalHold"];

/** Hold a site's media and predictions from every prune (409 if it is already held); audited. */
export async function placeLegalHold(projectId: number, siteId: number, reason: string): Promise<LegalHold> {
  return unwrap(await api.PUT("/api/v1/projects/{project_id}/sites/{site_id}/legal-hold", {
    params: { path: { project_id: projectId, site_id: siteId } }, body: { reason } }));
}

/** Release a site's legal hold; audited. */
export async function releaseLegalHold(projectId: number, siteId: number): Promise<void> {
  unwrap(await api.DELETE("/api/v1/projects/{project_id}/sites/{site_id}/legal-hold", {
    params: { path: { project_id: projectId, site_id: siteId } } }));
}

/** What a prune would delete now (recorded as the last dry run); nothing is deleted. */
export async function dryRunRetention(projectId: number): Promise<RetentionRun> {
  return unwrap(await api.POST("/api/v1/projects/{project_id}/retention/dry-run", {
    params: { path: { project_id: projectId } },
  }));
}

export type RoutingPolicy = Schemas["Policy"];
export type PolicyPreview = Schemas["PolicyPreview"];
export type PolicyOutcome = Schemas["PolicyOutcome"];
export type ChangedEvent = Schemas["ChangedEvent"];

/** The routing policy in force (its version, null for the built-in default), its JSON schema and past versions. */
export async function readRoutingPolicy(projectId: number): Promise<RoutingPolicy> {
  return unwrap(await api.GET("/api/v1/projects/{project_id}/routing-policy", {
    params: { path: { project_id: projectId } },
  }));
}

/** What `document` would queue among the project's newest device events, beside the policy in force (admins;
 * stores nothing; 422 `invalid_policy` lists every error's path). */
export async function previewRoutingPolicy(projectId: number, document: unknown, limit = 1000): Promise<PolicyPreview> {
  return unwrap(await api.POST("/api/v1/projects/{project_id}/routing-policy/preview", {
    params: { path: { project_id: projectId } }, body: { document, limit },
  }));
}

/** Store `document` as the project's next routing policy version (admins). */
export async function saveRoutingPolicy(projectId: number, document: unknown): Promise<RoutingPolicy> {
  return unwrap(await api.PUT("/api/v1/projects/{project_id}/routing-policy", {
    params: { path: { project_id: projectId } }, body: { document },
  }));
}

export type MemberRow = Schemas["Member"];
export type SiteRow = Schemas["MemberSite"];
export type MemberChange = Schemas["PatchedMemberChangeRequest"];
export type Invitation = Schemas["InvitationRequest"];

/** The project's members with role, sites and whether they have set a password (admins only). */
export async function listMembers(projectId: number): Promise<MemberRow[]> {
  return unwrap(await api.GET("/api/v1/projects/{project_id}/members/", { params: { path: { project_id: projectId } } }));
}

/** The project's sites, for site pickers (admins only). */
export async function listSites(projectId: number): Promise<SiteRow[]> {
  return unwrap(await api.GET("/api/v1/projects/{project_id}/sites/", { params: { path: { project_id: projectId } } }));
}

/** Invite someone. A new username gets an account without a password and an email with the set-password link;
 * an existing account (same email) is added and told by email, its password untouched (`existing_account`). */
export async function inviteMember(projectId: number, body: Invitation): Promise<{ existingAccount: boolean }> {
  const created = unwrap(await api.POST("/api/v1/projects/{project_id}/invitations",
                                        { params: { path: { project_id: projectId } }, body }));
  return { existingAccount: created.existing_account === true };
}

/** Change a member's role and/or sites; the last admin is refused with 409 `last_admin`. */
export async function changeMember(projectId: number, membershipId: number, body: MemberChange): Promise<MemberRow> {
  return unwrap(await api.PATCH("/api/v1/projects/{project_id}/members/{membership_id}", {
    params: { path: { project_id: projectId, membership_id: membershipId } }, body,
  }));
}

/** Remove a member from the project (the account stays); the last admin is refused with 409 `last_admin`. */
export async function removeMember(projectId: number, membershipId: number): Promise<void> {
  unwrap(await api.DELETE("/api/v1/projects/{project_id}/members/{membership_id}", {
    params: { path: { project_id: projectId, membership_id: membershipId } },
  }));
}

// --- Alerts (docs/alerts.md) ---

export type AlertRow = Schemas["Alert"];
export type AlertPage = Schemas["AlertPage"];
export type AlertSummary = Schemas["AlertSummary"];
export type AlertRuleRow = Schemas["AlertRule"];
export type AlertRuleChange = Schemas["AlertRuleChangeRequest"];
export type AlertQuery = NonNullable<NonNullable<
  import("./schema").paths["/api/v1/projects/{project_id}/alerts"]["get"]["parameters"]["query"]>>;
export type AlertKind = NonNullable<AlertQuery["kind"]>;

/** A page of the project's alerts the caller may see, newest first (`status` open by default). */
export async function listAlerts(projectId: number, query: AlertQuery = {}): Promise<AlertPage> {
  return unwrap(await api.GET("/api/v1/projects/{project_id}/alerts", {
    params: { path: { project_id: projectId }, query },
  }));
}

/** The bell's counts: open alerts not silenced, of those unacknowledged, per severity; silenced apart. */
export async function readAlertSummary(projectId: number): Promise<AlertSummary> {
  return unwrap(await api.GET("/api/v1/projects/{project_id}/alerts/summary", {
    params: { path: { project_id: projectId } },
  }));
}

export async function acknowledgeAlert(projectId: number, alertId: number, note: string): Promise<AlertRow> {
  return unwrap(await api.POST("/api/v1/projects/{project_id}/alerts/{alert_id}/acknowledge", {
    params: { path: { project_id: projectId, alert_id: alertId } }, body: { note },
  }));
}

export async function silenceAlert(projectId: number, alertId: number, body: Schemas["SilenceRequest"]): Promise<AlertRow> {
  return unwrap(await api.POST("/api/v1/projects/{project_id}/alerts/{alert_id}/silence", {
    params: { path: { project_id: projectId, alert_id: alertId } }, body,
  }));
}

export async function readAlertRules(projectId: number): Promise<AlertRuleRow[]> {
  return unwrap(await api.GET("/api/v1/projects/{project_id}/alert-rules", {
    params: { path: { project_id: projectId } },
  }));
}

/** Change some rules' thresholds or `enabled` (admins); a bad one is a 400 under `rules.<index>`. */
export async function updateAlertRules(projectId: number, rules: AlertRuleChange[]): Promise<AlertRuleRow[]> {
  return unwrap(await api.PUT("/api/v1/projects/{project_id}/alert-rules", {
    params: { path: { project_id: projectId } }, body: { rules },
  }));
}

type CountsQuery = NonNullable<import("./schema").paths["/api/v1/projects/{project_id}/counts"]["get"]["parameters"]["query"]>;
type CountRows = Schemas["CountRows"];

/** Every row of the numbers report for these filters, following `next` (a few pages of 1000 at most for one
 * camera's chart). */
export async function allCountRows(projectId: number, query: Record<string, string>): Promise<CountRows["results"]> {
  const rows: CountRows["results"] = [];
  let cursor: string | undefined;
  for (;;) {
    const page: CountRows = unwrap(await api.GET("/api/v1/projects/{project_id}/counts", {
      params: { path: { project_id: projectId }, query: { ...query, page_size: 1000, cursor } as CountsQuery },
    }));
    rows.push(...page.results);
    if (!page.next) return rows;
    cursor = new URL(page.next, window.location.origin).searchParams.get("cursor") ?? undefined;
    if (!cursor) return rows;
  }
}

/** Per site and camera: the numbers over the window, the models that counted and the error's trend. */
export async function countSummaries(projectId: number, query: Record<string, string>): Promise<Schemas["CountSummary"][]> {
  const body: Schemas["CountSummaries"] = unwrap(await api.GET("/api/v1/projects/{project_id}/counts/summary", {
    params: { path: { project_id: projectId }, query: query as CountsQuery },
  }));
  return body.results;
}

export type ImportReport = Schemas["ImportResult"];

/** A Label Studio task list or a COCO file, sent as the text it is: with `dryRun` the server validates it and
 * reports what it would queue, writing nothing; without, it imports (all of it or nothing). */
export async function importLabels(projectId: number, text: string, dryRun: boolean): Promise<ImportReport> {
  return unwrap(await api.POST("/api/v1/projects/{project_id}/imports", {
    params: { path: { project_id: projectId }, query: { dry_run: dryRun } },
    body: text as unknown as Record<string, never>,
    bodySerializer: (b: unknown) => b as string,
    headers: { "Content-Type": "application/json" },
  }));
}

export type LabelStudioStatus = Schemas["LinkStatus"];
export type LabelStudioLinkWrite = Schemas["LinkWriteRequest"];
export type LabelStudioPush = Schemas["PushRequest"];
export type LabelStudioPushResult = Schemas["PushResult"];
export type LabelStudioSyncResult = Schemas["SyncResult"];
export type Reason = Schemas["ReasonsEnum"];

/** The project's Label Studio link and its numbers, or `{linked: false}` (admins only). */
export async function readLabelStudioLink(projectId: number): Promise<LabelStudioStatus> {
  return unwrap(await api.GET("/api/v1/projects/{project_id}/labelstudio", { params: { path: { project_id: projectId } } }));
}

/** Link (or re-link) the project: the server checks the token with Label Studio first and stores nothing when
 * Label Studio refuses it. */
export async function saveLabelStudioLink(projectId: number, body: LabelStudioLinkWrite): Promise<LabelStudioStatus> {
  return unwrap(await api.PUT("/api/v1/projects/{project_id}/labelstudio", {
    params: { path: { project_id: projectId } }, body,
  }));
}

/** Remove the link: items still out in Label Studio come back to Loupe's queue. */
export async function unlinkLabelStudio(projectId: number): Promise<void> {
  unwrap(await api.DELETE("/api/v1/projects/{project_id}/labelstudio", { params: { path: { project_id: projectId } } }));
}

/** Pending still images matching the filter, highest priority first, become Label Studio tasks (never twice). */
export async function pushToLabelStudio(projectId: number, body: LabelStudioPush): Promise<LabelStudioPushResult> {
  return unwrap(await api.POST("/api/v1/projects/{project_id}/labelstudio/push", {
    params: { path: { project_id: projectId } }, body,
  }));
}

/** One round with Label Studio now (also while backing off); 502 with Label Studio's answer when it fails. */
export async function syncLabelStudio(projectId: number): Promise<LabelStudioSyncResult> {
  return unwrap(await api.POST("/api/v1/projects/{project_id}/labelstudio/sync", {
    params: { path: { project_id: projectId } },
  }));
}
