/** The lease on a claimed item: a countdown, heartbeats before it runs out, and lease_lost as a state. */

import { useEffect, useState } from "preact/hooks";
import { heartbeat } from "../../api/endpoints";
import { ApiError } from "../../api/errors";
import type { ClaimedItem } from "../../api/shapes";

export interface Lease {
  secondsLeft: number | null;
  lost: boolean;
  error: unknown;
}

/** Heartbeat at a third of the lease, so one failed beat still leaves time for the next. */
export function heartbeatInterval(leaseSeconds: number): number {
  return Math.min(60, Math.max(5, leaseSeconds / 3)) * 1000;
}

export function useLease(item: ClaimedItem | null, markLost: boolean): Lease {
  const [expiresAt, setExpiresAt] = useState<number | null>(null);
  const [now, setNow] = useState(Date.now());
  const [lost, setLost] = useState(false);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    setLost(false);
    setError(null);
    setExpiresAt(item?.lease_expires_at ? Date.parse(item.lease_expires_at) : null);
    if (!item?.lease_expires_at) return undefined;
    const initial = (Date.parse(item.lease_expires_at) - Date.now()) / 1000;
    const beat = setInterval(() => {
      heartbeat(item.id, item.lease_token).then(
        (r) => { setExpiresAt(Date.parse(r.lease_expires_at)); setError(null); },
        (err: unknown) => {
          if (err instanceof ApiError && err.leaseLost) {
            setLost(true);
            clearInterval(beat);
          } else {
            setError(err);
          }
        },
      );
    }, heartbeatInterval(initial));
    const tick = setInterval(() => setNow(Date.now()), 1000);
    return () => { clearInterval(beat); clearInterval(tick); };
  }, [item]);

  return {
    secondsLeft: expiresAt === null ? null : Math.max(0, Math.round((expiresAt - now) / 1000)),
    lost: lost || markLost,
    error,
  };
}

export function LeaseCountdown({ lease }: { lease: Lease }) {
  if (lease.lost) {
    return (
      <p class="banner banner-error" role="alert" data-testid="lease-lost">
        Your lease on this item was lost (it expired or someone else took it). Your changes cannot be submitted;
        take the next item.
      </p>
    );
  }
  if (lease.secondsLeft === null) return null;
  const m = Math.floor(lease.secondsLeft / 60);
  const s = String(lease.secondsLeft % 60).padStart(2, "0");
  return <p class="lease" data-testid="lease-countdown" aria-label="Lease time left">Lease: {m}:{s}</p>;
}
