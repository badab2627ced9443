// The job's cache seam on @actions/cache (service v2 at ACTIONS_RESULTS_URL, or v1 at ACTIONS_CACHE_URL). A cache
// that is unavailable, broken or full only costs time: every failure is logged and read as a miss. Every key
// carries the build (job/cache.ts withBuild): a new dist/index.js or ONNX Runtime starts from an empty cache.
import * as cache from '@actions/cache';
import { withBuild, type BuildIdentity, type JobCache } from './job/cache.ts';
import type { JobLog } from './job/log.ts';

export function actionsCache(log: JobLog, build: BuildIdentity): JobCache | undefined {
  if (!cache.isFeatureAvailable()) {
    log.info('cache service not available (no ACTIONS_RESULTS_URL / ACTIONS_CACHE_URL, e.g. a local run or GHES): every model is computed and nothing is saved');
    return undefined;
  }
  log.info(`cache keys end in ${withBuild('', build)}: onnxruntime ${build.onnxruntime}, code sha256 ${build.codeSha256.slice(0, 12)} (entries of other builds are never restored)`);
  return {
    async restore(jobKey, dir) {
      const key = withBuild(jobKey, build);
      try {
        return (await cache.restoreCache([dir], key)) === key;
      } catch (e) {
        log.warning(`cache restore failed for ${key} (${(e as Error).message}); computing instead`);
        return false;
      }
    },
    async save(jobKey, dir) {
      const key = withBuild(jobKey, build);
      try {
        const id = await cache.saveCache([dir], key);
        if (id !== -1) log.info(`cache saved: ${key}`);
      } catch (e) {
        log.warning(`cache save failed for ${key} (${(e as Error).message}); the next run computes it again`);
      }
    },
  };
}
