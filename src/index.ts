/**
 * xmach's public API for embedding: build a cluster, create spaces and ports, exchange Mach
 * messages, run the world, subscribe to the trace.
 */
export { checkIpcInvariants } from './actors/invariants.ts';
export { IpcKernel } from './actors/ipcKernel.ts';
export type { ReceiveOptions, SendOptions } from './actors/machMsg.ts';
export { bindMailbox, type MachMessageEvent } from './actors/mailbox.ts';
export type { ReceiveOutcome, SendOutcome } from './actors/outcomes.ts';
export type { PortSpace } from './actors/portSpace.ts';
export { Cluster, type ClusterOptions } from './cluster.ts';
export { AssemblyError, assemble, type Includer } from './cpu/assembler.ts';
export { assembleFile, fileIncluder } from './cpu/sourceFiles.ts';
export { Host } from './kernel/host.ts';
export { spawn } from './kernel/loader.ts';
export type { Task } from './kernel/task.ts';
export { requestReplyClient } from './machines/requestReplyClient.ts';
export { requestReplyServer } from './machines/requestReplyServer.ts';
export {
  HostManagers,
  type ManagerOptions,
  Managers,
  type Pending,
  startManagers,
} from './managers/index.ts';
export {
  type MigrateOptions,
  type Migration,
  type MigrationResult,
  migrate,
} from './migration/migrate.ts';
export { dataOf, decodeData, encodeData, inlineData } from './protocol/codec.ts';
export { isMachError, MachError } from './protocol/errors.ts';
export type {
  Location,
  MigrateReply,
  MigrationSummary,
  ProcessReply,
  ProcessStatus,
  UserRequest,
} from './protocol/managers.ts';
export type { MachMessage, MessageItem, ReceivedMessage } from './protocol/message.ts';
export { STRATEGIES, type Strategy } from './protocol/migration.ts';
export { decodeNotification, NotifyId } from './protocol/notifications.ts';
export { KernReturn, MachMsgReturn, returnCodeName } from './protocol/returnCodes.ts';
export {
  Disposition,
  MACH_PORT_DEAD,
  MACH_PORT_NULL,
  PortRight,
  PortType,
} from './protocol/rights.ts';
export { blockingCall, startClient, startServer } from './servers/requestReply.ts';
export { type Fault, FaultPlan } from './world/faults.ts';
export { Network } from './world/network.ts';
export { HOST_PROFILES, LINK_PROFILES, wireTimeMs } from './world/profiles.ts';
export { type TraceEvent, traceDigest } from './world/trace.ts';
export { World } from './world/world.ts';
