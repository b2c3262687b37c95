/** New count flags arrive live for everyone in the project (flag.created over the WebSocket). */

import { useCallback, useState } from "preact/hooks";
import { useProjectMessage } from "../realtime/ProjectLive";
import type { MessageOf } from "../realtime/messages";
import { href } from "../router";

export function FlagToasts({ project }: { project: number }) {
  const [flags, setFlags] = useState<MessageOf<"flag.created">[]>([]);
  const onFlag = useCallback((m: MessageOf<"flag.created">) => setFlags((f) => [m, ...f].slice(0, 3)), []);
  useProjectMessage("flag.created", onFlag);
  if (flags.length === 0) return null;
  return (
    <div class="toasts" role="status" aria-live="polite" data-testid="flag-toasts">
      {flags.map((f) => (
        <p class="toast" key={f.flag} data-testid="flag-toast">
          New count flag #{f.flag} on camera {f.camera}: observed {f.observed_count}, model{" "}
          {f.model_count ?? "–"}. <a href={href.counts(project, f.camera)}>Open counts</a>{" "}
          <button type="button" onClick={() => setFlags((all) => all.filter((x) => x.flag !== f.flag))}>
            Dismiss
          </button>
        </p>
      ))}
    </div>
  );
}
