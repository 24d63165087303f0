// Thin RAII layer over the HDF5 C API for the files neurop reads and writes:
// data sets, checkpoints and results. Errors are thrown as FileError with the file
// and object names; HDF5's own error printing is switched off so the library stays
// silent.
//
// Data sets are stored row-major with their natural shapes, as h5py reads them.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "lib/io/temporary_files.hpp"

namespace neurop::h5 {

using Shape = std::vector<std::int64_t>;

enum class ElementType { f32, f64, i64, other };

class File {
public:
  // Creates (truncates) a file for writing.
  static File create(const std::filesystem::path& path);
  // Opens an existing file. Throws FileError when it is missing, not HDF5, truncated
  // or corrupt (including damage that only shows when the root group is read), or
  // locked by another process.
  static File open(const std::filesystem::path& path, bool writable = false);

  File(File&& other) noexcept;
  File& operator=(File&& other) noexcept;
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  ~File();

  const std::filesystem::path& path() const { return path_; }

  // True when a data set or group `name` (a path such as "params/w0") exists.
  bool exists(const std::string& name) const;
  // Creates group `name` and any missing parents.
  void create_group(const std::string& name);
  // Names of the direct children of group `group`.
  std::vector<std::string> list(const std::string& group = "/") const;

  // Data sets. `data` holds prod(shape) values in row-major order.
  void write(const std::string& name, const Shape& shape, const double* data);
  void write(const std::string& name, const Shape& shape, const float* data);
  void write(const std::string& name, const Shape& shape, const std::int64_t* data);
  Shape shape(const std::string& name) const;
  ElementType element_type(const std::string& name) const;
  // Reads a numeric data set converted to the requested element type.
  std::vector<double> read_f64(const std::string& name, Shape* shape = nullptr) const;
  std::vector<float> read_f32(const std::string& name, Shape* shape = nullptr) const;
  std::vector<std::int64_t> read_i64(const std::string& name, Shape* shape = nullptr) const;
  // Reads rows [first, first + count) along axis 0, converted to double.
  std::vector<double> read_rows_f64(const std::string& name, std::int64_t first, std::int64_t count) const;

  // Attributes on the object `object` ("/" for the file itself).
  void set_attribute(const std::string& object, const std::string& key, const std::string& value);
  void set_attribute(const std::string& object, const std::string& key, double value);
  void set_attribute(const std::string& object, const std::string& key, std::int64_t value);
  void set_attribute(const std::string& object, const std::string& key, const std::vector<double>& value);
  bool has_attribute(const std::string& object, const std::string& key) const;
  std::string attribute_string(const std::string& object, const std::string& key) const;
  double attribute_f64(const std::string& object, const std::string& key) const;
  std::int64_t attribute_i64(const std::string& object, const std::string& key) const;
  std::vector<double> attribute_f64_vector(const std::string& object, const std::string& key) const;

  // Flushes and closes the file; further use throws. Called by the destructor.
  void close();

private:
  File(std::int64_t id, std::filesystem::path path) : id_(id), path_(std::move(path)) {}
  std::int64_t id_ = -1;
  std::filesystem::path path_;
};

// Writes a file under a temporary name (`path` + ".tmp-HOST-PID-N") in the same folder
// and renames it to `path` on commit(), so readers never see a half-written file. If
// commit() is not called because of an exception, the destructor deletes the temporary
// file and any existing file at `path` is left untouched. A signal ends the process
// without running destructors, so the temporary file is deleted on SIGINT and SIGTERM
// only after remove_temporary_files_on_signal() was called (temporary_files.hpp). The
// constructor first deletes temporary files of `path` that dead processes of this
// host left behind (remove_stale_temporary_files).
class AtomicWriter {
public:
  explicit AtomicWriter(std::filesystem::path path);
  AtomicWriter(const AtomicWriter&) = delete;
  AtomicWriter& operator=(const AtomicWriter&) = delete;
  ~AtomicWriter();

  File& file() { return file_; }
  const std::filesystem::path& temporary_path() const { return temporary_path_; }
  // Closes the file and renames it over `path`.
  void commit();

private:
  std::filesystem::path path_;
  std::filesystem::path temporary_path_;
  TemporaryFileRegistration registration_;  // constructed before file_ creates the file
  File file_;
  bool committed_ = false;
};

// Renames `from` over `to` after flushing; used for any file written atomically.
void replace_file(const std::filesystem::path& from, const std::filesystem::path& to);

}  // namespace neurop::h5
