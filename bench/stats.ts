/** The value at the p-th percentile (nearest rank, rounding down): percentile(xs, 50) is the median. */
export function percentile(xs: readonly number[], p: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
}

export const median = (xs: readonly number[]): number => percentile(xs, 50);
