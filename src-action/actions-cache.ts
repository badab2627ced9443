// The job's cache seam on @actions/cache (service v2 at ACTIONS_RESULTS_URL, or v1 at ACTIONS_CACHE_URL). A cache
// that is unavailable, broken or full only costs time: every failure is logged and read as a miss.
import * as cache from '@actions/cache';
import type { JobCache } from './job/cache.ts';
import type { JobLog } from './job/log.ts';

export function actionsCache(log: JobLog): JobCache | undefined {
  if (!cache.isFeatureAvailable()) {
    log.info('cache service not available (no ACTIONS_RESULTS_URL / ACTIONS_CACHE_URL, e.g. a local run or GHES): every model is computed and nothing is saved');
    return undefined;
  }
  return {
    async restore(key, dir) {
      try {
        return (await cache.restoreCache([dir], key)) === key;
      } catch (e) {
        log.warning(`cache restore failed for ${key} (${(e as Error).message}); computing instead`);
        return false;
      }
    },
    async save(key, dir) {
      try {
        const id = await cache.saveCache([dir], key);
        if (id !== -1) log.info(`cache saved: ${key}`);
      } catch (e) {
        log.warning(`cache save failed for ${key} (${(e as Error).message}); the next run computes it again`);
      }
    },
  };
}
