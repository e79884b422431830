/**
 * The netmsg server: network-transparent Mach IPC between hosts (mach-network-server.txt).
 * Start one per host with `startNetmsgServer`, or on a whole cluster with `installNetmsg`.
 */
export { DEFAULT_NETMSG_CONFIG, type NetmsgConfig } from './config.ts';
export { installNetmsg, type NetmsgHostPlug, type NetmsgInstallation } from './install.ts';
export type { LookupResult } from './lookups.ts';
export { NetmsgServer, type NetmsgServerOptions, startNetmsgServer } from './server.ts';
export { type NetmsgStats, type RejectReason, totalRejected } from './stats.ts';
export { type NetmsgTestbed, netmsgTestbed, type TestbedHost } from './testbed.ts';
export { type NetmsgTransport, simulatedTransport } from './transport.ts';
