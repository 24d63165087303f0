// Bookkeeping of the temporary files that h5::AtomicWriter writes, so that an
// interrupted process can delete them instead of leaving `name.tmp-HOST-PID-N` behind.
#pragma once

#include <filesystem>

namespace neurop::h5 {

// Installs handlers for SIGINT and SIGTERM that delete every temporary file an
// AtomicWriter is writing at that moment. The handler then restores the default action
// and raises the signal again, so the process still ends as killed by that signal
// (exit status 130 or 143 in a shell).
//
// The library never installs handlers by itself, because they belong to the host
// program: the `neurop` program calls this at start-up, and a program that embeds the
// library may call it when it has no handlers of its own for these signals. A signal
// whose action is not the default at the time of the call (ignored, or handled by
// the host) keeps its action. Call it from the main thread before other threads start.
// Calling it again has no further effect.
//
// NOTE: at most 64 temporary files at a time, each with a path of fewer than 4096
// bytes, are tracked. A file beyond that is still written and renamed as usual, but a
// signal does not delete it. SIGKILL cannot be handled and leaves the temporary file in
// place until the next write of the same file (remove_stale_temporary_files).
void remove_temporary_files_on_signal();

// Returns a new temporary name for writing `path`: `path` + ".tmp-HOST-PID-N", where
// HOST is this machine's host name, PID the process id and N counts the names this
// process made. The name is unique among running processes on hosts that share the folder.
std::filesystem::path temporary_path_for(const std::filesystem::path& path);

// Deletes the temporary files of `path` left behind by processes of this host that no
// longer run, for example after SIGKILL or a crash. It deletes only names of the form
// temporary_path_for makes, with this host's name and the id of no existing process.
// Files of other hosts, of running processes and of processes owned by other users
// are kept. Errors (an unreadable folder, a file that cannot be deleted) are ignored,
// because the write itself does not depend on them.
// NOTE: a stale file whose process id was reused by a new process is kept until that
// process ends.
void remove_stale_temporary_files(const std::filesystem::path& path);

// Tracks one temporary file for the handlers above, from construction to destruction.
// Construct it before the file is created and destroy it after the file is renamed or
// deleted. Deleting a path that was already renamed is harmless, because temporary
// names are unique to the process.
class TemporaryFileRegistration {
public:
  explicit TemporaryFileRegistration(const std::filesystem::path& path);
  TemporaryFileRegistration(const TemporaryFileRegistration&) = delete;
  TemporaryFileRegistration& operator=(const TemporaryFileRegistration&) = delete;
  ~TemporaryFileRegistration();

private:
  int slot_ = -1;  // -1 when the path is not tracked
};

}  // namespace neurop::h5
