/**
 * Validation outcomes as data: a value, or every problem with the field path and the rule it broke, so an
 * HTTP 400 or a dead letter can say exactly what is wrong.
 */
import type { z } from 'zod';

export interface ValidationProblem {
  /** Dotted path to the field, e.g. "payload.lineItems.0.quantity"; "" for the whole event. */
  readonly path: string;
  /** The rule broken, e.g. "too_small", "invalid_type", "custom". */
  readonly rule: string;
  readonly message: string;
}

export type Validated<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly problems: readonly ValidationProblem[] };

export function problemsOf(error: z.ZodError): ValidationProblem[] {
  return error.issues.map((issue) => ({
    path: issue.path.map(String).join('.'),
    rule: issue.code,
    message: issue.message,
  }));
}

export function formatProblems(problems: readonly ValidationProblem[]): string {
  return problems.map((p) => `${p.path || '(event)'}: ${p.message} [${p.rule}]`).join('; ');
}

export function validateWith<T>(schema: z.ZodType<T>, input: unknown): Validated<T> {
  const result = schema.safeParse(input);
  return result.success
    ? { ok: true, value: result.data }
    : { ok: false, problems: problemsOf(result.error) };
}
