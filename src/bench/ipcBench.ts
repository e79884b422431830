import { assign, createActor, setup } from 'xstate';
import { IpcKernel } from '../actors/ipcKernel.ts';
import { Disposition, PortRight } from '../protocol/rights.ts';
import { World } from '../world/world.ts';
import { type BenchResult, opsPerSecond, ratioResult } from './measure.ts';

const PAYLOAD = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);

/** Messages per second through one port between a sender and a receiver space on one host. */
function portThroughput(): number {
  const k = new IpcKernel(new World(1), 'bench');
  const sender = k.createSpace('sender');
  const receiver = k.createSpace('receiver');
  const port = k.allocate(receiver, PortRight.RECEIVE, 'bench');
  k.setQlimit(receiver, port, 16);
  k.insertRight(sender, 0x500, receiver, port, Disposition.MAKE_SEND);
  const msg = {
    remotePort: 0x500,
    remoteDisposition: Disposition.COPY_SEND,
    id: 1,
    body: [{ type: 'inline' as const, data: PAYLOAD }],
  };
  let sum = 0;
  return (
    opsPerSecond((n) => {
      for (let i = 0; i < n; i += 16) {
        for (let j = 0; j < 16; j++) k.send(sender, msg, { timeout: 0 });
        for (let j = 0; j < 16; j++) sum += k.receive(receiver, port)!.seqno;
      }
    }) +
    (sum & 0)
  );
}

/** The same events through XState actor `send` to an actor that handles each one. */
function xstateThroughput(): number {
  const machine = setup({
    types: { context: {} as { count: number }, events: {} as { type: 'msg'; data: Uint8Array } },
  }).createMachine({
    context: { count: 0 },
    on: { msg: { actions: assign({ count: ({ context }) => context.count + 1 }) } },
  });
  const actor = createActor(machine).start();
  const ev = { type: 'msg' as const, data: PAYLOAD };
  return opsPerSecond((n) => {
    for (let i = 0; i < n; i++) actor.send({ ...ev, data: ev.data.slice() });
  });
}

/** The same number of items through a plain array used as a FIFO queue. */
function arrayQueueThroughput(): number {
  const q: { data: Uint8Array; seq: number }[] = [];
  let sum = 0;
  return (
    opsPerSecond((n) => {
      for (let i = 0; i < n; i += 16) {
        for (let j = 0; j < 16; j++) q.push({ data: PAYLOAD.slice(), seq: j });
        for (let j = 0; j < 16; j++) sum += q.shift()!.seq;
      }
    }) +
    (sum & 0)
  );
}

export function ipcBenchmarks(): BenchResult[] {
  const port = portThroughput();
  const xs = xstateThroughput();
  const arr = arrayQueueThroughput();
  return [
    ratioResult(
      'ipc.port_vs_xstate_send',
      'msgs/s',
      port,
      'xstate.actor_send',
      xs,
      'goal: ratio >= 10',
    ),
    ratioResult(
      'ipc.port_vs_array_queue',
      'msgs/s',
      port,
      'plain_array_queue',
      arr,
      'goal: ratio >= 0.05',
    ),
  ];
}
