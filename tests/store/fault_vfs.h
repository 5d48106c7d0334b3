// A fault-injecting SQLite VFS for tests: it forwards every call to the
// default (unix) VFS, and on demand makes xSync fail (as an fsync error would)
// or xWrite fail with "disk full". The database itself is real; only the
// operating system's answers are replaced, to prove that a commit that did not
// reach the disk is never acknowledged.
//
// Thread-safety: the switches are atomics; Register is idempotent and
// thread-safe.
#pragma once

namespace gm::store::testing {

// Registers the VFS (once) and returns its name, for SqliteInternalOptions::vfs.
const char* FaultVfsName();
void FaultVfsFailSyncs(bool fail);
void FaultVfsFailWrites(bool fail);

}  // namespace gm::store::testing
