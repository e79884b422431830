// The README's library example; test/readme-example.test.ts runs it.
import { Cluster, Disposition, dataOf, inlineData, PortRight } from '../../src/index.ts';

export function helloIpc(seed = 1): string[] {
  const cluster = Cluster.paper(seed); // a Pentium 90 and an i486DX 33 on 10 Mbit/s Ethernet
  const ipc = cluster.host('pentium').ipc;
  const server = ipc.createSpace('server');
  const client = ipc.createSpace('client');
  const port = ipc.allocate(server, PortRight.RECEIVE, 'greeter');
  ipc.insertRight(client, 0x100, server, port, Disposition.MAKE_SEND); // give the client a send right

  const log: string[] = [];
  const sub = cluster.world.trace.events$.subscribe((e) =>
    log.push(`${e.time.toFixed(3)} ${e.kind}`),
  );
  // The server blocks in receive; the client's message wakes it after the kernel's delivery time.
  ipc.receive(server, port, { timeout: 100 }, (r) => {
    if (r.ok) log.push(`server got ${JSON.stringify(dataOf(r.message))}`);
  });
  ipc.send(client, {
    remotePort: 0x100,
    remoteDisposition: Disposition.COPY_SEND,
    id: 1,
    body: [inlineData({ hello: 'mach' })],
  });
  cluster.world.runUntilIdle();
  sub.unsubscribe();
  return log;
}
