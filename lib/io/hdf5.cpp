#include "lib/io/hdf5.hpp"

#include <hdf5.h>

#include <cstdio>
#include <numeric>
#include <system_error>

#include "lib/core/error.hpp"

namespace neurop::h5 {
namespace {

static_assert(sizeof(hid_t) == sizeof(std::int64_t), "hid_t is expected to be 64-bit (HDF5 >= 1.10)");

// HDF5 prints its error stack to stderr by default; the library must stay silent,
// so the automatic printing is switched off once, before the first call.
void silence_hdf5() {
  static const bool done = [] {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)done;
}

// Owns one HDF5 identifier and closes it with the matching H5*close function.
class Handle {
public:
  using Closer = herr_t (*)(hid_t);
  Handle(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  Handle(Handle&& other) noexcept : id_(other.id_), closer_(other.closer_) { other.id_ = -1; }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  Handle& operator=(Handle&&) = delete;
  ~Handle() {
    if (id_ >= 0) closer_(id_);
  }
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }

private:
  hid_t id_;
  Closer closer_;
};

std::string describe(const std::filesystem::path& path, const std::string& name) {
  return fmt::format("'{}' in file '{}'", name, path.string());
}

hid_t native_type(ElementType type) {
  switch (type) {
    case ElementType::f32: return H5T_NATIVE_FLOAT;
    case ElementType::f64: return H5T_NATIVE_DOUBLE;
    case ElementType::i64: return H5T_NATIVE_INT64;
    default: return -1;
  }
}

// Formats the error for a read that fails after the file opened, which means damaged
// bytes. `item` names what was read, such as "data set 'inputs'".
std::string damaged_file_message(const std::filesystem::path& path, const std::string& item) {
  return fmt::format("cannot read {} of HDF5 file '{}': the file is truncated or corrupt, so regenerate it or "
                     "copy it again",
                     item, path.string());
}

std::int64_t element_count(const Shape& shape) {
  return std::accumulate(shape.begin(), shape.end(), std::int64_t{1}, std::multiplies<>());
}

}  // namespace

File File::create(const std::filesystem::path& path) {
  silence_hdf5();
  const hid_t id = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  NEUROP_CHECK(id >= 0, FileError, "cannot create HDF5 file '{}': check that the folder exists and is writable",
               path.string());
  return File(id, path);
}

File File::open(const std::filesystem::path& path, bool writable) {
  silence_hdf5();
  NEUROP_CHECK(std::filesystem::exists(path), FileError, "file not found: '{}'", path.string());
  NEUROP_CHECK(H5Fis_hdf5(path.c_str()) > 0, FileError,
               "'{}' is not a readable HDF5 file: it is truncated, corrupt or in another format; regenerate the "
               "file or copy it again",
               path.string());
  const hid_t id = H5Fopen(path.c_str(), writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY, H5P_DEFAULT);
  NEUROP_CHECK(id >= 0, FileError,
               "cannot open HDF5 file '{}': it is truncated or corrupt (for example by an interrupted write or "
               "copy), or another process has it open for writing; regenerate the file or copy it again, or wait "
               "for the other process to finish",
               path.string());
  File file(id, path);
  // A file whose header survived but whose later bytes are damaged opens without
  // error, so read the root group's link table here to report it as damaged rather
  // than as a missing object later.
  Handle root(H5Gopen2(id, "/", H5P_DEFAULT), H5Gclose);
  H5G_info_t root_info;
  NEUROP_CHECK(root.valid() && H5Gget_info(root.get(), &root_info) >= 0, FileError, "{}",
               damaged_file_message(path, "the root group"));
  return file;
}

File::File(File&& other) noexcept : id_(other.id_), path_(std::move(other.path_)) { other.id_ = -1; }

File& File::operator=(File&& other) noexcept {
  if (this != &other) {
    close();
    id_ = other.id_;
    path_ = std::move(other.path_);
    other.id_ = -1;
  }
  return *this;
}

File::~File() { close(); }

void File::close() {
  if (id_ >= 0) {
    H5Fflush(id_, H5F_SCOPE_LOCAL);
    H5Fclose(id_);
    id_ = -1;
  }
}

bool File::exists(const std::string& name) const {
  NEUROP_CHECK(id_ >= 0, FileError, "HDF5 file '{}' is closed", path_.string());
  if (name == "/" || name.empty()) return true;
  // Check every prefix, because H5Lexists fails when an intermediate group is missing.
  std::size_t pos = 0;
  while (true) {
    pos = name.find('/', pos + 1);
    const std::string prefix = name.substr(0, pos);
    if (!prefix.empty() && prefix != "/" && H5Lexists(id_, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    if (pos == std::string::npos) return true;
  }
}

void File::create_group(const std::string& name) {
  if (exists(name)) return;
  Handle plist(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  H5Pset_create_intermediate_group(plist.get(), 1);
  Handle group(H5Gcreate2(id_, name.c_str(), plist.get(), H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
  NEUROP_CHECK(group.valid(), FileError, "cannot create group {}", describe(path_, name));
}

std::vector<std::string> File::list(const std::string& group) const {
  NEUROP_CHECK(exists(group), FileError, "group {} not found", describe(path_, group));
  Handle handle(H5Gopen2(id_, group.c_str(), H5P_DEFAULT), H5Gclose);
  NEUROP_CHECK(handle.valid(), FileError, "{} is not a group", describe(path_, group));
  H5G_info_t info;
  H5Gget_info(handle.get(), &info);
  std::vector<std::string> names;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    const ssize_t length =
        H5Lget_name_by_idx(handle.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    std::string name(static_cast<std::size_t>(length), '\0');
    H5Lget_name_by_idx(handle.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size() + 1,
                       H5P_DEFAULT);
    names.push_back(std::move(name));
  }
  return names;
}

namespace {

void write_dataset(hid_t file, const std::filesystem::path& path, const std::string& name, const Shape& shape,
                   hid_t memory_type, const void* data) {
  std::vector<hsize_t> dims(shape.begin(), shape.end());
  for (std::int64_t extent : shape)
    NEUROP_CHECK(extent >= 0, FileError, "negative extent {} for {}", extent, describe(path, name));
  if (H5Lexists(file, name.c_str(), H5P_DEFAULT) > 0) H5Ldelete(file, name.c_str(), H5P_DEFAULT);
  Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
  Handle plist(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  H5Pset_create_intermediate_group(plist.get(), 1);
  Handle dataset(H5Dcreate2(file, name.c_str(), memory_type, space.get(), plist.get(), H5P_DEFAULT, H5P_DEFAULT),
                 H5Dclose);
  NEUROP_CHECK(dataset.valid(), FileError, "cannot create data set {}", describe(path, name));
  if (element_count(shape) == 0) return;
  const herr_t status = H5Dwrite(dataset.get(), memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
  NEUROP_CHECK(status >= 0, FileError, "cannot write data set {} (disk full?)", describe(path, name));
}

}  // namespace

void File::write(const std::string& name, const Shape& shape, const double* data) {
  write_dataset(id_, path_, name, shape, H5T_NATIVE_DOUBLE, data);
}
void File::write(const std::string& name, const Shape& shape, const float* data) {
  write_dataset(id_, path_, name, shape, H5T_NATIVE_FLOAT, data);
}
void File::write(const std::string& name, const Shape& shape, const std::int64_t* data) {
  write_dataset(id_, path_, name, shape, H5T_NATIVE_INT64, data);
}

Shape File::shape(const std::string& name) const {
  NEUROP_CHECK(exists(name), FileError, "data set {} not found", describe(path_, name));
  Handle dataset(H5Dopen2(id_, name.c_str(), H5P_DEFAULT), H5Dclose);
  NEUROP_CHECK(dataset.valid(), FileError, "{} is not a data set", describe(path_, name));
  Handle space(H5Dget_space(dataset.get()), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(space.get());
  NEUROP_CHECK(rank >= 0, FileError, "cannot read the shape of {}", describe(path_, name));
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  return Shape(dims.begin(), dims.end());
}

ElementType File::element_type(const std::string& name) const {
  NEUROP_CHECK(exists(name), FileError, "data set {} not found", describe(path_, name));
  Handle dataset(H5Dopen2(id_, name.c_str(), H5P_DEFAULT), H5Dclose);
  Handle type(H5Dget_type(dataset.get()), H5Tclose);
  const H5T_class_t type_class = H5Tget_class(type.get());
  const std::size_t size = H5Tget_size(type.get());
  if (type_class == H5T_FLOAT && size == 4) return ElementType::f32;
  if (type_class == H5T_FLOAT && size == 8) return ElementType::f64;
  if (type_class == H5T_INTEGER) return ElementType::i64;
  return ElementType::other;
}

namespace {

template <typename T>
std::vector<T> read_dataset(const File& file, hid_t id, const std::string& name, ElementType want, Shape* shape_out) {
  const Shape shape = file.shape(name);
  const ElementType stored = file.element_type(name);
  NEUROP_CHECK(stored != ElementType::other, FileError,
               "data set {} has a non-numeric element type; expected float or integer values",
               describe(file.path(), name));
  Handle dataset(H5Dopen2(id, name.c_str(), H5P_DEFAULT), H5Dclose);
  std::vector<T> values(static_cast<std::size_t>(element_count(shape)));
  if (!values.empty()) {
    const herr_t status = H5Dread(dataset.get(), native_type(want), H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data());
    NEUROP_CHECK(status >= 0, FileError, "{}", damaged_file_message(file.path(), fmt::format("data set '{}'", name)));
  }
  if (shape_out) *shape_out = shape;
  return values;
}

}  // namespace

std::vector<double> File::read_f64(const std::string& name, Shape* shape) const {
  return read_dataset<double>(*this, id_, name, ElementType::f64, shape);
}
std::vector<float> File::read_f32(const std::string& name, Shape* shape) const {
  return read_dataset<float>(*this, id_, name, ElementType::f32, shape);
}
std::vector<std::int64_t> File::read_i64(const std::string& name, Shape* shape) const {
  return read_dataset<std::int64_t>(*this, id_, name, ElementType::i64, shape);
}

std::vector<double> File::read_rows_f64(const std::string& name, std::int64_t first, std::int64_t count) const {
  const Shape shape = this->shape(name);
  NEUROP_CHECK(!shape.empty(), FileError, "data set {} is a scalar; expected at least one axis",
               describe(path_, name));
  NEUROP_CHECK(first >= 0 && count >= 0 && first + count <= shape[0], FileError,
               "rows [{}, {}) requested from {} which has {} rows", first, first + count, describe(path_, name),
               shape[0]);
  Handle dataset(H5Dopen2(id_, name.c_str(), H5P_DEFAULT), H5Dclose);
  Handle file_space(H5Dget_space(dataset.get()), H5Sclose);
  std::vector<hsize_t> start(shape.size(), 0), extent(shape.begin(), shape.end());
  start[0] = static_cast<hsize_t>(first);
  extent[0] = static_cast<hsize_t>(count);
  H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start.data(), nullptr, extent.data(), nullptr);
  Handle memory_space(H5Screate_simple(static_cast<int>(extent.size()), extent.data(), nullptr), H5Sclose);
  Shape row_shape = shape;
  row_shape[0] = count;
  std::vector<double> values(static_cast<std::size_t>(element_count(row_shape)));
  if (!values.empty()) {
    const herr_t status =
        H5Dread(dataset.get(), H5T_NATIVE_DOUBLE, memory_space.get(), file_space.get(), H5P_DEFAULT, values.data());
    NEUROP_CHECK(status >= 0, FileError, "{}",
                 damaged_file_message(path_, fmt::format("rows [{}, {}) of data set '{}'", first, first + count, name)));
  }
  return values;
}

namespace {

// Opens `object` (group or data set) for attribute access.
Handle open_object(hid_t file, const std::filesystem::path& path, const std::string& object) {
  Handle handle(H5Oopen(file, object.c_str(), H5P_DEFAULT), H5Oclose);
  if (handle.valid()) return handle;
  // The root group always exists, and so does an object whose link can be read, so
  // failing to open either means damaged bytes rather than a wrong name.
  const bool linked = object == "/" || H5Lexists(file, object.c_str(), H5P_DEFAULT) > 0;
  NEUROP_CHECK(!linked, FileError, "{}", damaged_file_message(path, fmt::format("object '{}'", object)));
  throw FileError(fmt::format("object {} not found", describe(path, object)));
}

void write_attribute(hid_t file, const std::filesystem::path& path, const std::string& object, const std::string& key,
                     hid_t type, hid_t space, const void* data) {
  Handle target = open_object(file, path, object);
  if (H5Aexists(target.get(), key.c_str()) > 0) H5Adelete(target.get(), key.c_str());
  Handle attribute(H5Acreate2(target.get(), key.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  NEUROP_CHECK(attribute.valid() && H5Awrite(attribute.get(), type, data) >= 0, FileError,
               "cannot write attribute '{}' on {}", key, describe(path, object));
}

Handle open_attribute(hid_t file, const std::filesystem::path& path, const std::string& object,
                      const std::string& key) {
  Handle target = open_object(file, path, object);
  NEUROP_CHECK(H5Aexists(target.get(), key.c_str()) > 0, FileError, "attribute '{}' not found on {}", key,
               describe(path, object));
  return Handle(H5Aopen(target.get(), key.c_str(), H5P_DEFAULT), H5Aclose);
}

// Throws for a failed read of a numeric attribute. A stored number that cannot be read
// means damaged bytes, and any other stored type means the wrong kind of attribute.
void check_numeric_read(herr_t status, hid_t attribute, const std::filesystem::path& path, const std::string& object,
                        const std::string& key, const char* expected) {
  if (status >= 0) return;
  Handle type(H5Aget_type(attribute), H5Tclose);
  const H5T_class_t type_class = type.valid() ? H5Tget_class(type.get()) : H5T_NO_CLASS;
  NEUROP_CHECK(type_class != H5T_INTEGER && type_class != H5T_FLOAT, FileError, "{}",
               damaged_file_message(path, fmt::format("attribute '{}' on object '{}'", key, object)));
  throw FileError(fmt::format("cannot read attribute '{}' on {} as {}", key, describe(path, object), expected));
}

}  // namespace

void File::set_attribute(const std::string& object, const std::string& key, const std::string& value) {
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.get(), H5T_VARIABLE);
  H5Tset_cset(type.get(), H5T_CSET_UTF8);
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  const char* text = value.c_str();
  write_attribute(id_, path_, object, key, type.get(), space.get(), &text);
}

void File::set_attribute(const std::string& object, const std::string& key, double value) {
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  write_attribute(id_, path_, object, key, H5T_NATIVE_DOUBLE, space.get(), &value);
}

void File::set_attribute(const std::string& object, const std::string& key, std::int64_t value) {
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  write_attribute(id_, path_, object, key, H5T_NATIVE_INT64, space.get(), &value);
}

void File::set_attribute(const std::string& object, const std::string& key, const std::vector<double>& value) {
  const hsize_t count = value.size();
  Handle space(H5Screate_simple(1, &count, nullptr), H5Sclose);
  write_attribute(id_, path_, object, key, H5T_NATIVE_DOUBLE, space.get(), value.data());
}

bool File::has_attribute(const std::string& object, const std::string& key) const {
  if (!exists(object)) return false;
  Handle target = open_object(id_, path_, object);
  return H5Aexists(target.get(), key.c_str()) > 0;
}

std::string File::attribute_string(const std::string& object, const std::string& key) const {
  Handle attribute = open_attribute(id_, path_, object, key);
  Handle type(H5Aget_type(attribute.get()), H5Tclose);
  NEUROP_CHECK(H5Tget_class(type.get()) == H5T_STRING, FileError, "attribute '{}' on {} is not a string", key,
               describe(path_, object));
  // The type is a string, so a failed read means damaged bytes.
  const std::string item = fmt::format("attribute '{}' on object '{}'", key, object);
  if (H5Tis_variable_str(type.get()) > 0) {
    Handle memory_type(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(memory_type.get(), H5T_VARIABLE);
    H5Tset_cset(memory_type.get(), H5Tget_cset(type.get()));
    char* text = nullptr;
    NEUROP_CHECK(H5Aread(attribute.get(), memory_type.get(), &text) >= 0, FileError, "{}",
                 damaged_file_message(path_, item));
    std::string value = text ? text : "";
    Handle space(H5Aget_space(attribute.get()), H5Sclose);
    H5Dvlen_reclaim(memory_type.get(), space.get(), H5P_DEFAULT, &text);
    return value;
  }
  const std::size_t size = H5Tget_size(type.get());
  std::string value(size, '\0');
  NEUROP_CHECK(H5Aread(attribute.get(), type.get(), value.data()) >= 0, FileError, "{}",
               damaged_file_message(path_, item));
  value.resize(std::char_traits<char>::length(value.c_str()));
  return value;
}

double File::attribute_f64(const std::string& object, const std::string& key) const {
  Handle attribute = open_attribute(id_, path_, object, key);
  double value = 0;
  check_numeric_read(H5Aread(attribute.get(), H5T_NATIVE_DOUBLE, &value), attribute.get(), path_, object, key,
                     "a number");
  return value;
}

std::int64_t File::attribute_i64(const std::string& object, const std::string& key) const {
  Handle attribute = open_attribute(id_, path_, object, key);
  std::int64_t value = 0;
  check_numeric_read(H5Aread(attribute.get(), H5T_NATIVE_INT64, &value), attribute.get(), path_, object, key,
                     "an integer");
  return value;
}

std::vector<double> File::attribute_f64_vector(const std::string& object, const std::string& key) const {
  Handle attribute = open_attribute(id_, path_, object, key);
  Handle space(H5Aget_space(attribute.get()), H5Sclose);
  const hssize_t count = H5Sget_simple_extent_npoints(space.get());
  std::vector<double> values(static_cast<std::size_t>(count));
  check_numeric_read(H5Aread(attribute.get(), H5T_NATIVE_DOUBLE, values.data()), attribute.get(), path_, object, key,
                     "numbers");
  return values;
}

void replace_file(const std::filesystem::path& from, const std::filesystem::path& to) {
  std::error_code error;
  std::filesystem::rename(from, to, error);
  NEUROP_CHECK(!error, FileError, "cannot rename '{}' to '{}': {}", from.string(), to.string(), error.message());
}

namespace {

// Deletes the temporary files that dead processes left for `path`, then returns the
// temporary name for this write.
std::filesystem::path start_temporary_file(const std::filesystem::path& path) {
  remove_stale_temporary_files(path);
  return temporary_path_for(path);
}

}  // namespace

AtomicWriter::AtomicWriter(std::filesystem::path path)
    : path_(std::move(path)),
      temporary_path_(start_temporary_file(path_)),
      registration_(temporary_path_),
      file_(File::create(temporary_path_)) {}

AtomicWriter::~AtomicWriter() {
  if (!committed_) {
    file_.close();
    std::error_code ignored;
    std::filesystem::remove(temporary_path_, ignored);
  }
}

void AtomicWriter::commit() {
  file_.close();
  replace_file(temporary_path_, path_);
  committed_ = true;
}

}  // namespace neurop::h5
