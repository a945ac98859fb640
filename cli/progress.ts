/** A one-line progress bar on stderr, drawn only when stderr is a terminal (never in logs or CI). */
export function drawProgress(
  label: string,
  done: number,
  total: number,
  stream: NodeJS.WriteStream = process.stderr,
): void {
  if (!stream.isTTY) return;
  const width = 30;
  const filled = Math.round((width * done) / Math.max(1, total));
  stream.write(
    `\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}${done >= total ? '\n' : ''}`,
  );
}
