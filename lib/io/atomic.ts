/**
 * Atomic file replacement: write everything to a temporary file in the target's directory, fsync
 * it, rename it over the target, then fsync the directory. A crash or error at any point leaves
 * either the old file or the complete new one under the target name, never a torn mixture; a
 * failure removes the temporary file and rethrows the original error.
 *
 * The temporary file lives in the same directory because rename(2) is only atomic within one
 * filesystem. Its name carries the pid and a random suffix so that concurrent writers (threads,
 * processes, cluster workers) never share one.
 */
import * as fs from 'fs';
import * as path from 'path';
import { randomBytes } from 'crypto';
import { invalidArg } from '../errors';

/** Largest single write() request; the kernel caps one write at ~2 GiB anyway. */
const MAX_WRITE = 1 << 30;

// The intrinsic %TypedArray%.prototype[@@toStringTag] getter reads the internal type slot, so it
// recognises typed arrays from any realm (Node's Buffer inside jest's vm context, for one) and
// cannot be fooled by an object that merely defines Symbol.toStringTag.
const typedArrayTag = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), Symbol.toStringTag)!
  .get as (this: unknown) => string | undefined;

function isUint8Array(v: unknown): v is Uint8Array {
  return typedArrayTag.call(v) === 'Uint8Array';
}

function checkArgs(file: unknown, data: unknown): Uint8Array[] {
  if (typeof file !== 'string' || file.length === 0) throw invalidArg('a non-empty string', 'path', file);
  const chunks = Array.isArray(data) ? data : [data];
  chunks.forEach((c, i) => {
    if (!isUint8Array(c)) throw invalidArg('a Uint8Array', Array.isArray(data) ? `data[${i}]` : 'data', c);
  });
  return chunks as Uint8Array[];
}

/** Follow a symlink so that we replace the file it points to, not the link itself. */
function resolveTarget(file: string): string {
  try {
    return fs.realpathSync(file);
  } catch {
    return path.resolve(file); // does not exist yet (or a dangling link): write the name as given
  }
}

function tempName(target: string): string {
  const dir = path.dirname(target);
  const base = path.basename(target);
  return path.join(dir, `.${base}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
}

/** Mode bits of an existing target, so replacing a file keeps its permissions. */
function existingMode(target: string): number | undefined {
  try {
    return fs.statSync(target).mode & 0o7777;
  } catch {
    return undefined;
  }
}

/**
 * Errors from fsync on a directory that only mean "not supported here" (Windows cannot open a
 * directory as a file; some network and FUSE filesystems reject the call). Anything else, EIO in
 * particular, is a real durability failure and is rethrown.
 */
function dirSyncUnsupported(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException)?.code;
  return process.platform === 'win32' || code === 'EINVAL' || code === 'ENOTSUP' || code === 'EISDIR' ||
    code === 'EPERM' || code === 'EACCES' || code === 'EBADF';
}

function fsyncDirSync(dir: string): void {
  let fd: number;
  try {
    fd = fs.openSync(dir, 'r');
  } catch (e) {
    if (dirSyncUnsupported(e)) return;
    throw e;
  }
  try {
    fs.fsyncSync(fd);
  } catch (e) {
    if (!dirSyncUnsupported(e)) throw e;
  } finally {
    fs.closeSync(fd);
  }
}

async function fsyncDirAsync(dir: string): Promise<void> {
  let fh: fs.promises.FileHandle;
  try {
    fh = await fs.promises.open(dir, 'r');
  } catch (e) {
    if (dirSyncUnsupported(e)) return;
    throw e;
  }
  try {
    await fh.sync();
  } catch (e) {
    if (!dirSyncUnsupported(e)) throw e;
  } finally {
    await fh.close();
  }
}

/**
 * Atomically replace `file` with the concatenation of `data` (one buffer or a list of chunks, so
 * large outputs such as model weights need not be concatenated in memory first).
 */
export function writeFileAtomic(file: string, data: Uint8Array | Uint8Array[]): void {
  const chunks = checkArgs(file, data);
  const target = resolveTarget(file);
  const tmp = tempName(target);
  const mode = existingMode(target);
  let fd = -1;
  try {
    fd = fs.openSync(tmp, 'wx', mode ?? 0o666);
    if (mode !== undefined) fs.fchmodSync(fd, mode); // open()'s mode is filtered by the umask
    for (const chunk of chunks) {
      for (let off = 0; off < chunk.byteLength; ) {
        off += fs.writeSync(fd, chunk, off, Math.min(chunk.byteLength - off, MAX_WRITE));
      }
    }
    fs.fsyncSync(fd);
    const closing = fd;
    fd = -1;
    fs.closeSync(closing);
    fs.renameSync(tmp, target);
  } catch (e) {
    if (fd >= 0) {
      try { fs.closeSync(fd); } catch { /* already failing; keep the original error */ }
    }
    try { fs.unlinkSync(tmp); } catch { /* never created, or already renamed */ }
    throw e;
  }
  // The new contents are now visible under the target name; syncing the directory makes the
  // rename itself survive a power loss.
  fsyncDirSync(path.dirname(target));
}

/** Promise-returning variant of {@link writeFileAtomic}; the event loop stays free while it writes. */
export async function writeFileAtomicAsync(file: string, data: Uint8Array | Uint8Array[]): Promise<void> {
  const chunks = checkArgs(file, data);
  const target = resolveTarget(file);
  const tmp = tempName(target);
  const mode = existingMode(target);
  let fh: fs.promises.FileHandle | undefined;
  try {
    fh = await fs.promises.open(tmp, 'wx', mode ?? 0o666);
    if (mode !== undefined) await fh.chmod(mode);
    for (const chunk of chunks) {
      for (let off = 0; off < chunk.byteLength; ) {
        const { bytesWritten } = await fh.write(chunk, off, Math.min(chunk.byteLength - off, MAX_WRITE));
        off += bytesWritten;
      }
    }
    await fh.sync();
    const closing = fh;
    fh = undefined;
    await closing.close();
    await fs.promises.rename(tmp, target);
  } catch (e) {
    if (fh) {
      try { await fh.close(); } catch { /* keep the original error */ }
    }
    try { await fs.promises.unlink(tmp); } catch { /* never created, or already renamed */ }
    throw e;
  }
  await fsyncDirAsync(path.dirname(target));
}
