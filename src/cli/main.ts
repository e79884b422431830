export async function main(argv: string[]): Promise<number> {
  console.log('xmach', argv.join(' '));
  return 0;
}
