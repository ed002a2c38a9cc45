/**
 * The convergence soak (run by bench/soak.sh, which starts the servers when none run): the
 * mix of test/integration/converge.test.ts for SOAK_MINUTES minutes (default 30) — four
 * writers putting, overwriting and deleting keys of every shape with a publish each, the
 * daemon and a second worker, `s3s3bucket --delete` sweeping back to back with its Ceph
 * uploads slowed, fault storms (503s, resets, delays) on both sides for 35 s of every 2 min —
 * then the same three phases: (a) equal within 90 s with no further sweep, (b) one more
 * sweep changes nothing, (c) writes with the daemon SIGKILLed and restarted, one sweep, equal.
 * Prints progress on stderr, then the ops done, keys compared and each phase's result; exits
 * 1 when a phase failed.
 */
import { describeReport, runConvergence } from '../test/helpers/converge-rig.js';

const minutes = Number(process.env.SOAK_MINUTES ?? 30);
if (!Number.isFinite(minutes) || minutes <= 0) {
  console.error(`SOAK_MINUTES must be a positive number of minutes, not ${JSON.stringify(process.env.SOAK_MINUTES)}`);
  process.exit(2);
}
const writeMs = Math.round(minutes * 60_000);
const report = await runConvergence({
  label: 'soak',
  writeMs,
  roundTwoMs: Math.min(60_000, Math.max(20_000, writeMs / 10)),
  writers: 4,
  poolSize: Number(process.env.SOAK_POOL ?? 300),
  settleMs: 90_000,
  // The storms come back every 2 min (35 s each) over a long run; a short one gets one window.
  faults: writeMs > 240_000 ? { cycleMs: 120_000, onMs: 35_000, offsetMs: 20_000 } : undefined,
  log: (l) => console.error(l),
});
const compared = report.a.comparison.compared + report.b.comparison.compared + report.c.comparison.compared;
const ok =
  report.a.equal &&
  report.b.sweep.code === 0 &&
  report.b.sweep.copied === 0 &&
  report.b.sweep.deleted === 0 &&
  report.c.equal;
console.log(`soak: ${minutes} min of writes, ${(report.seconds / 60).toFixed(1)} min in all`);
console.log(
  `ops: ${report.writes.puts + report.c.writes.puts} puts, ` +
    `${report.writes.deletes + report.c.writes.deletes} deletes, ` +
    `${report.writes.publishes + report.c.writes.publishes} publishes, ${report.sweeps.length + 2} sweeps`,
);
console.log(`keys compared: ${compared} key-destination pairs over the three phases`);
console.log(
  `(a) ${report.a.equal ? 'PASS' : 'FAIL'}: equal after ${report.a.seconds.toFixed(1)} s with no further sweep`,
);
console.log(
  `(b) ${report.b.sweep.code === 0 && report.b.sweep.copied === 0 && report.b.sweep.deleted === 0 ? 'PASS' : 'FAIL'}` +
    `: one more sweep copied ${report.b.sweep.copied ?? '?'}, deleted ${report.b.sweep.deleted ?? '?'} (exit ` +
    `${report.b.sweep.code})`,
);
console.log(
  `(c) ${report.c.equal ? 'PASS' : 'FAIL'}: equal ${report.c.seconds.toFixed(1)} s after the sweep that ` +
    `followed the SIGKILLed daemon`,
);
console.log('');
console.log(describeReport(report));
process.exit(ok ? 0 : 1);
