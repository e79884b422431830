import { migrationCheck } from './migrationExecutors.ts';
import { netmsgMoveCheck } from './netmsgMoveExecutors.ts';
import { pagerCheck } from './pagerExecutors.ts';
import { portRightsCheck } from './portRightsExecutors.ts';
import {
  type CheckModel,
  generatePaths,
  type ModelReport,
  type RunModelOptions,
  runModel,
} from './runner.ts';

/**
 * Every model the checker runs (the models are in models/, their executors here): the migration
 * protocol, port rights, the pager protocol, and netmsg's location updates.
 */
export const CHECK_MODELS: readonly CheckModel<unknown>[] = [
  migrationCheck as CheckModel<unknown>,
  portRightsCheck as CheckModel<unknown>,
  pagerCheck as CheckModel<unknown>,
  netmsgMoveCheck as CheckModel<unknown>,
];

export function modelNamed(name: string): CheckModel<unknown> | undefined {
  return CHECK_MODELS.find((m) => m.name === name);
}

/** Runs every model's paths (or those of `names`). */
export function checkModels(
  options: RunModelOptions & { readonly names?: readonly string[] } = {},
): ModelReport[] {
  const models =
    options.names === undefined
      ? CHECK_MODELS
      : CHECK_MODELS.filter((m) => options.names!.includes(m.name));
  return models.map((m) => runModel(m, options));
}

/** How many paths every model has, without running them. */
export function pathCounts(): {
  name: string;
  states: number;
  paths: number;
  failurePaths: number;
}[] {
  return CHECK_MODELS.map((m) => {
    const g = generatePaths(m);
    return {
      name: m.name,
      states: g.states,
      paths: g.paths.length,
      failurePaths: g.paths.filter((p) => p.failure).length,
    };
  });
}
