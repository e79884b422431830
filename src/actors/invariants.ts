import { PortType, ReceivedRight } from '../protocol/rights.ts';
import type { IpcKernel } from './ipcKernel.ts';
import type { KMsg } from './kmsg.ts';
import type { Port } from './port.ts';

/**
 * Checks the kernel's right accounting against a full walk of every space and message: each live
 * port's send and send-once counts equal the rights that exist, every name maps consistently,
 * user references are in range. Returns the list of violations (empty when consistent).
 */
export function checkIpcInvariants(k: IpcKernel): string[] {
  const problems: string[] = [];
  const send = new Map<Port, number>();
  const sendOnce = new Map<Port, number>();
  const bump = (m: Map<Port, number>, p: Port) => m.set(p, (m.get(p) ?? 0) + 1);
  const receivers = new Map<Port, number>();
  for (const space of k.spaces) {
    for (const [name, e] of space.entries) {
      if (e.name !== name) problems.push(`${space.label}: entry ${name} records name ${e.name}`);
      if (e.bits === 0) problems.push(`${space.label}: name ${name} denotes nothing but is kept`);
      const p = e.port;
      if (e.bits & (PortType.SEND | PortType.DEAD_NAME) && (e.urefs < 1 || e.urefs > 0xffff)) {
        problems.push(`${space.label}: name ${name} has ${e.urefs} user references`);
      }
      if (p === null) continue;
      if (p.dead) continue; // a lazily converted dead name
      if (e.bits & PortType.SEND) bump(send, p);
      if (e.bits & PortType.SEND_ONCE) bump(sendOnce, p);
      if (e.bits & PortType.RECEIVE) {
        bump(receivers, p);
        if (p.receiver !== space)
          problems.push(
            `${space.label}: holds the receive right of ${p.label} but the port says ${p.receiver?.label ?? 'nobody'}`,
          );
      }
      if (e.bits & (PortType.SEND | PortType.RECEIVE) && space.byPort.get(p) !== e) {
        problems.push(`${space.label}: name ${name} for ${p.label} is not its send/receive name`);
      }
      if (e.dnRequest !== null) bump(sendOnce, e.dnRequest);
    }
    for (const [p, e] of space.byPort) {
      if (space.entries.get(e.name) !== e)
        problems.push(`${space.label}: stale byPort entry for ${p.label}`);
    }
  }
  const countMsg = (m: KMsg) => {
    if (m.destRight === ReceivedRight.PORT_SEND) bump(send, m.dest);
    else bump(sendOnce, m.dest);
    const rights = m.reply ? [m.reply, ...m.body] : m.body;
    for (const r of rights) {
      if (!('port' in r) || r.port === null || r.port.dead) continue;
      if (r.right === ReceivedRight.PORT_SEND) bump(send, r.port);
      else if (r.right === ReceivedRight.PORT_SEND_ONCE) bump(sendOnce, r.port);
      else bump(receivers, r.port);
    }
  };
  for (const p of k.ports) {
    for (let i = p.head; i < p.queue.length; i++) countMsg(p.queue[i]!);
    for (const w of p.senders ?? []) countMsg(w.kmsg);
    if (p.nsRequest) bump(sendOnce, p.nsRequest.notify);
    if (p.pdRequest) bump(sendOnce, p.pdRequest);
  }
  for (const p of k.ports) {
    const s = send.get(p) ?? 0;
    const so = sendOnce.get(p) ?? 0;
    if (p.srights !== s)
      problems.push(`${p.label}: srights ${p.srights} but ${s} send rights exist`);
    if (p.sorights !== so)
      problems.push(`${p.label}: sorights ${p.sorights} but ${so} send-once rights exist`);
    const r = receivers.get(p) ?? 0;
    if (r !== 1) problems.push(`${p.label}: ${r} receive rights exist (exactly one expected)`);
  }
  return problems;
}
