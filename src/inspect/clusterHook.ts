import { Cluster } from '../cluster.ts';
import type { Task } from '../kernel/task.ts';
import type { MigrateOptions, Migration } from '../migration/migrate.ts';

/**
 * Runs `fn` while every `Cluster.migrate` call anywhere also reports the cluster and the new
 * migration to `onMigrate`. For code that builds its clusters internally (the demo), this is how
 * an observer such as the inspector reaches them without changing that code. The original method
 * is restored when `fn` returns (or throws).
 */
export function observeMigrations<T>(
  onMigrate: (cluster: Cluster, migration: Migration) => void,
  fn: () => T,
): T {
  const original = Cluster.prototype.migrate;
  Cluster.prototype.migrate = function (
    this: Cluster,
    task: Task,
    to: string,
    opts?: MigrateOptions,
  ): Migration {
    const m = original.call(this, task, to, opts);
    onMigrate(this, m);
    return m;
  };
  try {
    return fn();
  } finally {
    Cluster.prototype.migrate = original;
  }
}
