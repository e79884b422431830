import type { AddressSpace } from './addressSpace.ts';

/**
 * The virtual pages of a space that hold data, wherever it is: resident, kept by the default
 * pager (paged out), or behind another pager (a page a migrated task has not fetched yet).
 * Pages never written read as zeros and are left out: migration need not move them.
 */
export function dataPages(space: AddressSpace): number[] {
  const out: number[] = [];
  const defaultPager = space.vm.defaultPager;
  for (const r of space.regions.list) {
    for (let vp = r.start; vp < r.end; vp++) {
      let o = r.object;
      let x = r.objectPage(vp);
      for (;;) {
        if (o.pages.has(x) || o.existence.has(x)) {
          out.push(vp);
          break;
        }
        if (o.shadow === null) {
          if (o.pagerPort !== 0 && o.pagerPort !== defaultPager) out.push(vp);
          break;
        }
        x += o.shadowOffset;
        o = o.shadow;
      }
    }
  }
  return out;
}
