// This process's peak resident set size. On Linux from /proc (VmHWM, the high-water mark of the process's own
// memory): getrusage's maxRSS starts a spawned process at its parent's RSS (fork copies the parent's pages, and exec
// keeps their high-water mark), so a child measured under a job holding 1.2 GB read 1.2 GB before and after its runs
// (esrgan-slim-x2's native measure came out at 318 B a px instead of 1437). Elsewhere (macOS, no /proc) from maxRSS.
import { readFileSync } from 'node:fs';

export function peakResidentBytes(): number {
  try {
    const hwm = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (hwm) return Number(hwm[1]) * 1024;
  } catch {
    // no /proc
  }
  return process.resourceUsage().maxRSS * 1024; // in kilobytes
}
