import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { type AssembleOptions, assemble, type Includer } from './assembler.ts';
import type { Image } from './image.ts';

/**
 * Program sources on disk (kept out of assembler.ts, which needs no file system).
 */

/**
 * An `.include` resolver reading files relative to the including file's directory; a relative
 * name of the including file (the assembler's `fileName`) is taken from `baseDir`.
 */
export function fileIncluder(baseDir: string = process.cwd()): Includer {
  return (path, from) => {
    const file = resolve(baseDir, dirname(from), path);
    try {
      return readFileSync(file, 'utf8');
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new Error(err.code === 'ENOENT' ? `no such file ${file}` : err.message);
    }
  };
}

/** Assembles the file at `path` (its name in errors); its `.include`s are read relative to it. */
export function assembleFile(path: string, options: Omit<AssembleOptions, 'fileName'> = {}): Image {
  return assemble(readFileSync(path, 'utf8'), {
    include: fileIncluder(),
    ...options,
    fileName: path,
  });
}
