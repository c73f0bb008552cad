const distinctSortedOf = new WeakMap<readonly string[], readonly string[]>();

/**
 * `list`'s distinct values, sorted: the one key of a set of sites or units. Remembered per array,
 * so a principal that a remembered token hands to every request is sorted once, not per request.
 */
export function distinctSorted(list: readonly string[]): readonly string[] {
  let sorted = distinctSortedOf.get(list);
  if (sorted === undefined) {
    sorted = [...new Set(list)].sort();
    distinctSortedOf.set(list, sorted);
  }
  return sorted;
}
