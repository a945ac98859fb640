/**
 * Text from outside (UTM values, customer ids, anything a visitor's browser sent) made safe to print on a
 * terminal. A terminal obeys control characters: ESC starts sequences that move the cursor, rewrite lines,
 * change the window title or, in some terminals, write files or open links; CR and BS overwrite what was
 * printed; C1 controls (U+0080-U+009F) act as ESC sequences in terminals that read 8-bit controls (CSI is
 * U+009B). Unicode's bidirectional controls reorder what is shown without being seen (the "Trojan Source"
 * attack, CVE-2021-42574). Each such character is shown as an escape instead (`\x1b`, `\n`, `\u202e`), so
 * the output reads as what was stored and cannot act on the terminal.
 */

// Cc: the C0 controls, DEL and the C1 controls; then the bidirectional marks, embeddings, overrides and
// isolates.
const UNSAFE = /[\p{Cc}\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu;

const NAMED: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escape(char: string): string {
  const named = NAMED[char];
  if (named !== undefined) return named;
  const code = char.charCodeAt(0);
  return code <= 0xff
    ? `\\x${code.toString(16).padStart(2, '0')}`
    : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** `text` with every control and bidirectional-control character shown as an escape. */
export function printable(text: string): string {
  return text.replace(UNSAFE, escape);
}
