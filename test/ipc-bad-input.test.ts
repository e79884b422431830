/**
 * Bad input changes nothing. Every call here is wrong in one way (a name the space does not hold,
 * the wrong right, an invalid disposition, a malformed message, a garbage value); each must fail
 * with a MachError carrying the Mach return code and a detail that names what was wrong, and
 * leave every space, every port queue and every counter exactly as it was.
 * (mach3-kernel-interfaces.txt: mach_msg RETURN VALUE "These return codes imply that the call did
 * nothing", and the RETURN VALUE sections of the mach_port_* calls.)
 */
import { describe, expect, it } from 'vitest';
import { createActor, createMachine } from 'xstate';
import { bindMailbox } from '../src/actors/mailbox.ts';
import { isMachError } from '../src/protocol/errors.ts';
import type { MachMessage } from '../src/protocol/message.ts';
import type { ReturnCodeName } from '../src/protocol/returnCodes.ts';
import {
  Disposition,
  MACH_PORT_DEAD,
  MACH_PORT_NULL,
  MACH_PORT_UREFS_MAX,
  PortRight,
} from '../src/protocol/rights.ts';
import {
  expectConsistent,
  giveSend,
  makeFixture,
  newPort,
  simple,
  snapshotIpc,
} from './support/ipcFixtures.ts';

/**
 * A busy kernel to break things against: queued messages carrying rights, a full queue with a
 * blocked sender, a port set, a dead name, send-once rights and notification requests.
 */
function busy() {
  const f = makeFixture();
  const { k, a, b, c } = f;
  const svc = newPort(k, b, 'svc'); // b's service port
  giveSend(k, b, svc, a, 0x500); // a: send right to svc
  const full = newPort(k, c, 'full'); // c's port with a full queue
  giveSend(k, c, full, a, 0x510);
  const recv = newPort(k, a, 'a-recv'); // a's own receive right
  k.insertRight(a, recv, a, recv, Disposition.MAKE_SEND); // send+receive under one name
  const lonely = newPort(k, a, 'a-lonely'); // a receive right without send rights
  k.insertRight(a, 0x520, b, svc, Disposition.MAKE_SEND_ONCE); // a: send-once right
  const doomed = newPort(k, c, 'doomed');
  giveSend(k, c, doomed, a, 0x530);
  k.modRefs(a, 0x530, PortRight.SEND, 1);
  k.destroy(c, doomed); // a: 0x530 is a dead name with 2 references
  const set = k.allocate(b, PortRight.PORT_SET);
  const member = newPort(k, b, 'member');
  k.moveMember(b, member, set);
  const notify = newPort(k, a, 'a-notify');
  k.requestNotification(a, 0x500, 'dead-name', 0, notify);
  k.requestNotification(b, svc, 'no-senders', 1, svc);
  // Queued messages with rights in them.
  k.send(a, {
    remotePort: 0x500,
    remoteDisposition: Disposition.COPY_SEND,
    localPort: recv,
    localDisposition: Disposition.MAKE_SEND_ONCE,
    id: 1,
    body: [{ type: 'port', name: recv, disposition: Disposition.COPY_SEND }],
  });
  for (let i = 0; i < 5; i++) k.send(a, simple(0x510, 10 + i));
  k.send(a, simple(0x510, 15), {}, () => {}); // blocked
  const dead = k.createSpace('terminated');
  k.destroySpace(dead);
  f.world.runUntilIdle();
  return { ...f, svc, full, recv, lonely, set, member, notify, dead };
}

type Ctx = ReturnType<typeof busy>;

interface Case {
  what: string;
  call: (x: Ctx) => unknown;
  code: ReturnCodeName;
  /** What the detail must mention: the bad field or value. */
  detail: RegExp;
}

const garbage: [string, unknown][] = [
  ['null', null],
  ['undefined', undefined],
  ['a string', '0x500'],
  ['NaN', Number.NaN],
  ['a fraction', 1.5],
  ['an object', {}],
];

const msg = (over: Record<string, unknown>) =>
  ({ remotePort: 0x500, remoteDisposition: Disposition.COPY_SEND, id: 1, ...over }) as MachMessage;
const withBody = (...items: unknown[]) => msg({ body: items });

const sendCases: Case[] = [
  // Destination
  {
    what: 'a destination name the space does not hold',
    call: ({ k, a }) => k.send(a, simple(0x999, 1)),
    code: 'MACH_SEND_INVALID_DEST',
    detail: /remotePort.*0x999.*not in space "a"/,
  },
  {
    what: 'MACH_PORT_NULL as destination',
    call: ({ k, a }) => k.send(a, simple(MACH_PORT_NULL, 1)),
    code: 'MACH_SEND_INVALID_DEST',
    detail: /MACH_PORT_NULL/,
  },
  {
    what: 'MACH_PORT_DEAD as destination',
    call: ({ k, a }) => k.send(a, simple(MACH_PORT_DEAD, 1)),
    code: 'MACH_SEND_INVALID_DEST',
    detail: /MACH_PORT_DEAD/,
  },
  {
    what: 'a dead name as destination',
    call: ({ k, a }) => k.send(a, simple(0x530, 1)),
    code: 'MACH_SEND_INVALID_DEST',
    detail: /0x530 is a dead name/,
  },
  {
    what: 'a receive right used with COPY_SEND',
    call: ({ k, a, lonely }) => k.send(a, simple(lonely, 1)),
    code: 'MACH_SEND_INVALID_DEST',
    detail: /COPY_SEND needs a send right.*holds only receive/,
  },
  {
    what: 'a send right used with MAKE_SEND',
    call: ({ k, a }) =>
      k.send(a, { remotePort: 0x500, remoteDisposition: Disposition.MAKE_SEND, id: 1 }),
    code: 'MACH_SEND_INVALID_DEST',
    detail: /MAKE_SEND needs a receive right/,
  },
  {
    what: 'a send-once right used with COPY_SEND',
    call: ({ k, a }) => k.send(a, simple(0x520, 1)),
    code: 'MACH_SEND_INVALID_DEST',
    detail: /COPY_SEND needs a send right.*send-once/,
  },
  {
    what: 'a port set as destination',
    call: ({ k, b, set }) => k.send(b, simple(set, 1)),
    code: 'MACH_SEND_INVALID_DEST',
    detail: /port set/,
  },
  {
    what: 'a terminated space sending',
    call: ({ k, dead }) => k.send(dead, simple(0x500, 1)),
    code: 'MACH_SEND_INVALID_DEST',
    detail: /terminated/,
  },
  // Header shape
  ...garbage.map(
    ([label, v]): Case => ({
      what: `remotePort is ${label}`,
      call: ({ k, a }) => k.send(a, msg({ remotePort: v })),
      code: 'MACH_SEND_INVALID_HEADER',
      detail: /remotePort must be an integer/,
    }),
  ),
  ...[
    ...garbage,
    ['MOVE_RECEIVE', Disposition.MOVE_RECEIVE] as [string, unknown],
    ['99', 99],
    ['"COPY_SEND"', 'COPY_SEND'],
  ].map(
    ([label, v]): Case => ({
      what: `remoteDisposition is ${label}`,
      call: ({ k, a }) => k.send(a, msg({ remoteDisposition: v })),
      code: 'MACH_SEND_INVALID_HEADER',
      detail: /remoteDisposition/,
    }),
  ),
  ...garbage
    .filter(([, v]) => v !== undefined && v !== null)
    .map(
      ([label, v]): Case => ({
        what: `localPort is ${label}`,
        call: ({ k, a, recv }) =>
          k.send(a, msg({ localPort: v, localDisposition: Disposition.MAKE_SEND, recv })),
        code: 'MACH_SEND_INVALID_HEADER',
        detail: /localPort must be an integer/,
      }),
    ),
  {
    what: 'a reply port without a disposition',
    call: ({ k, a, recv }) => k.send(a, msg({ localPort: recv })),
    code: 'MACH_SEND_INVALID_HEADER',
    detail: /localDisposition undefined/,
  },
  {
    what: 'a reply port with MOVE_RECEIVE',
    call: ({ k, a, recv }) =>
      k.send(a, msg({ localPort: recv, localDisposition: Disposition.MOVE_RECEIVE })),
    code: 'MACH_SEND_INVALID_HEADER',
    detail: /localDisposition 16/,
  },
  ...garbage.map(
    ([label, v]): Case => ({
      what: `id is ${label}`,
      call: ({ k, a }) => k.send(a, msg({ id: v })),
      code: 'MACH_SEND_INVALID_HEADER',
      detail: /id must be an integer/,
    }),
  ),
  // Reply
  {
    what: 'a reply name the space does not hold',
    call: ({ k, a }) =>
      k.send(a, msg({ localPort: 0x999, localDisposition: Disposition.MAKE_SEND_ONCE })),
    code: 'MACH_SEND_INVALID_REPLY',
    detail: /localPort.*0x999/,
  },
  {
    what: 'a reply MAKE_SEND_ONCE from a send right',
    call: ({ k, a }) =>
      k.send(a, msg({ localPort: 0x500, localDisposition: Disposition.MAKE_SEND_ONCE })),
    code: 'MACH_SEND_INVALID_REPLY',
    detail: /localPort: MAKE_SEND_ONCE needs a receive right/,
  },
  {
    what: 'the same send-once right as destination and reply',
    call: ({ k, a }) =>
      k.send(a, {
        remotePort: 0x520,
        remoteDisposition: Disposition.MOVE_SEND_ONCE,
        localPort: 0x520,
        localDisposition: Disposition.MOVE_SEND_ONCE,
        id: 1,
      }),
    code: 'MACH_SEND_INVALID_REPLY',
    detail: /already used/,
  },
  // The whole message
  ...[
    ['null', null],
    ['undefined', undefined],
    ['a string', 'hello'],
    ['a number', 42],
  ].map(
    ([label, v]): Case => ({
      what: `the message is ${label}`,
      call: ({ k, a }) => k.send(a, v as unknown as MachMessage),
      code: 'MACH_SEND_INVALID_DATA',
      detail: /message is not an object/,
    }),
  ),
  ...[
    ['an object', {}],
    ['a string', 'items'],
    ['null', null],
  ].map(
    ([label, v]): Case => ({
      what: `body is ${label}`,
      call: ({ k, a }) => k.send(a, msg({ body: v })),
      code: 'MACH_SEND_INVALID_DATA',
      detail: /body must be an array/,
    }),
  ),
  // Body items
  ...[
    ['null', null],
    ['a string', 'port'],
    ['a number', 7],
  ].map(
    ([label, v]): Case => ({
      what: `a body item that is ${label}`,
      call: ({ k, a }) => k.send(a, withBody(v)),
      code: 'MACH_SEND_INVALID_TYPE',
      detail: /body\[0\] is not an item/,
    }),
  ),
  {
    what: 'a body item of unknown type',
    call: ({ k, a }) =>
      k.send(
        a,
        withBody(
          { type: 'inline', data: new Uint8Array(1) },
          { type: 'struct', data: new Uint8Array(1) },
        ),
      ),
    code: 'MACH_SEND_INVALID_TYPE',
    detail: /body\[1\]\.type "struct"/,
  },
  {
    what: 'a body item without a type',
    call: ({ k, a }) => k.send(a, withBody({ data: new Uint8Array(1) })),
    code: 'MACH_SEND_INVALID_TYPE',
    detail: /body\[0\]\.type "undefined"/,
  },
  ...[
    ['a string', 'abc'],
    ['an array of numbers', [1, 2, 3]],
    ['an ArrayBuffer', new ArrayBuffer(4)],
    ['missing', undefined],
    ['null', null],
  ].map(
    ([label, v]): Case => ({
      what: `inline data that is ${label}`,
      call: ({ k, a }) => k.send(a, withBody({ type: 'inline', data: v })),
      code: 'MACH_SEND_INVALID_DATA',
      detail: /body\[0\]\.data must be a Uint8Array/,
    }),
  ),
  ...[
    ['a string', 'abc'],
    ['an array of numbers', [1, 2, 3]],
    ['missing', undefined],
  ].map(
    ([label, v]): Case => ({
      what: `out-of-line data that is ${label}`,
      call: ({ k, a }) => k.send(a, withBody({ type: 'ool', data: v })),
      code: 'MACH_SEND_INVALID_MEMORY',
      detail: /body\[0\]\.data must be a Uint8Array/,
    }),
  ),
  ...garbage.map(
    ([label, v]): Case => ({
      what: `a port item whose name is ${label}`,
      call: ({ k, a }) =>
        k.send(a, withBody({ type: 'port', name: v, disposition: Disposition.COPY_SEND })),
      code: 'MACH_SEND_INVALID_RIGHT',
      detail: /body\[0\]\.name must be an integer/,
    }),
  ),
  ...[...garbage, ['15', 15], ['22', 22], ['"MOVE_SEND"', 'MOVE_SEND']].map(
    ([label, v]): Case => ({
      what: `a port item whose disposition is ${label}`,
      call: ({ k, a }) => k.send(a, withBody({ type: 'port', name: 0x500, disposition: v })),
      code: 'MACH_SEND_INVALID_TYPE',
      detail: /body\[0\]\.disposition .* is not a port disposition/,
    }),
  ),
  {
    what: 'a body right the space does not hold',
    call: ({ k, a }) =>
      k.send(a, withBody({ type: 'port', name: 0x999, disposition: Disposition.COPY_SEND })),
    code: 'MACH_SEND_INVALID_RIGHT',
    detail: /body\[0\].*0x999.*not in space "a"/,
  },
  {
    what: 'MOVE_RECEIVE of a send right',
    call: ({ k, a }) =>
      k.send(a, withBody({ type: 'port', name: 0x500, disposition: Disposition.MOVE_RECEIVE })),
    code: 'MACH_SEND_INVALID_RIGHT',
    detail: /MOVE_RECEIVE needs a receive right/,
  },
  {
    what: 'MOVE_SEND_ONCE of a send right',
    call: ({ k, a }) =>
      k.send(a, withBody({ type: 'port', name: 0x500, disposition: Disposition.MOVE_SEND_ONCE })),
    code: 'MACH_SEND_INVALID_RIGHT',
    detail: /MOVE_SEND_ONCE needs a send-once right/,
  },
  {
    what: 'MAKE_SEND from a dead name',
    call: ({ k, a }) =>
      k.send(a, withBody({ type: 'port', name: 0x530, disposition: Disposition.MAKE_SEND })),
    code: 'MACH_SEND_INVALID_RIGHT',
    detail: /0x530 is a dead name/,
  },
  {
    what: 'a bad right after good ones that would move rights',
    call: ({ k, a, recv }) =>
      k.send(
        a,
        withBody(
          { type: 'port', name: recv, disposition: Disposition.MOVE_RECEIVE },
          { type: 'port', name: 0x520, disposition: Disposition.MOVE_SEND_ONCE },
          { type: 'port', name: 0x500, disposition: Disposition.MOVE_SEND },
          { type: 'port', name: recv, disposition: Disposition.MAKE_SEND },
        ),
      ),
    code: 'MACH_SEND_INVALID_RIGHT',
    detail: /body\[3\].*receive \(already moved\)/,
  },
  {
    what: 'moving more send references than the space holds',
    call: ({ k, a }) =>
      k.send(a, {
        remotePort: 0x500,
        remoteDisposition: Disposition.MOVE_SEND,
        id: 1,
        body: [{ type: 'port', name: 0x500, disposition: Disposition.MOVE_SEND }],
      }),
    code: 'MACH_SEND_INVALID_RIGHT',
    detail: /no user references left/,
  },
  {
    what: 'a port set name in a body',
    call: ({ k, b, set }) =>
      k.send(b, { remotePort: set, remoteDisposition: Disposition.MAKE_SEND, id: 1 }),
    code: 'MACH_SEND_INVALID_DEST',
    detail: /port set/,
  },
  // Limits
  {
    what: 'inline data beyond the message buffer',
    call: ({ k, a }) => k.send(a, withBody({ type: 'inline', data: new Uint8Array(70_000) })),
    code: 'MACH_SEND_NO_BUFFER',
    detail: /exceeds the 65536-byte limit/,
  },
  {
    what: 'a full queue with a zero timeout, with rights to move',
    call: ({ k, a, recv }) =>
      k.send(
        a,
        {
          remotePort: 0x510,
          remoteDisposition: Disposition.MOVE_SEND,
          id: 1,
          body: [{ type: 'port', name: recv, disposition: Disposition.MOVE_RECEIVE }],
        },
        { timeout: 0 },
      ),
    code: 'MACH_SEND_TIMED_OUT',
    detail: /full \(5\/5\)/,
  },
];

const receiveCases: Case[] = [
  {
    what: 'a name the space does not hold',
    call: ({ k, a }) => k.receive(a, 0x999, { timeout: 0 }),
    code: 'MACH_RCV_INVALID_NAME',
    detail: /0x999 is not in space "a"/,
  },
  ...garbage.map(
    ([label, v]): Case => ({
      what: `a name that is ${label}`,
      call: ({ k, a }) => k.receive(a, v as number, { timeout: 0 }),
      code: 'MACH_RCV_INVALID_NAME',
      detail: new RegExp(`name ${String(v).replace(/[[\]]/g, '.')} is not in space`),
    }),
  ),
  {
    what: 'a send right',
    call: ({ k, a }) => k.receive(a, 0x500, { timeout: 0 }),
    code: 'MACH_RCV_INVALID_NAME',
    detail: /0x500.*not a receive right or port set/,
  },
  {
    what: 'a send-once right',
    call: ({ k, a }) => k.receive(a, 0x520, { timeout: 0 }),
    code: 'MACH_RCV_INVALID_NAME',
    detail: /0x520.*not a receive right or port set/,
  },
  {
    what: 'a dead name',
    call: ({ k, a }) => k.receive(a, 0x530, { timeout: 0 }),
    code: 'MACH_RCV_INVALID_NAME',
    detail: /0x530/,
  },
  {
    what: 'a port in a port set',
    call: ({ k, b, member }) => k.receive(b, member, { timeout: 0 }),
    code: 'MACH_RCV_IN_SET',
    detail: /member of a port set/,
  },
  {
    what: 'an empty queue with a zero timeout',
    call: ({ k, a, lonely }) => k.receive(a, lonely, { timeout: 0 }),
    code: 'MACH_RCV_TIMED_OUT',
    detail: /no message/,
  },
  {
    what: 'a too-large message with MACH_RCV_LARGE',
    call: ({ k, b, svc }) => k.receive(b, svc, { timeout: 0, maxSize: 8, large: true }),
    code: 'MACH_RCV_TOO_LARGE',
    detail: /left queued/,
  },
];

const dummyActor = () => createActor(createMachine({})).start();

const portCases: Case[] = [
  // mach_port_allocate
  ...[['SEND', PortRight.SEND], ['SEND_ONCE', PortRight.SEND_ONCE], ['9', 9], ...garbage].map(
    ([label, v]): Case => ({
      what: `allocate: right ${label}`,
      call: ({ k, a }) => k.allocate(a, v as PortRight),
      code: 'KERN_INVALID_VALUE',
      detail: /cannot allocate/,
    }),
  ),
  {
    what: 'allocate_name: a name in use',
    call: ({ k, a }) => k.allocate(a, PortRight.RECEIVE, 'x', 0x500),
    code: 'KERN_NAME_EXISTS',
    detail: /0x500 already denotes a right/,
  },
  ...[
    ['MACH_PORT_DEAD', MACH_PORT_DEAD],
    ['NaN', Number.NaN],
    ['a string', 'n'],
    ['null', null],
  ].map(
    ([label, v]): Case => ({
      what: `allocate_name: name ${label}`,
      call: ({ k, a }) => k.allocate(a, PortRight.RECEIVE, 'x', v as number),
      code: 'KERN_INVALID_VALUE',
      detail: /cannot name a right/,
    }),
  ),
  {
    what: 'allocate in a terminated space',
    call: ({ k, dead }) => k.allocate(dead, PortRight.RECEIVE),
    code: 'KERN_INVALID_TASK',
    detail: /terminated/,
  },
  // mach_port_deallocate / destroy / type
  ...[...garbage, ['0x999', 0x999], ['MACH_PORT_NULL', 0]].flatMap(([label, v]): Case[] => [
    {
      what: `deallocate: name ${label}`,
      call: ({ k, a }) => k.deallocate(a, v as number),
      code: 'KERN_INVALID_NAME',
      detail: /is not in space "a"/,
    },
    {
      what: `destroy: name ${label}`,
      call: ({ k, a }) => k.destroy(a, v as number),
      code: 'KERN_INVALID_NAME',
      detail: /is not in space "a"/,
    },
    {
      what: `type: name ${label}`,
      call: ({ k, a }) => k.type(a, v as number),
      code: 'KERN_INVALID_NAME',
      detail: /is not in space "a"/,
    },
  ]),
  {
    what: 'deallocate: a receive right',
    call: ({ k, a, lonely }) => k.deallocate(a, lonely),
    code: 'KERN_INVALID_RIGHT',
    detail: /only a receive right/,
  },
  {
    what: 'deallocate: a port set',
    call: ({ k, b, set }) => k.deallocate(b, set),
    code: 'KERN_INVALID_RIGHT',
    detail: /a port set/,
  },
  // mach_port_mod_refs / get_refs
  {
    what: 'mod_refs: unknown name',
    call: ({ k, a }) => k.modRefs(a, 0x999, PortRight.SEND, 1),
    code: 'KERN_INVALID_NAME',
    detail: /0x999/,
  },
  {
    what: 'mod_refs: receive right on a send-only name',
    call: ({ k, a }) => k.modRefs(a, 0x500, PortRight.RECEIVE, -1),
    code: 'KERN_INVALID_RIGHT',
    detail: /0x500 does not denote a RECEIVE right/,
  },
  {
    what: 'mod_refs: send right on a dead name',
    call: ({ k, a }) => k.modRefs(a, 0x530, PortRight.SEND, -1),
    code: 'KERN_INVALID_RIGHT',
    detail: /does not denote a SEND right/,
  },
  ...[['9', 9], ['-1', -1], ...garbage].map(
    ([label, v]): Case => ({
      what: `mod_refs: right ${label}`,
      call: ({ k, a }) => k.modRefs(a, 0x500, v as PortRight, 1),
      code: 'KERN_INVALID_VALUE',
      detail: /invalid right/,
    }),
  ),
  ...garbage.map(
    ([label, v]): Case => ({
      what: `mod_refs: delta ${label}`,
      call: ({ k, a }) => k.modRefs(a, 0x500, PortRight.SEND, v as number),
      code: 'KERN_INVALID_VALUE',
      detail: /delta must be an integer/,
    }),
  ),
  {
    what: 'mod_refs: below zero',
    call: ({ k, a }) => k.modRefs(a, 0x530, PortRight.DEAD_NAME, -3),
    code: 'KERN_INVALID_VALUE',
    detail: /has 2 user references; cannot add -3/,
  },
  {
    what: 'mod_refs: overflow',
    call: ({ k, a }) => k.modRefs(a, 0x500, PortRight.SEND, MACH_PORT_UREFS_MAX),
    code: 'KERN_UREFS_OVERFLOW',
    detail: /would exceed 65535/,
  },
  {
    what: 'mod_refs: +1 on a receive right',
    call: ({ k, a, lonely }) => k.modRefs(a, lonely, PortRight.RECEIVE, 1),
    code: 'KERN_INVALID_VALUE',
    detail: /takes delta 0 or -1, got 1/,
  },
  ...[['9', 9], ...garbage].map(
    ([label, v]): Case => ({
      what: `get_refs: right ${label}`,
      call: ({ k, a }) => k.getRefs(a, 0x500, v as PortRight),
      code: 'KERN_INVALID_VALUE',
      detail: /invalid right/,
    }),
  ),
  // mach_port_insert_right
  ...[['MACH_PORT_NULL', 0], ['MACH_PORT_DEAD', -1], ...garbage].map(
    ([label, v]): Case => ({
      what: `insert_right: new name ${label}`,
      call: ({ k, a, b, svc }) => k.insertRight(a, v as number, b, svc, Disposition.MAKE_SEND),
      code: 'KERN_INVALID_VALUE',
      detail: /cannot name a right/,
    }),
  ),
  ...[['15', 15], ['0', 0], ...garbage].map(
    ([label, v]): Case => ({
      what: `insert_right: right type ${label}`,
      call: ({ k, c, b, svc }) => k.insertRight(c, 0x700, b, svc, v as Disposition),
      code: 'KERN_INVALID_VALUE',
      detail: /is not a port right disposition/,
    }),
  ),
  {
    what: 'insert_right: a null right',
    call: ({ k, c, b }) => k.insertRight(c, 0x700, b, MACH_PORT_NULL, Disposition.COPY_SEND),
    code: 'KERN_INVALID_CAPABILITY',
    detail: /MACH_PORT_NULL/,
  },
  {
    what: 'insert_right: a right the caller does not hold',
    call: ({ k, c, b }) => k.insertRight(c, 0x700, b, 0x999, Disposition.COPY_SEND),
    code: 'KERN_INVALID_RIGHT',
    detail: /0x999 is not in space "b"/,
  },
  {
    what: 'insert_right: a garbage right name',
    call: ({ k, c, b }) => k.insertRight(c, 0x700, b, 'svc' as never, Disposition.COPY_SEND),
    code: 'KERN_INVALID_RIGHT',
    detail: /name svc is not in space "b"/,
  },
  {
    what: 'insert_right: the wrong kind of right',
    call: ({ k, c, a }) => k.insertRight(c, 0x700, a, 0x500, Disposition.MOVE_RECEIVE),
    code: 'KERN_INVALID_RIGHT',
    detail: /MOVE_RECEIVE needs a receive right/,
  },
  {
    what: 'insert_right: a name in use',
    call: ({ k, a, b, member }) => k.insertRight(a, 0x520, b, member, Disposition.MAKE_SEND),
    code: 'KERN_NAME_EXISTS',
    detail: /0x520 already denotes another right/,
  },
  {
    what: 'insert_right: the port under another name',
    call: ({ k, a, b, svc }) => k.insertRight(a, 0x777, b, svc, Disposition.MAKE_SEND),
    code: 'KERN_RIGHT_EXISTS',
    detail: /already names this port 0x500/,
  },
  {
    what: 'insert_right: into a terminated space',
    call: ({ k, dead, b, svc }) => k.insertRight(dead, 0x700, b, svc, Disposition.MAKE_SEND),
    code: 'KERN_INVALID_TASK',
    detail: /terminated/,
  },
  // mach_port_extract_right
  {
    what: 'extract_right: unknown name',
    call: ({ k, a, c }) => k.extractRight(a, 0x999, Disposition.COPY_SEND, c),
    code: 'KERN_INVALID_NAME',
    detail: /0x999 is not in space "a"/,
  },
  {
    what: 'extract_right: the wrong right',
    call: ({ k, a, c }) => k.extractRight(a, 0x500, Disposition.MOVE_RECEIVE, c),
    code: 'KERN_INVALID_RIGHT',
    detail: /MOVE_RECEIVE needs a receive right/,
  },
  ...[['14', 14], ...garbage].map(
    ([label, v]): Case => ({
      what: `extract_right: desired type ${label}`,
      call: ({ k, a, c }) => k.extractRight(a, 0x500, v as Disposition, c),
      code: 'KERN_INVALID_VALUE',
      detail: /is not a port right disposition/,
    }),
  ),
  // mach_port_move_member
  {
    what: 'move_member: unknown member',
    call: ({ k, b, set }) => k.moveMember(b, 0x999, set),
    code: 'KERN_INVALID_NAME',
    detail: /0x999/,
  },
  {
    what: 'move_member: a send right as member',
    call: ({ k, a, recv }) => k.moveMember(a, 0x500, recv),
    code: 'KERN_INVALID_RIGHT',
    detail: /0x500 does not denote a receive right/,
  },
  {
    what: 'move_member: unknown set',
    call: ({ k, b, svc }) => k.moveMember(b, svc, 0x999),
    code: 'KERN_INVALID_NAME',
    detail: /port set 0x999/,
  },
  {
    what: 'move_member: a port as the set',
    call: ({ k, b, svc, member }) => k.moveMember(b, svc, member),
    code: 'KERN_INVALID_RIGHT',
    detail: /is not a port set/,
  },
  {
    what: 'move_member: out of no set',
    call: ({ k, b, svc }) => k.moveMember(b, svc, MACH_PORT_NULL),
    code: 'KERN_NOT_IN_SET',
    detail: /not in a port set/,
  },
  // mach_port_request_notification
  {
    what: 'request_notification: unknown name',
    call: ({ k, a, notify }) => k.requestNotification(a, 0x999, 'dead-name', 0, notify),
    code: 'KERN_INVALID_NAME',
    detail: /0x999/,
  },
  {
    what: 'request_notification: unknown variant',
    call: ({ k, a, notify }) => k.requestNotification(a, 0x500, 'msg-accepted' as never, 0, notify),
    code: 'KERN_INVALID_VALUE',
    detail: /unknown notification variant "msg-accepted"/,
  },
  {
    what: 'request_notification: notify port not held',
    call: ({ k, a }) => k.requestNotification(a, 0x500, 'dead-name', 0, 0x999),
    code: 'KERN_INVALID_CAPABILITY',
    detail: /notify port.*0x999/,
  },
  {
    what: 'request_notification: notify port is a send right (MAKE_SEND_ONCE needs receive)',
    call: ({ k, a }) => k.requestNotification(a, 0x500, 'dead-name', 0, 0x500),
    code: 'KERN_INVALID_CAPABILITY',
    detail: /MAKE_SEND_ONCE needs a receive right/,
  },
  {
    what: 'request_notification: notify disposition COPY_SEND',
    call: ({ k, a, notify }) =>
      k.requestNotification(a, 0x500, 'dead-name', 0, notify, Disposition.COPY_SEND),
    code: 'KERN_INVALID_VALUE',
    detail: /MAKE_SEND_ONCE or MOVE_SEND_ONCE/,
  },
  {
    what: 'request_notification: no-senders on a send right',
    call: ({ k, a, notify }) => k.requestNotification(a, 0x500, 'no-senders', 0, notify),
    code: 'KERN_INVALID_RIGHT',
    detail: /no-senders needs a receive right/,
  },
  {
    what: 'request_notification: port-destroyed with sync 1',
    call: ({ k, a, recv, notify }) => k.requestNotification(a, recv, 'port-destroyed', 1, notify),
    code: 'KERN_INVALID_VALUE',
    detail: /sync 0/,
  },
  {
    what: 'request_notification: dead-name on a dead name with sync 0',
    call: ({ k, a, notify }) => k.requestNotification(a, 0x530, 'dead-name', 0, notify),
    code: 'KERN_INVALID_ARGUMENT',
    detail: /already dead/,
  },
  ...[['-1', -1], ...garbage].map(
    ([label, v]): Case => ({
      what: `request_notification: sync ${label}`,
      call: ({ k, a, recv, notify }) =>
        k.requestNotification(a, recv, 'no-senders', v as number, notify),
      code: 'KERN_INVALID_VALUE',
      detail: /sync must be a non-negative integer/,
    }),
  ),
  // mach_port_set_qlimit / set_seqno / get_attributes
  ...[['17', 17], ['-1', -1], ...garbage].map(
    ([label, v]): Case => ({
      what: `set_qlimit: ${label}`,
      call: ({ k, b, svc }) => k.setQlimit(b, svc, v as number),
      code: 'KERN_INVALID_VALUE',
      detail: /queue limit must be an integer in 0\.\.16/,
    }),
  ),
  ...[['-1', -1], ...garbage].map(
    ([label, v]): Case => ({
      what: `set_seqno: ${label}`,
      call: ({ k, b, svc }) => k.setSeqno(b, svc, v as number),
      code: 'KERN_INVALID_VALUE',
      detail: /seqno must be a non-negative integer/,
    }),
  ),
  {
    what: 'set_qlimit on a send right',
    call: ({ k, a }) => k.setQlimit(a, 0x500, 3),
    code: 'KERN_INVALID_RIGHT',
    detail: /does not denote a receive right/,
  },
  {
    what: 'get_attributes on a dead name',
    call: ({ k, a }) => k.getAttributes(a, 0x530),
    code: 'KERN_INVALID_RIGHT',
    detail: /0x530 does not denote a receive right/,
  },
  // Mailboxes
  {
    what: 'bindMailbox: a send right',
    call: ({ k, a }) => bindMailbox(k, a, 0x500, dummyActor()),
    code: 'MACH_RCV_INVALID_NAME',
    detail: /0x500 is not a receive right/,
  },
  {
    what: 'bindMailbox: a garbage name',
    call: ({ k, a }) => bindMailbox(k, a, null as never, dummyActor()),
    code: 'MACH_RCV_INVALID_NAME',
    detail: /name null is not a receive right/,
  },
  {
    what: 'bindMailbox: a port in a set',
    call: ({ k, b, member }) => bindMailbox(k, b, member, dummyActor()),
    code: 'MACH_RCV_IN_SET',
    detail: /in a port set/,
  },
];

function runCase(c: Case) {
  const x = busy();
  expectConsistent(x.k);
  const before = snapshotIpc(x.k);
  let caught: unknown;
  try {
    c.call(x);
  } catch (e) {
    caught = e;
  }
  if (!isMachError(caught))
    throw new Error(
      `expected a MachError ${c.code}, got ${caught === undefined ? 'success' : String(caught)}`,
    );
  expect(caught.codeName).toBe(c.code);
  expect(caught.detail).toMatch(c.detail);
  expect(caught.message).toBe(`${c.code}: ${caught.detail}`);
  // Nothing changed, now or later.
  expect(snapshotIpc(x.k)).toEqual(before);
  x.world.runUntilIdle();
  expect(snapshotIpc(x.k)).toEqual(before);
  expectConsistent(x.k);
}

describe('the busy kernel the cases run against', () => {
  it('is consistent and has the state the cases rely on', () => {
    const x = busy();
    expectConsistent(x.k);
    const snap = snapshotIpc(x.k);
    expect(snap.ports.find((p) => p.label === 'full')).toMatchObject({
      msgcount: 5,
      blockedSenders: 1,
    });
    expect(snap.ports.find((p) => p.label === 'svc')).toMatchObject({
      msgcount: 1,
      requests: { ns: true, pd: false, dn: 1 },
    });
    expect(snap.spaces.a!.find((e) => e.name === 0x530)).toMatchObject({ urefs: 2 });
  });
  it('and the snapshot notices the smallest change: one user reference, one message, one request', () => {
    const x = busy();
    const changes: (() => unknown)[] = [
      () => x.k.modRefs(x.a, 0x530, PortRight.DEAD_NAME, -1),
      () => x.k.send(x.a, simple(0x500, 1)),
      () => x.k.requestNotification(x.b, x.member, 'port-destroyed', 0, x.member),
      () => x.k.setSeqno(x.b, x.svc, 5),
    ];
    for (const change of changes) {
      const before = snapshotIpc(x.k);
      change();
      expect(snapshotIpc(x.k)).not.toEqual(before);
    }
  });
});

describe('mach_msg send: bad input is refused and changes nothing', () => {
  for (const c of sendCases) it(`${c.what} → ${c.code}`, () => runCase(c));
});

describe('mach_msg receive: bad input is refused and changes nothing', () => {
  for (const c of receiveCases) it(`${c.what} → ${c.code}`, () => runCase(c));
});

describe('mach_port_* calls and mailboxes: bad input is refused and changes nothing', () => {
  for (const c of portCases) it(`${c.what} → ${c.code}`, () => runCase(c));
});
