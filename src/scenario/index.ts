/** Scenarios: a cluster, its programs, migrations and faults, described in a JSON or YAML file. */
export { scenarioJson } from './json.ts';
export { loadScenario, parseScenarioText } from './load.ts';
export {
  buildCluster,
  runScenario,
  type ScenarioMigrationOutcome,
  type ScenarioResult,
  type ScenarioRunOptions,
  type ScenarioTaskOutcome,
} from './runner.ts';
export { type Scenario, ScenarioError, validateScenario } from './schema.ts';
