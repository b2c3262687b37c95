/** What to paste on a new device: its token into a file, then the edge client pointed at this server. */

export const TOKEN_FILE = "/etc/loupe/token";
export const DATA_DIR = "/var/lib/loupe";

const quote = (s: string) => (/^[\w./:@-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`);

/** `loupe-edge run --server <origin> --token-file <file> --data-dir <dir> --camera <name>…` (shell-quoted). */
export function edgeRunCommand(origin: string, cameras: readonly string[]): string {
  return ["loupe-edge run", `--server ${quote(origin)}`, `--token-file ${TOKEN_FILE}`, `--data-dir ${DATA_DIR}`,
          ...cameras.map((c) => `--camera ${quote(c)}`)].join(" ");
}

/** The shell lines that store the token (readable by its owner only) and start the client. */
export function edgeSetupScript(origin: string, token: string, cameras: readonly string[]): string {
  return [`install -m 600 /dev/null ${TOKEN_FILE} && printf '%s\\n' ${quote(token)} > ${TOKEN_FILE}`,
          edgeRunCommand(origin, cameras)].join("\n");
}
